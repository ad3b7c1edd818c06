"""`keepalive show` and `keepalive set` against real programs on loopback.

The targets are plain Python programs (prog.py) that never heard of
libkeepalive; each reads its own sockets' options back with getsockopt when it
gets SIGUSR1, so every change is checked from inside the process that was
retuned. Needs the right to take a sibling process's descriptors: root, or
the same user where Yama allows it; skips saying why otherwise.
"""

import json
import os
import re
import socket
import subprocess
import sys
import unittest

from oplib import start, system_defaults, tool, tool_json
from support.flags import out_of_range
from support.host import why_no_sibling_ptrace
from support.skips import needs

NO_PTRACE = why_no_sibling_ptrace()

HEADERS = ["PID", "COMMAND", "FD", "LOCAL", "REMOTE", "STATE", "KEEPALIVE", "IDLE", "INTVL",
           "CNT", "USER-TIMEOUT", "DEAD-IDLE", "DEAD-BUSY", "PROBES", "LAST-ACK", "DEAD-IN"]
CONTRACT_FIELDS = {"pid", "fd", "local", "remote", "state", "enabled", "idle", "interval",
                   "count", "user_timeout_ms", "probes_out", "last_ack_ms", "dead_in_ms"}
SET_LINE = re.compile(
    r"^pid (\d+) fd (\d+) (\S+)(?: -> (\S+))? ([A-Z_0-9]+): keepalive (.+?) -> (.+?) "
    r"\(dead after (.+?) idle, (.+)\)$")


def defaults_text():
    """The before-state of an untouched socket: `off IDLE/INTVL/CNT 0 ms`."""
    idle, interval, count = system_defaults()
    return f"off {idle}/{interval}/{count} 0 ms"


def comm(pid):
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def own(keepalive, idle, interval, count, user_timeout_ms):
    return {"keepalive": keepalive, "idle": idle, "interval": interval, "count": count,
            "user_timeout_ms": user_timeout_ms}


def untouched():
    return own(0, *system_defaults(), 0)


@needs(NO_PTRACE)
class ShowTest(unittest.TestCase):

    def setUp(self):
        self.t = start("pair")
        self.addCleanup(self.t.stop)
        self.fds = {name: self.t.fd(name) for name in ("listener", "client", "accepted")}
        if "listener6" in self.t.ready:
            self.fds["listener6"] = self.t.fd("listener6")

    def test_json_lists_every_socket_with_the_contracts_fields(self):
        rows = tool_json(self, "show", str(self.t.pid))
        self.assertEqual([r["fd"] for r in rows], sorted(self.fds.values()))
        idle, interval, count = system_defaults()
        by_fd = {r["fd"]: r for r in rows}
        for r in rows:
            self.assertLessEqual(CONTRACT_FIELDS, set(r), r)
            self.assertEqual((r["pid"], r["command"]), (self.t.pid, comm(self.t.pid)))
            self.assertIs(r["enabled"], False)
            self.assertEqual((r["idle"], r["interval"], r["count"], r["user_timeout_ms"]),
                             (idle, interval, count, 0))
            self.assertEqual(r["dead_after_ms"], (idle + interval * count) * 1000)
            self.assertIsNone(r["dead_after_busy_ms"])
            self.assertEqual(r["probes_out"], 0)
            self.assertIsInstance(r["last_ack_ms"], int)
            # Keepalive off: nothing bounds an idle connection; a listener has no peer.
            self.assertIsNone(r["dead_in_ms"])
        port = self.t.ready["port"]
        listener = by_fd[self.fds["listener"]]
        self.assertEqual((listener["state"], listener["local"], listener["remote"]),
                         ("LISTEN", f"127.0.0.1:{port}", None))
        client = by_fd[self.fds["client"]]
        accepted = by_fd[self.fds["accepted"]]
        self.assertEqual((client["state"], client["remote"]), ("ESTABLISHED", f"127.0.0.1:{port}"))
        self.assertEqual((accepted["local"], accepted["remote"]),
                         (client["remote"], client["local"]))
        self.assertEqual(accepted["phase"], "unwatched")
        if "listener6" in self.fds:
            six = by_fd[self.fds["listener6"]]
            self.assertEqual(six["local"], f"[::1]:{self.t.ready['port6']}")

    def test_table_has_the_headers_and_one_row_per_socket(self):
        done = tool("show", str(self.t.pid), columns=1000)
        self.assertEqual(done.returncode, 0, done.stderr)
        lines = done.stdout.splitlines()
        print("\n".join(f"    | {line}" for line in lines))
        self.assertEqual(lines[0].split(), HEADERS)
        rows = [line.split() for line in lines[1:]]
        self.assertEqual([int(r[2]) for r in rows], sorted(self.fds.values()),
                         "one row per socket, by fd")
        idle = system_defaults()[0]
        for r in rows:
            self.assertEqual(len(r), len(HEADERS), r)
            self.assertEqual((r[0], r[1], r[6], r[7]), (str(self.t.pid), comm(self.t.pid), "off",
                                                        f"{idle}s"))
        listener = next(r for r in rows if int(r[2]) == self.fds["listener"])
        self.assertEqual((listener[4], listener[5]), ("*:*", "LISTEN"))
        # A pipe with no COLUMNS gets whole rows too.
        piped = tool("show", str(self.t.pid)).stdout.splitlines()
        self.assertEqual(piped[0], lines[0])
        self.assertEqual([len(line.split()) for line in piped], [len(HEADERS)] * len(lines))

    def test_a_narrow_terminal_drops_columns_and_never_wraps(self):
        done = tool("show", str(self.t.pid), columns=80)
        self.assertEqual(done.returncode, 0, done.stderr)
        lines = done.stdout.splitlines()
        print("\n".join(f"    | {line}" for line in lines))
        self.assertEqual(len(lines), 1 + len(self.fds))
        for line in lines:
            self.assertLessEqual(len(line), 80, line)
        header = lines[0].split()
        for kept in ("PID", "FD", "REMOTE", "STATE", "KEEPALIVE", "DEAD-IN"):
            self.assertIn(kept, header)
        self.assertLess(len(header), len(HEADERS))

    def test_show_without_a_pid_finds_it(self):
        rows = tool_json(self, "show")
        mine = [r["fd"] for r in rows if r["pid"] == self.t.pid]
        self.assertEqual(mine, sorted(self.fds.values()))


