"""The two example programs on loopback: command lines, output lines, exit
statuses, many clients at once. Needs no root: every test runs anywhere.

Every program's output is read through a pipe line by line as it happens, so
these tests also prove the programs are line-buffered (a block-buffered
program would hang here until the safety timeout).
"""

import contextlib
import os
import re
import resource
import select
import signal
import socket
import subprocess
import threading
import unittest

from support.built import program
from support.examples import CLIENT, SERVER
from support.flags import out_of_range
from support.host import why_no_command, why_no_root
from support.proc import SANITIZER_REPORT, Proc
from support.report import report
from support.skips import first, require


def run(name, *args):
    """Runs a program to completion; returns (status, stdout, stderr)."""
    done = subprocess.run([program(name), *args], capture_output=True, text=True, timeout=30)
    if SANITIZER_REPORT.search(done.stderr):
        raise AssertionError(f"{name} {args}: sanitizer report:\n{done.stderr}")
    return done.returncode, done.stdout, done.stderr


def start_server(*args):
    """Starts the server on a free port; returns (proc, port)."""
    srv = Proc("server", [program(SERVER), *args, "0"])
    m, _ = srv.expect(r"^listening on port (\d+)$")
    return srv, int(m.group(1))


@contextlib.contextmanager
def served(*args):
    """The server on a free port, as (proc, port), stopped at the end."""
    srv, port = start_server(*args)
    try:
        yield srv, port
    finally:
        srv.stop()


