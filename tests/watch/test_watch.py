"""`keepalive watch` end to end, as root: five connections die of known causes
in network namespaces (the issue's four, and retransmissions), and each appears exactly once with its cause, pid,
command, addresses and silence; an unprivileged caller is refused.

Each test starts its own watch (host-wide: it also sees what other programs
on the machine do, so lines are picked by the dying client's pid), lets one
connection die, waits for the client to report the death and for the watch's
line, then stops the watch with SIGINT (or SIGTERM) and checks it exits 0.
conftest.py says why every test skips where there is no root, BTF or ip netns.
"""

import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import unittest
import urllib.request

from support import built
from support.host import NOBODY, why_no_command
from support.netlab import Lab
from support.proc import Proc, sh
from support.skips import require

HERE = os.path.dirname(os.path.abspath(__file__))
KEEPALIVE = [built.KEEPALIVE]
PEER = [sys.executable, os.path.join(HERE, "peer.py")]
PORT = 5070

# The deadline's tolerance: a death is on time when the peer was silent at
# least the bound (less a jiffy and the timer wheel's slack) and at most a
# second more (the contract's "dead at most D + 1 s"; a busy connection dies
# one retransmission timeout after its bound).
EARLY_MS, LATE_MS = 100, 1000


class Watcher:
    """`keepalive watch --json`, started and ready (its first stderr line)."""

    def __init__(self, *options):
        self.proc = Proc("watch", [*KEEPALIVE, "watch", "--json", *options],
                                stderr_separately=True)
        _, line = self.proc.stderr_lines.get(timeout=30)
        if line is None or "watching every TCP connection" not in line:
            status = self.proc.popen.wait(timeout=10)
            raise AssertionError(f"keepalive watch did not start (status {status}): {line}")
        self.ready = line

    def death_of(self, pid, timeout=30):
        """Waits for the first line about pid; returns it, parsed."""
        m, _ = self.proc.expect(rf'"pid":{pid},', timeout=timeout)
        return json.loads(m.string)

    def stop(self, signo=signal.SIGINT):
        """Stops the watch; returns (exit status, every line it printed, parsed)."""
        self.proc.signal(signo)
        status = self.proc.wait(timeout=10)
        lines = [json.loads(line) for _, line in self.proc.lines]
        return status, lines


