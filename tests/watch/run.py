#!/usr/bin/env python3
"""Runs the `keepalive watch` tests (test_watch.py).

    python3 tests/watch/run.py --keepalive build/bin/keepalive [TEST ...]

Needs root, network namespaces (ip netns), nft and a kernel with BTF; where
one is missing every test is skipped with the reason, and with CI=true that
is a failure instead.
"""

import argparse
import os
import shlex
import shutil
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import netlab  # noqa: E402


def why_not():
    """None when the tests can run here, else why not."""
    if os.geteuid() != 0:
        return "needs root (a BPF program on a tracepoint, network namespaces), as CI runs it"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "the kernel has no BTF (/sys/kernel/btf/vmlinux)"
    if shutil.which("nft") is None:
        return "nft (nftables) is missing: it cuts a host off"
    return netlab.why_no_lab()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keepalive", required=True, help="the operator's tool")
    parser.add_argument("names", nargs="*", default=["test_watch"])
    args = parser.parse_args()
    os.environ["KAW_KEEPALIVE"] = shlex.join([os.path.abspath(args.keepalive)])
    reason = why_not()
    if reason:
        if os.environ.get("CI") == "true":
            print(f"test-watch: FAIL: {reason}, and CI=true", file=sys.stderr)
            return 1
        print(f"test-watch: SKIP every test: {reason}", file=sys.stderr)
        print("0 passed, 0 failed, 1 skipped")
        return 0
    sys.path.insert(0, HERE)
    suite = unittest.defaultTestLoader.loadTestsFromNames(args.names)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    print(f"{result.testsRun - failed - skipped} passed, {failed} failed, {skipped} skipped",
          flush=True)
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