def assert_echoed(test, port, data):
    """A new client gets data echoed back: the server still serves."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(data)
        test.assertEqual(s.recv(100), data)


def connected_client(listener):
    """The client, connected to a listener of the test's own: (its Proc,
    the accepted socket)."""
    cli = Proc("client", [program(CLIENT), f"127.0.0.1:{listener.getsockname()[1]}"])
    conn, _ = listener.accept()
    cli.expect(r"\] connected to ")
    return cli, conn


def closed_cleanly(test, srv, cli):
    """The server ends (SIGTERM), closing the client's connection: the
    client, its peer closed cleanly, exits 0."""
    srv.signal(signal.SIGTERM)
    test.assertEqual(cli.wait(), 0)


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# A name that cannot resolve: a client that got as far as resolving it would
# exit 1 saying so; one that checks its options first exits 2 before that.
UNRESOLVABLE = "nonexistent.invalid:80"

def refusal(opt, value):
    """The message for a value the library refuses, after the option."""
    return f"{opt}: {out_of_range(opt, value)}"


# The options each program takes besides -D (the server has no user timeout).
OPTIONS_OF = {CLIENT: ("-c", "-d", "-i", "-u"), SERVER: ("-c", "-d", "-i")}

# Command lines each program refuses, with what it says.
BAD_COMMAND_LINES = {
    CLIENT: {
        (): "missing HOST:PORT",
        ("-x", "127.0.0.1:9"): "unrecognized option: -x",
        ("-c",): "option requires an argument: -c",
        ("127.0.0.1:9", "extra"): "too many arguments",
        **{(operand,): "invalid HOST:PORT" for operand in (
            "127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:-1",
            "127.0.0.1:80x", "::1:80", "[::1]80", "[::1:80", "[]:80")},
    },
    SERVER: {
        (): "missing PORT",
        ("-x", "0"): "unrecognized option: -x",
        ("-d",): "option requires an argument: -d",
        ("0", "1"): "too many arguments",
        ("-1",): "unrecognized option: -1",
        **{(operand,): "PORT must be 0..65535" for operand in ("65536", "x", "80x")},
    },
}


class BadArgumentsTest(unittest.TestCase):
    """A value libkeepalive does not take is a usage error: its range, what was
    given, exit 2, and nothing done before (no resolving, no socket, no line
    on stdout)."""

    # One syntax for every front door (the library's): a whole number in
    # decimal, a sign and blanks around it allowed ("+1", " 1" are 1).
    BAD_OPTIONS = ["0", "-1", "", "1x", "x", "0x10", "1.5", "1e3", "1 2",
                   "99999999999999999999", "2147483648", "4294967296", "32768", "128"]
    BAD_DEADLINES = ["0", "1", "-1", "131069", "99999999999", "junk", "", "5s", "4294967296"]

    def assert_usage(self, name, args, message=None):
        status, out, err = run(name, *args)
        self.assertEqual(status, 2, f"{name} {args}: status {status}\n{out}{err}")
        self.assertIn("usage:", err, f"{name} {args}")
        if message is not None:
            self.assertIn(message, err, f"{name} {args}")
        return out, err

    def assert_refused_first(self, name, args, message):
        """Exit 2 with message, and nothing printed on stdout: refused before anything."""
        operand = UNRESOLVABLE if name == CLIENT else "0"
        out, err = self.assert_usage(name, [*args, operand], message)
        self.assertEqual(out, "", f"{name} {args}: printed before refusing")
        self.assertNotIn("nonexistent.invalid", err, f"{name} {args}: resolved the host first")

    # Of BAD_OPTIONS, what each option takes after all.
    TAKEN = {"-d": {"128"}, "-i": {"128"}, "-u": {"0", "128", "32768"}}

    def test_bad_option_values(self):
        for name, opts in OPTIONS_OF.items():
            for opt in opts:
                for value in self.BAD_OPTIONS:
                    if value in self.TAKEN.get(opt, ()):
                        continue
                    with self.subTest(program=name, opt=opt, value=value):
                        self.assert_refused_first(name, [opt, value], refusal(opt, value))

    def test_bad_deadlines(self):
        """-D 0, 1, -1, too large, junk: the library's range, exit 2, nothing started."""
        for name in (CLIENT, SERVER):
            for value in self.BAD_DEADLINES:
                with self.subTest(program=name, value=value):
                    self.assert_refused_first(name, ["-D", value], refusal("-D", value))

    def test_checked_before_resolving(self):
        """Issue 13: -c 200 and -u 3000000000 used to resolve the host first, print
        "set TCP_KEEPCNT = 200" and exit 1; -u 4294967296 said "needs a positive
        integer" without the range."""
        for args, message in ((["-c", "200"], "-c: count must be 1..127 probes, got 200"),
                              (["-u", "3000000000"], "-u: user_timeout must be "
                               "0..2147483647 milliseconds, got 3000000000"),
                              (["-u", "4294967296"], "-u: user_timeout must be "
                               "0..2147483647 milliseconds, got 4294967296"),
                              (["-d", "2", "-c", "3", "-i", "0"],
                               "-i: interval must be 1..32767 seconds, got 0")):
            with self.subTest(args=args):
                self.assert_refused_first(CLIENT, args, message)

    # The value each knob option gives, as libkeepalive's sentences name it.
    KNOBS = {"-d": "idle", "-i": "interval", "-c": "count", "-u": "user_timeout"}

    def test_deadline_with_knobs_is_a_usage_error(self):
        """-D sets all four: giving -d, -i, -c or -u beside it, in either order, is
        refused with libkeepalive's sentence (keepalive_request_check), which names
        the value at fault."""
        cases = [(name, knob) for name, knobs in OPTIONS_OF.items() for knob in knobs]
        for name, knob in cases:
            for args in (["-D", "5", knob, "3"], [knob, "3", "-D", "5"]):
                with self.subTest(program=name, args=args):
                    self.assert_refused_first(
                        name, args, f"{name}: {self.KNOBS[knob]} cannot be given with "
                                    "deadline: deadline sets idle, interval, count and "
                                    "user_timeout together")

    def test_bad_command_lines(self):
        for name, cases in BAD_COMMAND_LINES.items():
            for args, message in cases.items():
                with self.subTest(program=name, args=args):
                    self.assert_usage(name, list(args), message)

    def test_help_prints_usage_on_stdout_and_exits_0(self):
        """-h and --help (also after other options): the usage on stdout, exit 0."""
        for name, operand in ((CLIENT, "127.0.0.1:9"), (SERVER, "0")):
            for args in (["-h"], ["--help"], ["-d", "5", "--help"], ["--help", operand]):
                with self.subTest(program=name, args=args):
                    status, out, err = run(name, *args)
                    self.assertEqual(status, 0, f"{name} {args}: status {status}\n{out}{err}")
                    self.assertTrue(out.startswith(f"usage: {name} "), out)
                    self.assertIn("-h, --help", out)
                    self.assertIn("-D DEADLINE", out)
                    self.assertIn("cannot be given with -d, -i", out)
                    self.assertEqual(err, "")
            with self.subTest(program=name, args=["--bogus"]):
                self.assert_usage(name, ["--bogus", operand], "unrecognized option: --bogus")


