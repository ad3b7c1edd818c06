#!/usr/bin/env python3
"""Runs the `keepalive cgroup` tests (test_cgroup.py).

    python3 tests/cgroup/run.py --keepalive build/bin/keepalive --probes DIR --preload LIB [TEST ...]

Needs root, a cgroup v2 hierarchy, bpftool and a kernel that loads the
programs; where one is missing every test is skipped with the reason, and
with CI=true that is a failure instead. Mounts the BPF filesystem at
/sys/fs/bpf when none is mounted (as systemd does at boot), and unmounts it
again at the end.
"""

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def why_not():
    """None when the tests can run here, else why not."""
    if os.geteuid() != 0:
        return "needs root (loading BPF programs and making cgroups), as CI runs it"
    if not any(line.split()[2] == "cgroup2" for line in open("/proc/mounts")):
        return "no cgroup v2 hierarchy is mounted (see /proc/mounts)"
    if shutil.which("bpftool") is None:
        return "bpftool is missing"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "the kernel has no BTF (/sys/kernel/btf/vmlinux)"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keepalive", required=True, help="the operator's tool")
    parser.add_argument("--probes", required=True)
    parser.add_argument("--preload", default="")
    parser.add_argument("names", nargs="*", default=["test_cgroup", "test_hardening"])
    args = parser.parse_args()
    os.environ["KAC_CTL"] = shlex.join([os.path.abspath(args.keepalive), "cgroup"])
    os.environ["KAC_PROBES"] = os.path.abspath(args.probes)
    os.environ["KAC_PRELOAD"] = os.path.abspath(args.preload) if args.preload else ""
    reason = why_not()
    if reason:
        if os.environ.get("CI") == "true":
            print(f"test-cgroup: FAIL: {reason}, and CI=true", file=sys.stderr)
            return 1
        print(f"test-cgroup: SKIP every test: {reason}", file=sys.stderr)
        print("0 passed, 0 failed, 1 skipped")
        return 0
    mounted = False
    if not any(line.split()[2] == "bpf" for line in open("/proc/mounts")):
        print("test-cgroup: mounting the BPF filesystem at /sys/fs/bpf (none was mounted)",
              file=sys.stderr)
        subprocess.run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"], check=True)
        mounted = True
    try:
        sys.path.insert(0, HERE)
        suite = unittest.defaultTestLoader.loadTestsFromNames(args.names)
        result = unittest.TextTestRunner(verbosity=2).run(suite)
    finally:
        if mounted:
            subprocess.run(["umount", "/sys/fs/bpf"], check=False)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
