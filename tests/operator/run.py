#!/usr/bin/env python3
"""Runs the operator tool's end-to-end tests.

    python3 tests/operator/run.py [--build DIR] [MODULE_OR_TEST ...]

--build names the staged prefix holding bin/keepalive, include/, lib/ and
wheels/ (default: build). With no names, runs every module: test_tool
(loopback), test_retune (network namespaces and another user: root),
test_defaults (the system defaults, in fresh network namespaces: root) and
test_hardening (many sockets, escape sequences in names).
What cannot run here is skipped with the reason; with CI=true it fails.
"""

import argparse
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", help="the staged prefix (default: build)")
    parser.add_argument("names", nargs="*", default=["test_tool", "test_retune", "test_defaults",
                                                       "test_hardening"])
    args = parser.parse_args()
    if args.build:
        os.environ["KAT_BUILD"] = os.path.abspath(args.build)
    sys.path.insert(0, HERE)
    import oplib  # noqa: E402  (reads KAT_BUILD)
    print(f"== operator: testing {oplib.KEEPALIVE}", file=sys.stderr, flush=True)
    suite = unittest.defaultTestLoader.loadTestsFromNames(args.names)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print(f"{passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
