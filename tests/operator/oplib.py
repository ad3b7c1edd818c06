"""What the operator tests share: where the tool is, running it, the target
programs (prog.py) as netlab processes, and the reasons to skip.

netlab.py is reused from tests/e2e, read-only, by path.
"""

import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))

import netlab  # noqa: E402  (from tests/e2e, by path)

#: The staged prefix (run.py --build sets it).
BUILD = os.environ.get("KAT_BUILD", os.path.join(TOP, "build"))
KEEPALIVE = os.path.join(BUILD, "bin", "keepalive")
PROG = os.path.join(HERE, "prog.py")
PYTHON = sys.executable or "python3"
#: CI runs as root on a machine with namespaces: a missing lab is a broken
#: setup there, not a reason to skip.
ON_CI = os.environ.get("CI") == "true"
#: Runs a command as nobody, with no supplementary groups.
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

if not os.access(KEEPALIVE, os.X_OK):
    raise RuntimeError(f"{KEEPALIVE} is missing: run `make build-tool` first")


def report(text):
    """Prints a measurement beside the test's name, as it happens."""
    print(f"    {text}", file=sys.stderr, flush=True)


def assert_near(testcase, measured, expected, tolerance, what):
    report(f"{what}: {measured:.3f} s (expected {expected:g} s +/- {tolerance:g} s)")
    testcase.assertLessEqual(abs(measured - expected), tolerance,
                             f"{what}: {measured:.3f} s, expected {expected} +/- {tolerance} s")


def must_run(reason):
    """The reason to skip, or None; on CI a reason is a failure."""
    if reason and ON_CI:
        raise RuntimeError(f"CI=true but the operator tests cannot run: {reason}")
    return reason


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


def why_no_nobody():
    """None when the tests can run commands as nobody (root and setpriv)."""
    if os.geteuid() != 0:
        return "needs root to run the tool as another user (run as root, as CI does)"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is missing"
    return None


def tool(*args, prefix=(), env=None, columns=None, timeout=60):
    """Runs the tool; returns the CompletedProcess (text)."""
    full_env = dict(os.environ if env is None else env)
    full_env.pop("COLUMNS", None)
    if columns is not None:
        full_env["COLUMNS"] = str(columns)
    return subprocess.run([*prefix, KEEPALIVE, *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, stdin=subprocess.DEVNULL)


def tool_json(testcase, *args, prefix=()):
    done = tool(*args, "--json", prefix=prefix)
    testcase.assertEqual(done.returncode, 0, f"keepalive {' '.join(args)} --json: {done.stderr}")
    return json.loads(done.stdout)


def fields(line):
    """key=value words of a line, as a dict."""
    return dict(re.findall(r"(\w+)=(\S+)", line))


class Target:
    """A prog.py program (a netlab.Proc), with what its ready line said."""

    def __init__(self, proc):
        self.proc = proc
        m, _ = proc.expect(r"^ready ")
        self.ready = fields(m.string)
        self.pid = int(self.ready["pid"])

    def fd(self, name):
        return int(self.ready[name])

    def options(self):
        """{fd: its own getsockopt values}, as the program itself reads them."""
        self.proc.signal(signal.SIGUSR1)
        found = {}
        while True:
            m, _ = self.proc.expect(r"^sockopts (done|fd=(\d+) (.*))$")
            if m.group(1) == "done":
                return found
            found[int(m.group(2))] = json.loads(m.group(3))

    def stop(self):
        self.proc.stop()


def start(mode, *args, prefix=(), name=None, prog=PROG):
    """Starts prog.py MODE ARGS here (no namespace); returns its Target."""
    return Target(netlab.Proc(name or mode, [*prefix, PYTHON, prog, mode, *args]))


def start_in(lab, role, mode, *args):
    """Starts prog.py in a lab namespace; returns its Target (stopped by the lab)."""
    return Target(lab.start(role, [PYTHON, PROG, mode, *args], name=f"{role}:{mode}"))


def system_defaults():
    """This namespace's (idle, interval, count), from /proc."""
    return tuple(int(open(f"/proc/sys/net/ipv4/tcp_keepalive_{n}").read())
                 for n in ("time", "intvl", "probes"))


class Copies:
    """The tool and prog.py copied where any user may run them (the tree may
    sit under a directory only root can enter)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="keepalive-op-")
        os.chmod(self.dir, 0o755)
        self.keepalive = os.path.join(self.dir, "keepalive")
        self.prog = os.path.join(self.dir, "prog.py")
        shutil.copy(KEEPALIVE, self.keepalive)
        shutil.copy(PROG, self.prog)
        os.chmod(self.keepalive, 0o755)
        os.chmod(self.prog, 0o644)

    def run(self, *args, prefix=()):
        return subprocess.run([*prefix, self.keepalive, *args], capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)
