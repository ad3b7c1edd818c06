#!/usr/bin/env python3
"""Runs the end-to-end tests of the example programs.

    python3 tests/e2e/run.py [--bin DIR] [MODULE_OR_TEST ...]

--bin names the directory holding tcp_keepalive_client and
tcp_keepalive_server (default: build/bin). With no names, runs every module:
test_programs (loopback, anyone), test_namespaces and test_deadline (root and
`ip netns`; skipped with the reason otherwise). Exits non-zero when a test
fails.
"""

import argparse
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", help="directory of the two programs (default: build/bin)")
    parser.add_argument("names", nargs="*",
                        default=["test_programs", "test_namespaces", "test_deadline"])
    args = parser.parse_args()
    if args.bin:
        os.environ["KAT_BIN"] = os.path.abspath(args.bin)
    sys.path.insert(0, HERE)
    import common  # noqa: E402  (reads KAT_BIN)
    print(f"== e2e: testing the programs in {common.BIN}", file=sys.stderr, flush=True)
    suite = unittest.defaultTestLoader.loadTestsFromNames(args.names)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
