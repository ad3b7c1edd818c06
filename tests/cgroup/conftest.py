"""What every `keepalive cgroup` test needs (test_cgroup.py,
test_hardening.py): root, a cgroup v2 hierarchy, bpftool and a kernel with
BTF; where one is missing every test is skipped saying why (a failure under
CI=true). Mounts the BPF filesystem at /sys/fs/bpf when none is mounted (as
systemd does at boot), and unmounts it again at the end."""

import subprocess
import sys

import pytest

from support import host, skips


def why_not():
    """None when the tests can run here, else why not."""
    return skips.first(host.why_no_root("loading BPF programs and making cgroups"),
                       host.why_no_cgroup2(),
                       host.why_no_command("bpftool", "bpftool"),
                       host.why_no_btf())


@pytest.fixture(scope="session", autouse=True)
def cgroup_host():
    skips.require(why_not())
    mounted = not host.mounts_of("bpf")
    if mounted:
        print("test-cgroup: mounting the BPF filesystem at /sys/fs/bpf (none was mounted)",
              file=sys.stderr)
        subprocess.run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"], check=True)
    yield
    if mounted:
        subprocess.run(["umount", "/sys/fs/bpf"], check=False)