@needs(NO_PTRACE)
class ZeroWindowTest(unittest.TestCase):
    """A peer that stopped reading (issue 18): `show` says phase zero-window
    and when the kernel will abort the connection, which with a deadline
    it does that long after its first window probe, however the peer
    answers."""

    def test_show_names_the_zero_window_and_predicts_its_abort(self):
        t = start("stalled")
        self.addCleanup(t.stop)
        client = t.fd("client")
        done = tool("set", str(t.pid), "--fd", str(client), "-D", "30")
        self.assertEqual(done.returncode, 0, done.stderr)
        rows = {r["fd"]: r for r in tool_json(self, "show", str(t.pid))}
        row = rows[client]
        self.assertEqual((row["phase"], row["unacked"], row["user_timeout_ms"]),
                         ("zero-window", 0, 30000), row)
        # 30 s after the first window probe, one RTO (200 ms on loopback)
        # after the window closed, a moment ago.
        self.assertIsNotNone(row["dead_in_ms"])
        self.assertTrue(25000 <= row["dead_in_ms"] <= 30500, row)
        self.assertNotEqual(rows[t.fd("accepted")]["phase"], "zero-window")


class SetTest(unittest.TestCase):

    def test_a_deadline_on_every_socket_prints_before_and_after(self):
        t = start("pair")
        self.addCleanup(t.stop)
        self.assertTrue(all(o == untouched() for o in t.options().values()))
        done = tool("set", str(t.pid), "-D", "5")
        self.assertEqual(done.returncode, 0, done.stderr)
        print("\n".join(f"    | {line}" for line in done.stdout.splitlines()))
        lines = done.stdout.splitlines()
        fds = sorted(t.options())
        self.assertEqual(len(lines), len(fds), "one line per socket")
        for line, fd in zip(lines, fds):
            m = SET_LINE.match(line)
            self.assertIsNotNone(m, line)
            self.assertEqual((int(m.group(1)), int(m.group(2))), (t.pid, fd))
            self.assertEqual((m.group(6), m.group(7)), (defaults_text(), "on 2/1/3 5000 ms"))
            self.assertEqual((m.group(8), m.group(9)), ("5 s", "5 s busy"))
        port = t.ready["port"]
        listener = next(line for line in lines if f" fd {t.fd('listener')} " in line)
        self.assertEqual(listener, f"pid {t.pid} fd {t.fd('listener')} 127.0.0.1:{port} LISTEN: "
                         f"keepalive {defaults_text()} -> on 2/1/3 5000 ms "
                         f"(dead after 5 s idle, 5 s busy)")
        client = SET_LINE.match(next(ln for ln in lines if f" fd {t.fd('client')} " in ln))
        self.assertEqual((client.group(4), client.group(5)), (f"127.0.0.1:{port}", "ESTABLISHED"))

        # The program's own getsockopt reads the new values on every socket.
        for fd, opts in t.options().items():
            self.assertEqual(opts, own(1, 2, 1, 3, 5000), f"fd {fd}")
        for r in tool_json(self, "show", str(t.pid)):
            self.assertEqual((r["enabled"], r["idle"], r["interval"], r["count"],
                              r["user_timeout_ms"], r["dead_after_ms"], r["dead_after_busy_ms"]),
                             (True, 2, 1, 3, 5000, 5000, 5000), r)
            if r["state"] == "ESTABLISHED":
                self.assertIsNotNone(r["dead_in_ms"])
                self.assertLessEqual(r["dead_in_ms"], 5000)

    def test_fd_and_values_change_only_that_socket(self):
        t = start("pair")
        self.addCleanup(t.stop)
        before = t.options()
        client = t.fd("client")
        done = tool("set", str(t.pid), "--fd", str(client),
                    "-d", "40", "-i", "7", "-c", "4", "-u", "9000")
        self.assertEqual(done.returncode, 0, done.stderr)
        lines = done.stdout.splitlines()
        self.assertEqual(len(lines), 1, lines)
        # A 9 s user timeout ends an idle connection at the first probe time
        # past it, 40 + 7 s: the kernel's rule, which replaces the count.
        self.assertTrue(lines[0].endswith(
            f": keepalive {defaults_text()} -> on 40/7/4 9000 ms (dead after 47 s idle, 9 s busy)"),
            lines[0])
        after = t.options()
        self.assertEqual(after[client], own(1, 40, 7, 4, 9000))
        self.assertEqual({fd: o for fd, o in after.items() if fd != client},
                         {fd: o for fd, o in before.items() if fd != client})
        # One value: the others stay.
        done = tool("set", str(t.pid), "--fd", str(client), "-c", "6")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("keepalive on 40/7/4 9000 ms -> on 40/7/6 9000 ms", done.stdout)
        self.assertEqual(t.options()[client], own(1, 40, 7, 6, 9000))

    def test_a_listener_passes_its_values_to_new_connections(self):
        t = start("serve", "127.0.0.1")
        self.addCleanup(t.stop)
        done = tool("set", str(t.pid), "-d", "30", "-i", "7", "-c", "4", "-u", "9000")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn(" LISTEN: keepalive ", done.stdout)
        with socket.create_connection(("127.0.0.1", int(t.ready["port"]))):
            m, _ = t.proc.expect(r"^accepted ")
        accepted = m.string.split(" sockopts ", 1)[1]
        self.assertEqual(json.loads(accepted), own(1, 30, 7, 4, 9000), m.string)


