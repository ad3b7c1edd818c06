"""Why this machine cannot run a kind of test: each function returns None
when it can, else the reason, in words a person acts on. What to do with a
reason is skips.py's rule; labs of network namespaces say theirs in
netlab.why_no_lab and natlab.why_no_natlab."""

import os
import platform
import re
import shutil


def why_no_root(what):
    """None as root, else "needs root (WHAT)"."""
    if os.geteuid() != 0:
        return f"needs root ({what}); run as root, as CI does"
    return None


def why_no_command(command, package):
    """None when command is on PATH, else which package brings it."""
    if shutil.which(command) is None:
        return f"{command} ({package}) is missing"
    return None


def why_no_btf():
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "the kernel has no BTF (/sys/kernel/btf/vmlinux)"
    return None


def mounts_of(fstype):
    """The mount points of that filesystem type, from /proc/mounts."""
    with open("/proc/mounts") as f:
        return [fields[1] for fields in map(str.split, f) if fields[2] == fstype]


def why_no_cgroup2():
    if not mounts_of("cgroup2"):
        return "no cgroup v2 hierarchy is mounted (see /proc/mounts)"
    return None


def why_no_pidfd_getfd():
    """None when this kernel has pidfd_getfd (Linux 5.6), else why not."""
    m = re.match(r"(\d+)\.(\d+)", platform.release())
    if m and (int(m.group(1)), int(m.group(2))) < (5, 6):
        return f"pidfd_getfd needs Linux 5.6, this is {platform.release()}"
    return None


def why_no_sibling_ptrace():
    """None when this user may take a sibling process's descriptors."""
    reason = why_no_pidfd_getfd()
    if reason or os.geteuid() == 0:
        return reason
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            scope = int(f.read())
    except OSError:
        return None
    if scope >= 1:
        return f"Yama's ptrace_scope is {scope}: only root may take a sibling's sockets"
    return None


#: Runs a command as nobody, with no supplementary groups.
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def why_no_nobody():
    """None when the tests can run commands as nobody (root and setpriv)."""
    return (why_no_root("to run a command as another user")
            or why_no_command("setpriv", "util-linux"))