class DeathCase(unittest.TestCase):
    def setUp(self):
        self.lab = Lab().__enter__()
        self.addCleanup(self.lab.close)
        self.watch = Watcher()
        self.addCleanup(self.watch.proc.stop)

    def start(self, server_mode, client_mode, name):
        srv = self.lab.start("server", [*PEER, "server", str(PORT), server_mode])
        srv.expect("listening pid=")
        target = f"{self.lab.server_ip}:{PORT}"
        cli = self.lab.start("client", [*PEER, "client", client_mode, target, name])
        m, _ = cli.expect(r"ready pid=(\d+) local=(\S+)")
        srv.expect("accepted")
        return srv, cli, int(m.group(1)), m.group(2)

    def check(self, cli, pid, local, name, cause, died):
        """The client reported `died`; the watch has exactly one line for it."""
        cli.expect(rf"died: {died}", timeout=60)
        line = self.watch.death_of(pid)
        status, lines = self.watch.stop()
        self.assertEqual(status, 0, "the watch exits 0 on SIGINT")
        mine = [r for r in lines if r["pid"] == pid]
        self.assertEqual(len(mine), 1, f"exactly one line for pid {pid}: {mine}")
        self.assertEqual(line["cause"], cause, line)
        self.assertEqual(line["command"], name, line)
        self.assertEqual(line["owner"], "connect", line)
        self.assertEqual(line["local"], local, line)
        self.assertEqual(line["remote"], f"{self.lab.server_ip}:{PORT}", line)
        self.assertEqual(line["state"], "ESTABLISHED", line)
        self.assertRegex(line["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        print(f"\n  {cause}: silent_ms={line['silent_ms']} window_probed_ms="
              f"{line['window_probed_ms']} probes_out={line['probes_out']} "
              f"retransmits={line['retransmits']}", file=sys.stderr, end=" ")
        return line

    def assert_silent(self, line, bound_ms):
        self.assertGreaterEqual(line["silent_ms"], bound_ms - EARLY_MS, line)
        self.assertLessEqual(line["silent_ms"], bound_ms + LATE_MS, line)

    def cut_server(self):
        how = self.lab.cut("server")
        if not how.startswith("nftables"):
            # A blackhole route stops the server's replies only: good enough
            # for a silent peer, but say so.
            print(f"  (cut: {how})", file=sys.stderr)


class TestCauses(DeathCase):
    def test_keepalive_an_idle_connection_whose_peer_is_cut(self):
        _, cli, pid, local = self.start("read", "keepalive", "kaw-idle")
        self.cut_server()
        line = self.check(cli, pid, local, "kaw-idle", "keepalive", "Connection timed out")
        # idle 1 + interval 1 x 2 probes: dead 3 s after the last ACK.
        self.assert_silent(line, 3000)
        self.assertEqual((line["probes_out"], line["retransmits"]), (2, 0), line)
        self.assertEqual(line["error"], "Connection timed out", line)

    def test_user_timeout_a_busy_connection_whose_peer_is_cut(self):
        _, cli, pid, local = self.start("read", "busy", "kaw-busy")
        self.cut_server()
        line = self.check(cli, pid, local, "kaw-busy", "user-timeout", "Connection timed out")
        # TCP_USER_TIMEOUT 3000 ms, counted from the first retransmission,
        # one RTO (200 ms or more) after the last ACK.
        self.assert_silent(line, 3000)
        self.assertGreater(line["retransmits"], 0, line)
        self.assertEqual(line["user_timeout_ms"], 3000, line)

    def test_an_accepted_connection_is_its_listeners(self):
        # The server's side dies this time: keepalive 1/1/2 inherited from
        # its listener, the client's host cut off. Its owner was recorded
        # when the server called listen().
        srv = self.lab.start("server", [*PEER, "server", str(PORT), "watchful", "kaw-server"])
        m, _ = srv.expect(r"listening pid=(\d+)")
        server_pid = int(m.group(1))
        target = f"{self.lab.server_ip}:{PORT}"
        cli = self.lab.start("client", [*PEER, "client", "retrans", target, "kaw-quiet"])
        m, _ = cli.expect(r"ready pid=\d+ local=(\S+)")
        srv.expect("accepted")
        self.lab.cut("client")
        line = self.watch.death_of(server_pid)
        status, lines = self.watch.stop()
        self.assertEqual(status, 0)
        self.assertEqual(len([r for r in lines if r["pid"] == server_pid]), 1, lines)
        self.assertEqual((line["cause"], line["command"], line["owner"]),
                         ("keepalive", "kaw-server", "listener"), line)
        # A dual-stack listener: the IPv4 peer as an IPv4-mapped address.
        self.assertEqual(line["local"], f"[::ffff:{self.lab.server_ip}]:{PORT}", line)
        self.assertEqual(line["remote"], f"[::ffff:{m.group(1).rsplit(':', 1)[0]}]:"
                                         f"{m.group(1).rsplit(':', 1)[1]}", line)
        self.assert_silent(line, 3000)

    def test_retransmissions_a_busy_connection_without_a_user_timeout(self):
        # tcp_retries2 = 3 in the client's namespace: with the minimum RTO
        # (200 ms), the kernel gives up (2^4 - 1) x 200 = 3000 ms after the
        # oldest unacknowledged segment was sent, at the first retransmission
        # timer at or after that: the timer fires 200, 600, 1400, 3000 and
        # 6200 ms after it (later when the RTO is above its minimum), and the
        # one at 3000 ms may come a jiffy early.
        sh("ip", "netns", "exec", self.lab.ns["client"], "sysctl", "-qw",
                  "net.ipv4.tcp_retries2=3")
        _, cli, pid, local = self.start("read", "retrans", "kaw-retrans")
        self.cut_server()
        line = self.check(cli, pid, local, "kaw-retrans", "retransmissions",
                          "Connection timed out")
        self.assertGreaterEqual(line["silent_ms"], 3000 - EARLY_MS, line)
        self.assertLessEqual(line["silent_ms"], 8000, line)
        self.assertEqual(line["user_timeout_ms"], 0, line)
        self.assertGreaterEqual(line["retransmits"], 3, line)

    def test_zero_window_a_live_peer_that_stopped_reading(self):
        _, cli, pid, local = self.start("noread", "stalled", "kaw-stalled")
        line = self.check(cli, pid, local, "kaw-stalled", "zero-window",
                          "Connection timed out")
        # The peer answered every window probe: it was never silent for long,
        # and the window was probed for the user timeout.
        self.assertLess(line["silent_ms"], 3000, line)
        self.assertGreaterEqual(line["window_probed_ms"], 3000 - EARLY_MS, line)
        self.assertLessEqual(line["window_probed_ms"], 3000 + LATE_MS, line)
        self.assertEqual(line["retransmits"], 0, line)

    def test_reset_a_peer_that_rebooted(self):
        srv, cli, pid, local = self.start("read", "reset", "kaw-reset")
        # The server's host dies without a packet and comes back without the
        # connection: the first keepalive probe (2 s idle) meets a reset.
        self.lab.crash_and_reboot_server(srv)
        line = self.check(cli, pid, local, "kaw-reset", "reset", "Connection reset by peer")
        self.assert_silent(line, 2000)
        self.assertEqual(line["error"], "Connection reset by peer", line)


class TestTool(unittest.TestCase):
    def test_sigterm_also_ends_it_with_status_0_and_a_summary(self):
        w = Watcher()
        self.addCleanup(w.proc.stop)
        status, lines = w.stop(signal.SIGTERM)
        self.assertEqual(status, 0)
        summary = []
        while True:  # to the end of its stderr (None)
            line = w.proc.stderr_lines.get(timeout=10)[1]
            if line is None:
                break
            summary.append(line)
        self.assertTrue(any(s and re.match(r"keepalive watch: \d+ connections reported, 0 events "
                                           r"lost$", s) for s in summary), summary)

    def test_metrics_count_the_deaths_by_cause(self):
        w = Watcher("--metrics", "127.0.0.1:0")
        self.addCleanup(w.proc.stop)
        url = re.search(r"metrics on (http://\S+/metrics);", w.ready).group(1)
        # A death of our own: a peer that resets (SO_LINGER 0) on loopback.
        srv = socket.create_server(("127.0.0.1", 0))
        cli = socket.create_connection(srv.getsockname())
        acc, _ = srv.accept()
        acc.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        acc.close()
        with self.assertRaises(ConnectionResetError):
            cli.recv(1)
        line = w.death_of(os.getpid())
        self.assertEqual(line["cause"], "reset", line)
        with urllib.request.urlopen(url, timeout=10) as reply:
            self.assertEqual(reply.status, 200)
            self.assertTrue(reply.headers["Content-Type"].startswith("text/plain; version=0.0.4"))
            text = reply.read().decode()
        counts = dict(re.findall(r'^keepalive_watch_deaths_total\{cause="([a-z-]+)"\} (\d+)$',
                                 text, re.M))
        self.assertEqual(sorted(counts), sorted(["keepalive", "user-timeout", "retransmissions",
                                                 "zero-window", "reset"]), text)
        self.assertGreaterEqual(int(counts["reset"]), 1, text)
        self.assertRegex(text, r"(?m)^keepalive_watch_events_lost_total 0$")
        for s in (srv, cli):
            s.close()
        status, _ = w.stop()
        self.assertEqual(status, 0)

    def test_a_full_ring_buffer_loses_events_loudly(self):
        # The watch stopped (SIGSTOP) while 4,000 connections die: more than
        # its ring buffer (256 KiB, 2,048 deaths) holds. What it could not
        # keep is counted, on stderr as it resumes and in the summary.
        w = Watcher()
        self.addCleanup(w.proc.stop)
        w.proc.signal(signal.SIGSTOP)
        srv = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.addCleanup(srv.close)
        n = 4000
        for _ in range(n):
            cli = socket.create_connection(srv.getsockname())
            acc, _ = srv.accept()
            acc.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            acc.close()  # cli dies of a reset
            cli.close()
        w.proc.signal(signal.SIGCONT)
        status, lines = w.stop()
        self.assertEqual(status, 0)
        ours = sum(1 for r in lines if r["pid"] == os.getpid() and r["cause"] == "reset")
        stderr = []
        while True:
            line = w.proc.stderr_lines.get(timeout=10)[1]
            if line is None:
                break
            stderr.append(line)
        summary = re.match(r"keepalive watch: (\d+) connections reported, (\d+) events lost$",
                           stderr[-1])
        self.assertIsNotNone(summary, stderr)
        lost = int(summary.group(2))
        self.assertGreater(lost, 0, stderr)
        self.assertGreaterEqual(ours + lost, n, f"{ours} reported, {lost} lost: {stderr}")
        self.assertTrue(any(re.match(r"keepalive watch: \d+ events lost \(\d+ in all\): the ring "
                                     r"buffer was full$", s) for s in stderr), stderr)

    def test_metrics_on_an_address_in_use_is_refused(self):
        taken = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(taken.close)
        addr = "127.0.0.1:%d" % taken.getsockname()[1]
        done = subprocess.run([*KEEPALIVE, "watch", "--metrics", addr], capture_output=True,
                              text=True, timeout=30)
        self.assertEqual(done.returncode, 1, done)
        self.assertIn(f"--metrics: listening on {addr}: Address already in use\n", done.stderr)
        done = subprocess.run([*KEEPALIVE, "watch", "--metrics", "nowhere"], capture_output=True,
                              text=True, timeout=30)
        self.assertEqual(done.returncode, 2, done)

    def test_an_unprivileged_caller_is_refused_clearly(self):
        require(why_no_command("setpriv", "util-linux"))
        done = subprocess.run(
            [*NOBODY, "--inh-caps=-all", "--bounding-set=-all", *KEEPALIVE, "watch"],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 1, done)
        self.assertEqual(done.stdout, "", "nothing on stdout, not even the header")
        self.assertRegex(done.stderr, r"^keepalive watch: permission denied: .*needs root "
                                      r"\(CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN\).*lacks "
                                      r"CAP_BPF, CAP_PERFMON\n$")

    def test_usage_errors_exit_2(self):
        done = subprocess.run([*KEEPALIVE, "watch", "--jsn"], capture_output=True, text=True)
        self.assertEqual(done.returncode, 2, done)
        self.assertIn("--jsn", done.stderr)