class ServerTest(unittest.TestCase):

    def test_prints_default_then_effective_values(self):
        srv, _ = start_server("-d", "7", "-i", "3", "-c", "4")
        try:
            lines = [line for _, line in srv.lines]
            wanted = ["SO_KEEPALIVE default is OFF", "SO_KEEPALIVE set on socket",
                      "TCP_KEEPIDLE is 7", "TCP_KEEPCNT is 4", "TCP_KEEPINTVL is 3"]
            at = [lines.index(w) for w in wanted]
            self.assertEqual(at, sorted(at), lines)
            self.assertEqual(at[-1] - at[0], len(wanted) - 1, "contract lines are consecutive")
            # What the kernel will do with them, from keepalive_settings_dead_after():
            # no user timeout, so idle + interval x count, and no busy bound.
            self.assertEqual(lines[at[-1] + 1],
                             "a silent client is declared dead 19 s after its last ACK "
                             "(after 4 probes)")
        finally:
            srv.stop()

    def test_deadline_is_set_on_the_listener_and_inherited(self):
        """-D 5: the listener reads back 2/1/3 and 5000 ms, the schedule is printed,
        the dead-after line has the busy bound, and an accepted connection
        carries all four (read back from its own socket, not set again)."""
        with served("-D", "5") as (srv, port):
            lines = [line for _, line in srv.lines]
            wanted = ["SO_KEEPALIVE default is OFF", "SO_KEEPALIVE set on socket",
                      "TCP_KEEPIDLE is 2", "TCP_KEEPCNT is 3", "TCP_KEEPINTVL is 1",
                      "TCP_USER_TIMEOUT is 5000 ms",
                      "deadline 5 s set: TCP_KEEPIDLE 2, TCP_KEEPINTVL 1, TCP_KEEPCNT 3, "
                      "TCP_USER_TIMEOUT 5000 ms",
                      "a silent client is declared dead 5 s after its last ACK (after 3 probes);"
                      " with data unacknowledged, 5 s after its last ACK",
                      f"listening on port {port}"]
            at = lines.index(wanted[0])
            self.assertEqual(lines[at:at + len(wanted)], wanted, lines)
            with socket.create_connection(("127.0.0.1", port)) as s:
                me = f"127.0.0.1:{s.getsockname()[1]}"
                srv.expect(rf"client {re.escape(me)} connected \(1 connected\): keepalive on, "
                           r"idle 2 s, interval 1 s, count 3, TCP_USER_TIMEOUT 5000 ms$")
            srv.expect(r"closed the connection")

    def test_deadline_edges_are_the_librarys_split(self):
        """-D 2 (one probe) and -D 131068 (the longest with 3 probes)."""
        for deadline, idle, interval, count, dead in (("2", 1, 1, 1, "after 1 probe)"),
                                                      ("131068", 32767, 32767, 3,
                                                       "after 3 probes)")):
            with self.subTest(deadline=deadline):
                srv, _ = start_server("-D", deadline)
                try:
                    lines = [line for _, line in srv.lines]
                    self.assertIn(f"TCP_KEEPIDLE is {idle}", lines)
                    self.assertIn(f"TCP_KEEPINTVL is {interval}", lines)
                    self.assertIn(f"TCP_KEEPCNT is {count}", lines)
                    self.assertIn(f"TCP_USER_TIMEOUT is {deadline}000 ms", lines)
                    self.assertIn(f"a silent client is declared dead {deadline} s after its "
                                  f"last ACK ({dead}; with data unacknowledged, {deadline} s "
                                  f"after its last ACK", lines)
                finally:
                    srv.stop()

    def test_unset_values_are_the_system_defaults(self):
        with open("/proc/sys/net/ipv4/tcp_keepalive_time") as f:
            idle = int(f.read())
        srv, _ = start_server("-c", "5")
        try:
            lines = [line for _, line in srv.lines]
            self.assertIn(f"TCP_KEEPIDLE is {idle}", lines)
            self.assertIn("TCP_KEEPCNT is 5", lines)
        finally:
            srv.stop()

    def test_port_in_use_fails_with_status_1(self):
        holder = socket.socket(socket.AF_INET6 if ipv6_loopback() else socket.AF_INET)
        holder.bind(("", 0))
        holder.listen()
        try:
            port = holder.getsockname()[1]
            status, out, err = run(SERVER, "-d", "2", str(port))
            self.assertEqual(status, 1, out + err)
            # The error first: no settings printed for a listener that
            # never was.
            self.assertEqual(err.splitlines(), [f"tcp_keepalive_server: port {port}: Address already in use"])
            self.assertEqual(out, "")
        finally:
            holder.close()

    def test_echo_ipv4_and_ipv6_and_lines_per_client(self):
        with served("-d", "30") as (srv, port):
            families = [(socket.AF_INET, "127.0.0.1", "127.0.0.1")]
            if ipv6_loopback():
                families.append((socket.AF_INET6, "::1", "[::1]"))
            for family, addr, shown in families:
                with self.subTest(addr=addr):
                    s = socket.socket(family, socket.SOCK_STREAM)
                    s.connect((addr, port))
                    me = f"{shown}:{s.getsockname()[1]}"
                    srv.expect(rf"client {re.escape(me)} connected \(1 connected\)")
                    s.sendall(b"hello keepalive\n")
                    self.assertEqual(s.recv(100), b"hello keepalive\n")
                    # The accepted socket carries the listener's keepalive values.
                    s.close()
                    srv.expect(rf"client {re.escape(me)} closed the connection after [\d.]+ s "
                               r"\(0 connected\)")
            srv.signal(signal.SIGTERM)
            self.assertEqual(srv.wait(), 0)

    def test_reset_client_is_reported_lost_with_reason(self):
        with served() as (srv, port):
            s = socket.create_connection(("127.0.0.1", port))
            srv.expect(r"connected \(1 connected\)")
            # SO_LINGER 0: close() sends RST instead of FIN.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
            srv.expect(r"lost after [\d.]+ s: Connection reset by peer; last data received "
                       r"[\d.]+ s ago, last ACK received [\d.]+ s ago \(0 connected\)$")

    def test_thousands_of_clients_at_once(self):
        """Many clients connected at the same time, each echoed, then all gone."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 3000
        if hard != resource.RLIM_INFINITY and hard < want + 100:
            want = hard - 100
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want + 100), hard))
        srv, port = start_server("-d", "60")
        socks = []
        try:
            for _ in range(want):
                socks.append(socket.create_connection(("127.0.0.1", port)))
            srv.expect(rf"\({want} connected\)", timeout=60)
            for s in socks:
                s.sendall(b"x")
            for s in socks:
                self.assertEqual(s.recv(1), b"x")
            report(f"{want} clients connected at once, each echoed")
            for s in socks:
                s.close()
            srv.expect(r"\(0 connected\)", timeout=60)
            srv.signal(signal.SIGINT)
            srv.expect(r"SIGINT received: closing 0 connections and exiting")
            self.assertEqual(srv.wait(), 0)
        finally:
            for s in socks:
                s.close()
            srv.stop()
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    def test_out_of_descriptors_refuses_extra_clients_and_goes_on(self):
        """At the descriptor limit, extra clients are accepted and closed, not left spinning."""
        limit = 48

        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        srv = Proc("server", [program(SERVER), "0"], preexec_fn=low_limit)
        try:
            m, _ = srv.expect(r"^listening on port (\d+)$")
            port = int(m.group(1))
            socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(limit + 10)]
            srv.expect(r"out of file descriptors: refused a client")
            served = refused = 0
            for s in socks:
                s.settimeout(10)
                try:
                    s.sendall(b"z")
                    got = s.recv(1)
                except ConnectionResetError:
                    got = b""
                served += got == b"z"
                refused += got == b""
            report(f"descriptor limit {limit}: {served} clients served, {refused} refused")
            self.assertGreater(served, 0)
            self.assertGreater(refused, 0)
            for s in socks:
                s.close()
            srv.expect(r"\(0 connected\)")
            assert_echoed(self, port, b"again")
        finally:
            srv.stop()

    def test_out_of_descriptors_without_dev_null_refuses_without_spinning(self):
        """At the limit with no spare descriptor (no /dev/null, as in a minimal
        container), the server stops watching the listener instead of spinning
        on it, says so once, and takes clients again when one leaves."""
        require(first(why_no_root("/dev is replaced in a private mount namespace"),
                      why_no_command("unshare", "util-linux")))
        limit = 48

        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        # A private mount namespace whose /dev is an empty tmpfs: open("/dev/null")
        # fails with ENOENT there. unshare and sh exec, so the pid is the server's.
        srv = Proc("server", ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                              'mount -t tmpfs tmpfs /dev && exec "$0" "$@"',
                              program(SERVER), "0"], preexec_fn=low_limit)
        socks = []
        try:
            m, _ = srv.expect(r"^listening on port (\d+)$")
            port = int(m.group(1))
            for _ in range(limit + 12):
                socks.append(socket.create_connection(("127.0.0.1", port)))

            def cpu_seconds():
                with open(f"/proc/{srv.popen.pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

            # Every client is connected (in the server's backlog at least): the
            # server reaches the limit within a few milliseconds. The property
            # measured is CPU use over time, so this waits; there is nothing
            # else to synchronize on, since a spinning server prints nothing.
            before = cpu_seconds()
            threading.Event().wait(2.0)
            used = cpu_seconds() - before
            report(f"at the limit with no /dev/null: {used:.2f} s of CPU in 2 s")
            self.assertLess(used, 0.2, "the server spins on its readable listener")
            srv.expect(r"out of file descriptors and no spare one to refuse clients with")

            for s in socks[:limit // 2]:  # the first clients were taken and are served
                s.settimeout(10)
                s.sendall(b"q")
                self.assertEqual(s.recv(1), b"q")
            # A client leaves: the listener is watched again, a waiting client is taken.
            socks[0].close()
            srv.expect(r"closed the connection")
            srv.expect(r"client \S+ connected")
            for s in socks[1:]:
                s.close()
            srv.expect(r"\(0 connected\)", timeout=60)
            assert_echoed(self, port, b"again")
            srv.drain()
            said = [line for _, line in srv.lines if "no spare one to refuse" in line]
            self.assertEqual(len(said), 1, said)
            srv.signal(signal.SIGTERM)
            self.assertEqual(srv.wait(), 0)
        finally:
            for s in socks:
                s.close()
            srv.stop()

    def test_sigterm_closes_every_connection_and_exits_0(self):
        with served() as (srv, port):
            socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
            srv.expect(r"\(3 connected\)")
            srv.signal(signal.SIGTERM)
            srv.expect(r"SIGTERM received: closing 3 connections and exiting")
            self.assertEqual(srv.wait(), 0)
            for s in socks:
                self.assertEqual(s.recv(1), b"", "the server closed the connection")
                s.close()

    def test_writing_to_a_vanished_client_does_not_kill_the_server(self):
        """SIGPIPE is ignored: echoing to a closed peer fails that client only."""
        with served() as (srv, port):
            for _ in range(20):
                s = socket.create_connection(("127.0.0.1", port))
                s.sendall(b"y" * 100000)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.close()
            srv.expect(r"\(0 connected\)")
            assert_echoed(self, port, b"alive?")
            self.assertIsNone(srv.popen.poll())

    def test_echo_that_waits_for_a_slow_reader_is_complete_and_in_order(self):
        """A client that sends until its send blocks, and only then reads, gets every byte back.

        With the client's receive buffer small, the server's sends fill up, so the
        server keeps the unsent rest of an echo and stops reading until it is
        out; the pipe between them clogs and the client's send blocks. The echo
        must then come back whole and in order (random bytes: a lost, repeated
        or swapped piece shows).
        """
        # More than the server's socket buffers can ever hold (their autotuning
        # maximums), so that the client's send must block.
        with open("/proc/sys/net/ipv4/tcp_rmem") as f:
            rmem_max = int(f.read().split()[2])
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            wmem_max = int(f.read().split()[2])
        data = os.urandom(rmem_max + wmem_max + (1 << 20))
        srv, port = start_server()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", port))
            srv.expect(r"connected \(1 connected\)")
            blocked = threading.Event()
            outcome = {}

            def send_everything():
                view, sent = memoryview(data), 0
                try:
                    while sent < len(data):
                        try:
                            sent += s.send(view[sent:sent + 65536], socket.MSG_DONTWAIT)
                        except BlockingIOError:
                            outcome.setdefault("in_flight", sent)
                            blocked.set()
                            s.sendall(view[sent:])  # goes on as the reader makes room
                            sent = len(data)
                except OSError as e:
                    outcome["error"] = e
                finally:
                    blocked.set()

            sender = threading.Thread(target=send_everything, daemon=True)
            sender.start()
            self.assertTrue(blocked.wait(60), "the client's send never blocked nor finished")
            self.assertIn("in_flight", outcome,
                          f"{len(data)} bytes went out without the client reading")
            report(f"client's send blocked with {outcome['in_flight']} bytes unread; reading")
            got = bytearray()
            while len(got) < len(data):
                # The timeout is a safety net against a stuck server, not a measurement.
                self.assertTrue(select.select([s], [], [], 60)[0],
                                f"echo stalled after {len(got)} of {len(data)} bytes")
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                got += chunk
            sender.join(60)
            self.assertNotIn("error", outcome)
            if got != data:
                first = next((i for i, (a, b) in enumerate(zip(got, data)) if a != b),
                             min(len(got), len(data)))
                self.fail(f"echo differs from what was sent at byte {first} "
                          f"({len(got)} of {len(data)} bytes received)")
            s.close()
            srv.expect(r"closed the connection after [\d.]+ s \(0 connected\)")
            self.assertIsNone(srv.popen.poll())
        finally:
            s.close()
            srv.stop()


class ClientTest(unittest.TestCase):

    def test_peer_closing_cleanly_exits_0(self):
        with served() as (srv, port):
            cli = Proc("client", [program(CLIENT), "-d", "2", "-i", "1", "-c", "3",
                                  f"127.0.0.1:{port}"])
            lines = [cli.expect(p)[0].string for p in (
                rf"^going to connect to 127\.0\.0\.1 port {port}$",
                r"^set SO_KEEPALIVE\s+= 1$",
                r"^set TCP_KEEPIDLE\s+= 2$",
                r"^set TCP_KEEPCNT\s+= 3$",
                r"^set TCP_KEEPINTVL\s+= 1$",
                rf"^\[[\d :.-]+\] connecting to 127\.0\.0\.1:{port}$",
                rf"^\[[\d :.-]+\] connected to 127\.0\.0\.1:{port}$",
                r"^keepalive on: idle 2 s, interval 1 s, count 3, TCP_USER_TIMEOUT 0 ms "
                r"\(read back\)$",
                r"^a silent peer is declared dead 5 s after its last ACK \(after 3 probes\)$")]
            cli.drain()
            self.assertEqual([line for _, line in cli.lines], lines, "the lines, in this order")
            srv.expect(r"\(1 connected\)")
            srv.signal(signal.SIGTERM)
            cli.expect(r"^\[[\d :.-]+\] connection closed by peer$")
            self.assertEqual(cli.wait(), 0)
            self.assertEqual(srv.wait(), 0)

    def test_names_and_bracketed_ipv6(self):
        with served() as (srv, port):
            targets = [f"localhost:{port}"]
            if ipv6_loopback():
                targets.append(f"[::1]:{port}")
            clients = []
            for target in targets:
                cli = Proc(target, [program(CLIENT), target])
                cli.expect(r"\] connected to ")
                clients.append(cli)
            srv.expect(rf"\({len(targets)} connected\)")
            srv.signal(signal.SIGTERM)
            for cli in clients:
                self.assertEqual(cli.wait(), 0, cli.transcript())

    def test_reads_are_logged(self):
        listener = socket.create_server(("127.0.0.1", 0))
        try:
            cli, conn = connected_client(listener)
            conn.sendall(b"12345")
            cli.expect(r"^\[[\d :.-]+\] read 5 bytes$")
            conn.close()
            cli.expect(r"connection closed by peer")
            self.assertEqual(cli.wait(), 0)
        finally:
            listener.close()

    def test_reset_reports_reason_and_last_receive_times(self):
        listener = socket.create_server(("127.0.0.1", 0))
        try:
            cli, conn = connected_client(listener)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.close()
            cli.expect(r"connection lost: Connection reset by peer \(last data received "
                       r"[\d.]+ s ago, last ACK received [\d.]+ s ago\)")
            self.assertEqual(cli.wait(), 1)
        finally:
            listener.close()

    def test_connection_refused_exits_1(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connecting is refused
        try:
            status, out, err = run(CLIENT, f"127.0.0.1:{port}")
            self.assertEqual(status, 1, out + err)
            self.assertIn("Connection refused", out)
        finally:
            s.close()

    def test_unknown_host_exits_1(self):
        status, out, err = run(CLIENT, "no-such-host.invalid:80")
        self.assertEqual(status, 1, out + err)
        self.assertIn("no-such-host.invalid", err)

    def test_user_timeout_is_set_and_read_back(self):
        with served() as (srv, port):
            cli = Proc("client", [program(CLIENT), "-u", "4500", f"127.0.0.1:{port}"])
            cli.expect(r"^set TCP_USER_TIMEOUT\s+= 4500 ms$")
            cli.expect(r"^keepalive on: .*, TCP_USER_TIMEOUT 4500 ms \(read back\)$")
            cli.expect(r"; with data unacknowledged, 4\.500 s after its last ACK$")
            closed_cleanly(self, srv, cli)

    def test_user_timeout_0_is_the_kernels_default(self):
        """-u 0 is in the library's range: it sets the kernel's default, no busy bound."""
        with served() as (srv, port):
            cli = Proc("client", [program(CLIENT), "-u", "0", f"127.0.0.1:{port}"])
            cli.expect(r"^set TCP_USER_TIMEOUT\s+= 0 ms \(the kernel's default\)$")
            m, _ = cli.expect(r"^a silent peer is declared dead ")
            self.assertNotIn("unacknowledged", m.string)
            closed_cleanly(self, srv, cli)

    def test_the_trap_is_told_before_it_happens(self):
        """-d 2 -i 1 -c 3 -u 3500: the user timeout replaces TCP_KEEPCNT, so the
        kernel declares an idle peer dead at 4 s after 2 probes, not at
        idle + interval x count = 5 s; the client says so (from the library)."""
        with served() as (srv, port):
            cli = Proc("client", [program(CLIENT), "-d", "2", "-i", "1", "-c", "3", "-u", "3500",
                                  f"127.0.0.1:{port}"])
            cli.expect(r"^a silent peer is declared dead 4 s after its last ACK \(after 2 "
                       r"probes\); with data unacknowledged, 3\.500 s after its last ACK$")
            closed_cleanly(self, srv, cli)

    def test_deadline_prints_the_schedule_then_reads_it_back(self):
        with served() as (srv, port):
            cli = Proc("client", [program(CLIENT), "-D", "5", f"127.0.0.1:{port}"])
            lines = [cli.expect(p)[0].string for p in (
                rf"^going to connect to 127\.0\.0\.1 port {port}$",
                r"^set SO_KEEPALIVE\s+= 1$",
                r"^set deadline 5 s: TCP_KEEPIDLE 2, TCP_KEEPINTVL 1, TCP_KEEPCNT 3, "
                r"TCP_USER_TIMEOUT 5000 ms$",
                rf"^\[[\d :.-]+\] connecting to 127\.0\.0\.1:{port}$",
                rf"^\[[\d :.-]+\] connected to 127\.0\.0\.1:{port}$",
                r"^keepalive on: idle 2 s, interval 1 s, count 3, TCP_USER_TIMEOUT 5000 ms "
                r"\(read back\)$",
                r"^a silent peer is declared dead 5 s after its last ACK \(after 3 probes\); "
                r"with data unacknowledged, 5 s after its last ACK$")]
            cli.drain()
            self.assertEqual([line for _, line in cli.lines], lines, "the lines, in this order")
            closed_cleanly(self, srv, cli)

    def test_busy_client_writes_and_reads_the_echo(self):
        """-w: 16 bytes every 0.1 s, echoed by the server; a healthy busy peer
        prints no liveness line; the clean close still exits 0."""
        with served() as (srv, port):
            cli = Proc("client", [program(CLIENT), "-D", "5", "-w", f"127.0.0.1:{port}"])
            cli.expect(r"\] connected to ")
            got = 0
            while got < 16 * 15:  # about 1.5 s of echoes: past the first liveness sample
                m, _ = cli.expect(r"^\[[\d :.-]+\] read (\d+) bytes$")
                got += int(m.group(1))
            srv.signal(signal.SIGTERM)
            cli.expect(r"connection closed by peer")
            self.assertEqual(cli.wait(), 0, cli.transcript())
            self.assertFalse([line for _, line in cli.lines if "peer silent" in line],
                             cli.transcript())