@needs(NO_PTRACE)
class MptcpTest(unittest.TestCase):

    def test_mptcp_sockets_are_shown_and_take_keepalive_but_no_deadline(self):
        probe = subprocess.run([sys.executable, "-c", "import socket; socket.socket("
                                "socket.AF_INET, socket.SOCK_STREAM, 262)"], capture_output=True)
        if probe.returncode != 0:
            self.skipTest("this kernel has no MPTCP (or net.mptcp.enabled is 0)")
        t = start("mptcp")
        self.addCleanup(t.stop)
        fds = sorted(t.options())
        rows = tool_json(self, "show", str(t.pid))
        self.assertEqual([(r["fd"], r["protocol"]) for r in rows], [(fd, "mptcp") for fd in fds])
        before = t.options()
        done = tool("set", str(t.pid), "-D", "5")
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("an MPTCP socket has no TCP_USER_TIMEOUT", done.stderr)
        self.assertIn("nothing changed on this socket", done.stderr)
        self.assertEqual(t.options(), before, "a refused deadline changed something")
        done = tool("set", str(t.pid), "-d", "5", "-c", "2")
        self.assertEqual(done.returncode, 0, done.stderr)
        interval = system_defaults()[1]
        self.assertEqual(t.options(), {fd: own(1, 5, interval, 2, None) for fd in fds})


