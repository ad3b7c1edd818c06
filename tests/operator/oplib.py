"""What the operator tests share: where the tool is, running it, and the
target programs (prog.py) as support.proc processes."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

from support import built
from support.proc import Proc

HERE = os.path.dirname(os.path.abspath(__file__))
#: The staged prefix (the runner's --build).
BUILD = built.BUILD
KEEPALIVE = built.existing(built.KEEPALIVE, "make build-tool")
PROG = os.path.join(HERE, "prog.py")
PYTHON = sys.executable or "python3"


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
    """A prog.py program (a support.proc.Proc), with what its ready line said."""

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
    return Target(Proc(name or mode, [*prefix, PYTHON, prog, mode, *args]))


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
