"""Issue 20's hardening of the operator's tool, against real programs.

- More sockets than the tool may open descriptors: a process holding 1,601
  TCP sockets is shown and retuned whole by a tool whose descriptor limit is
  1024 (soft, and hard too: then only batches help), each socket read back.
- A process named with escape sequences: every line for people shows them
  as `?`, as ps does; --json keeps the name as it is (JSON escapes it).
- A failed rollback of `defaults set` names what stays changed (root: a
  mount and network namespace of the test's own).

Needs the right to take a sibling process's descriptors (root, or the same
user where Yama allows it), and prlimit (util-linux); skips saying why
otherwise, and fails on CI.
"""

import subprocess
import unittest

from oplib import KEEPALIVE, start, tool, tool_json
from support.host import why_no_command, why_no_root, why_no_sibling_ptrace
from support.skips import first, needs

NO_PTRACE = why_no_sibling_ptrace()
NO_PRLIMIT = why_no_command("prlimit", "util-linux")

#: 13 bytes (comm holds 15): retitles a terminal, then turns its text red.
EVIL = "\x1b]0;pwn\x07\x1b[31m"
SHOWN = "?]0;pwn??[31m"


@needs(first(NO_PTRACE, NO_PRLIMIT))
class ManySocketsTest(unittest.TestCase):
    """1,601 TCP sockets in one process (800 loopback connections, both ends,
    and their listener)."""

    @classmethod
    def setUpClass(cls):
        cls.t = start("many", "800")
        cls.sockets = int(cls.t.ready["sockets"])

    @classmethod
    def tearDownClass(cls):
        cls.t.stop()

    def rows(self, limit):
        done = tool("show", str(self.t.pid), "--json", prefix=("prlimit", f"--nofile={limit}"))
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        import json
        return json.loads(done.stdout)

    def test_show_lists_every_socket_under_a_1024_descriptor_limit(self):
        for limit in ("1024:1024", "1024"):  # hard 1024: batches; soft only: raised too
            rows = self.rows(limit)
            self.assertEqual(len(rows), self.sockets, f"limit {limit}")
            self.assertEqual(len({r["fd"] for r in rows}), self.sockets)

    def test_set_retunes_every_socket_under_a_1024_descriptor_limit(self):
        done = tool("set", str(self.t.pid), "-d", "321", "-i", "7", "-c", "4",
                    prefix=("prlimit", "--nofile=1024:1024"))
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        retuned = [ln for ln in done.stdout.splitlines() if "-> on 321/7/4" in ln]
        self.assertEqual(len(retuned), self.sockets, done.stdout[-2000:])
        # Read back from the kernel, every socket of the process.
        rows = self.rows("1024:1024")
        self.assertEqual(len(rows), self.sockets)
        self.assertEqual({(r["enabled"], r["idle"], r["interval"], r["count"]) for r in rows},
                         {(True, 321, 7, 4)})


@needs(NO_PTRACE)
class EscapeTest(unittest.TestCase):

    def setUp(self):
        self.t = start("pair", prefix=("env", f"KAT_COMM={EVIL}"))
        self.addCleanup(self.t.stop)
        with open(f"/proc/{self.t.pid}/comm") as f:
            self.assertEqual(f.read().rstrip("\n"), EVIL, "the name was not set")

    def assert_clean(self, text):
        for c in text:
            self.assertFalse(ord(c) < 32 and c != "\n" or 0x7f <= ord(c) < 0xa0,
                             f"a control character {c!r} reaches the terminal: {text!r}")

    def test_show_as_a_table(self):
        done = tool("show", str(self.t.pid))
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assert_clean(done.stdout)
        self.assertIn(SHOWN, done.stdout)

    def test_show_json_keeps_the_name(self):
        rows = tool_json(self, "show", str(self.t.pid))
        self.assertEqual({r["command"] for r in rows}, {EVIL})
        done = tool("show", str(self.t.pid), "--json")
        self.assert_clean(done.stdout)  # JSON escapes it: \u001b

    def test_refusals_that_name_the_process(self):
        done = tool("set", str(self.t.pid), "--fd", "999", "-d", "30")
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assert_clean(done.stderr)
        self.assertIn(f"({SHOWN}) has no file descriptor 999", done.stderr)

    def test_set_prints_clean_lines(self):
        done = tool("set", str(self.t.pid), "-d", "30")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assert_clean(done.stdout + done.stderr)


#: In a new mount and network namespace: tcp_keepalive_time is a regular file
#: holding 7200 (a tmpfs bind-mounted over it), tcp_keepalive_intvl is
#: read-only, and the tool may write files of 3 bytes at most. So setting
#: idle 60 (`60\n`, 3 bytes) succeeds, the interval is refused (EROFS), and
#: putting 7200 back (5 bytes) fails (EFBIG): a real failed rollback.
FAILED_ROLLBACK = r"""
set -e
d=$(mktemp -d)
mount -t tmpfs tmpfs "$d"
printf '7200\n' >"$d/time"
p=/proc/sys/net/ipv4
mount --bind "$d/time" $p/tcp_keepalive_time
mount --bind $p/tcp_keepalive_intvl $p/tcp_keepalive_intvl
mount -o remount,bind,ro $p/tcp_keepalive_intvl
trap '' XFSZ
set +e
prlimit --fsize=3 "$0" defaults set -d 60 -i 20
echo "status=$?"
"""


NO_MOUNT_NS = first(why_no_root("a mount namespace, bind mounts over /proc/sys"),
                    why_no_command("unshare", "util-linux"), NO_PRLIMIT)


@needs(NO_MOUNT_NS)
class FailedRollbackTest(unittest.TestCase):

    def test_defaults_set_names_the_value_it_could_not_put_back(self):
        done = subprocess.run(["unshare", "--mount", "--net", "--propagation", "private",
                               "sh", "-c", FAILED_ROLLBACK, KEEPALIVE],
                              capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
        out = done.stdout + done.stderr
        self.assertEqual(done.returncode, 0, out)
        self.assertIn("status=1", done.stdout, out)
        self.assertIn("keepalive defaults set: refused: /proc/sys/net/ipv4/tcp_keepalive_intvl: "
                      "Read-only file system; and these stay changed: "
                      "/proc/sys/net/ipv4/tcp_keepalive_time = 60 (was 7200; putting it back "
                      "failed: File too large)", done.stderr)
        self.assertNotIn("nothing was changed", done.stderr)