@needs(NO_PTRACE)
class ErrorTest(unittest.TestCase):

    def assert_refused(self, done, *texts):
        self.assertEqual(done.returncode, 1, f"stdout: {done.stdout}\nstderr: {done.stderr}")
        for text in texts:
            self.assertIn(text, done.stderr)
        print(f"    | {done.stderr.strip()}")

    def test_a_dead_pid(self):
        gone = subprocess.Popen(["true"])
        gone.wait()
        self.assertFalse(os.path.exists(f"/proc/{gone.pid}"))
        self.assert_refused(tool("set", str(gone.pid), "-D", "5"), f"no such process: {gone.pid}")
        shown = tool("show", str(gone.pid))
        self.assert_refused(shown, f"no such process: {gone.pid}")
        self.assertEqual(shown.stdout, "", "a table above the error")
        self.assertEqual(shown.stderr, f"keepalive show: no such process: {gone.pid}\n")
        # Beside a live one, a gone PID is still the error, before any row.
        shown = tool("show", str(os.getpid()), str(gone.pid))
        self.assert_refused(shown, f"no such process: {gone.pid}")
        self.assertEqual(shown.stdout, "")

    def test_a_pid_without_tcp_sockets(self):
        t = start("none")
        self.addCleanup(t.stop)
        self.assert_refused(tool("set", str(t.pid), "-D", "5"),
                            f"pid {t.pid} ({comm(t.pid)}) has no TCP sockets")
        shown = tool("show", str(t.pid))
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertEqual(shown.stdout.splitlines(), [shown.stdout.splitlines()[0]], "header only")
        self.assertEqual(tool_json(self, "show", str(t.pid)), [])

    def test_descriptors_that_are_not_tcp_sockets(self):
        t = start("zoo")
        self.addCleanup(t.stop)
        for name, what in (("pipe", "a pipe"), ("udp", "a UDP socket (IPv4)"),
                           ("unix", "a Unix domain socket")):
            fd = t.fd(name)
            self.assert_refused(tool("set", str(t.pid), "--fd", str(fd), "-D", "5"),
                                f"pid {t.pid} fd {fd} is {what}, not a TCP socket")
        self.assert_refused(tool("set", str(t.pid), "--fd", "999", "-D", "5"),
                            f"pid {t.pid} ({comm(t.pid)}) has no file descriptor 999")
        # Nothing was set anywhere, the TCP listener included.
        self.assertEqual(t.options(), {t.fd("tcp"): untouched()})
        # Without --fd, only the TCP socket is retuned.
        done = tool("set", str(t.pid), "-D", "5")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(len(done.stdout.splitlines()), 1, done.stdout)
        self.assertEqual(t.options(), {t.fd("tcp"): own(1, 2, 1, 3, 5000)})

    def test_a_thread_id(self):
        t = start("zoo")
        self.addCleanup(t.stop)
        tid = t.fd("thread")
        self.assert_refused(tool("set", str(tid), "-D", "5"), f"{tid} is a thread of process {t.pid}")
        self.assert_refused(tool("show", str(tid)), f"{tid} is a thread of process {t.pid}")

    def test_bad_values_exit_2_and_change_nothing(self):
        t = start("pair")
        self.addCleanup(t.stop)
        before = t.options()
        pid = str(t.pid)
        cases = [([opt, value], out_of_range(opt, value)) for opt, value in (
            ("-D", "1"), ("-D", "0"), ("-D", "-5"), ("-D", "131069"), ("-d", "0"),
            ("-d", "32768"), ("-i", "0"), ("-c", "0"), ("-c", "128"), ("-u", "-1"),
            ("-u", "2147483648"))] + [
            (["-D", "5", "--probes", "5"], "probes must be 1..4 probes for this deadline, got 5"),
            (["-D", "5", "--probes", "0"], "probes must be 1..127 probes, got 0"),
            (["-d", "30", "-c", "500"], out_of_range("-c", "500")),
            (["-d", "abc"], "invalid value 'abc' for '--idle <IDLE>'"),
            (["-d", "1.5"], "invalid value '1.5' for '--idle <IDLE>'"),
            (["-D", "5", "-d", "2"], "idle cannot be given with deadline"),
            (["--probes", "3", "-d", "2"], "probes goes with deadline: give deadline too"),
            (["--probes", "4"], "probes goes with deadline: give deadline too"),
            (["-D", "2", "--probes", "5"], "probes must be 1 probe for this deadline, got 5"),
            ([], "the following required arguments were not provided"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                done = tool("set", pid, *args)
                self.assertEqual(done.returncode, 2, done.stderr)
                self.assertIn(message, done.stderr)
                self.assertRegex(done.stderr, r"^error: ")
                self.assertRegex(done.stderr, r"Usage: keepalive set|try '--help'")
                self.assertEqual(done.stdout, "")
        for args, message in (
                (["set", "0", "-D", "5"], "a process id is a whole number, 1 or more"),
                (["set", "abc", "-D", "5"], "a process id is a whole number, 1 or more"),
                (["set", pid, "--fd", "-1", "-D", "5"], "a descriptor is a whole number, 0 or more"),
                (["set", pid, "--fd", "x", "-D", "5"], "a descriptor is a whole number, 0 or more"),
                (["show", "abc"], "a process id is a whole number, 1 or more"),
                (["show", "0"], "a process id is a whole number, 1 or more"),
                (["nonsense"], "unrecognized subcommand 'nonsense'")):
            with self.subTest(args=args):
                done = tool(*args)
                self.assertEqual(done.returncode, 2, done.stderr)
                self.assertIn(message, done.stderr)
        self.assertEqual(t.options(), before, "a bad value changed something")


# A program that prints its own TCP socket's five options, made under the
# preload library that `keepalive run` puts in front of it.
OWN_OPTIONS = """
import socket
s = socket.socket()
print(s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
      *(s.getsockopt(socket.IPPROTO_TCP, o) for o in (4, 5, 6, 18)))
"""


class RunTest(unittest.TestCase):
    """`keepalive run` is keepalive-run under another name: one implementation."""

    def test_run_gives_the_programs_sockets_the_values(self):
        for args, want in ((["-D", "5"], "1 2 1 3 5000"), (["-d", "30", "-i", "7", "-c", "4"],
                                                              None),
                           (["-D", "60", "--max-idle", "20"], "1 14 2 23 60000")):
            with self.subTest(args=args):
                done = tool("run", *args, "--", sys.executable, "-I", "-c", OWN_OPTIONS)
                self.assertEqual(done.returncode, 0, done.stderr)
                got = done.stdout.split()
                self.assertEqual(got[0], "1")
                if want is not None:
                    self.assertEqual(" ".join(got), want)
                else:
                    self.assertEqual(got[1:4], ["30", "7", "4"])

    def test_run_speaks_as_keepalive_run_under_its_own_name(self):
        done = tool("run", "-D", "1", "--", "true")
        self.assertEqual(done.returncode, 2)
        self.assertIn("keepalive run: -D: deadline must be 2..131068 seconds, got 1", done.stderr)
        done = tool("run", "-D", "100000", "--max-idle", "60", "--", "true")
        self.assertEqual(done.returncode, 2)
        self.assertIn("with deadline 100000 seconds and up to 127 probes, got 60", done.stderr)
        done = tool("run", "-D", "60", "--max-idle", "4", "--", "true")
        self.assertEqual(done.returncode, 2)
        self.assertIn("--max-idle: max_idle must be 5..4294967295 seconds, got 4", done.stderr)
        self.assertIn("usage: keepalive run ", done.stderr)
        done = tool("run", "--help")
        self.assertEqual(done.returncode, 0)
        self.assertIn("usage: keepalive run ", done.stdout)
        self.assertEqual(tool("run", "--", "/nonexistent/program").returncode, 127)
        self.assertEqual(tool("run", "-d", "7", "--", "sh", "-c", "exit 42").returncode, 42)


class HelpTest(unittest.TestCase):

    def test_help_on_every_subcommand(self):
        for path in ([], ["show"], ["set"], ["defaults"], ["defaults", "set"]):
            with self.subTest(path=path):
                done = tool(*path, "--help")
                self.assertEqual(done.returncode, 0, done.stderr)
                self.assertIn(f"Usage: {' '.join(['keepalive', *path])}", done.stdout)
        self.assertEqual(tool().returncode, 2)
        version = tool("--version")
        self.assertEqual(version.returncode, 0)
        self.assertRegex(version.stdout, r"^keepalive \d+\.\d+\.\d+")
