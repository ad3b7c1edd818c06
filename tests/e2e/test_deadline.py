"""The dead-peer deadline (-D) of the C programs, on real packets between two hosts.

Each test builds two network namespaces joined by a veth pair (netlab.Lab),
pulls the plug on one host (nftables drops every packet) and measures, from
the programs' own lines, when the other side declares it dead. Needs root and
`ip netns`; skips saying why otherwise, and with CI=true a missing lab fails.

- One cut, three clients of one server: idle with -D 5 (Connection timed out
  5 s +- (2% + 0.15 s) after the peer's last ACK, and every liveness line's
  "dead in" within 0.3 s of the actual death), busy with -D 5 -w (dead
  within 5 + 1 s of the cut) and busy with plain keepalive -d 2 -i 1 -c 3 -w,
  no user timeout (still alive 3 x 5 s after the cut: keepalive never probes
  a connection with data in flight, which is why the deadline exists).
- A listener with -D 5: the accepted connection reads back 2/1/3 and 5000 ms
  from its own socket, and the server reports the cut-off client lost 5 s
  +- (2% + 0.15 s) after its last ACK.

The python/tests/test_deadline_netns.py module proves the same from Python.
"""

import errno
import os
import re
import subprocess
import time
import unittest

from support.built import program
from support.examples import CLIENT, SERVER, stamp_of
from support.netlab import Lab, why_no_lab
from support.report import assert_near, report
from support.skips import needs

NO_LAB = why_no_lab()

D = 5


def tolerance(seconds):
    """The issue's bound on an idle death: 2% of it, plus 0.15 s."""
    return seconds * 0.02 + 0.15


# The end of a connection, as the client reports it.
LOST = re.compile(r"connection lost: (.+) \(last data received ([\d.]+) s ago, "
                  r"last ACK received ([\d.]+) s ago\)")
# A liveness line while the peer is overdue.
SILENT = re.compile(r"\] peer silent ([\d.]+) s: (\d+) (probes?|segments?) "
                    r"(?:out|unacknowledged), dead in ([\d.]+) s$")
QUIET_ARGS = ["-d", "600"]  # the other side probes too late to matter


def start_server(lab, args):
    """Starts the server in the server namespace; returns (proc, port)."""
    srv = lab.start("server", [program(SERVER), *args, "0"])
    m, _ = srv.expect(r"listening on port (\d+)")
    return srv, int(m.group(1))


def start_client(lab, name, args, port):
    """Starts a client and waits until it is connected and has read its settings back."""
    cli = lab.start("client", [program(CLIENT), *args, f"{lab.server_ip}:{port}"], name=name)
    cli.expect(r"\bconnected to\b")
    m, _ = cli.expect(r"^a silent peer is declared dead ")
    return cli, m.string


def silent_lines(proc, since):
    """(stamp, dead in) of every liveness line stamped at or after since."""
    proc.drain()
    found = []
    for _, line in proc.lines:
        m = SILENT.search(line)
        if m and stamp_of(line) >= since:
            found.append((stamp_of(line), float(m.group(4))))
    return found


@needs(NO_LAB)
class DeadlineTest(unittest.TestCase):

    def test_1_idle_and_busy_at_the_deadline_beside_plain_busy(self):
        with Lab() as lab:
            srv, port = start_server(lab, [])
            idle, said_idle = start_client(lab, "idle", ["-D", str(D)], port)
            busy, said_busy = start_client(lab, "busy", ["-D", str(D), "-w"], port)
            plain, said_plain = start_client(
                lab, "plain", ["-d", "2", "-i", "1", "-c", "3", "-w"], port)
            # What the library said each would do, before anything happened.
            both = (f"declared dead {D} s after its last ACK (after 3 probes); "
                    f"with data unacknowledged, {D} s after its last ACK")
            self.assertTrue(said_idle.endswith(both), said_idle)
            self.assertTrue(said_busy.endswith(both), said_busy)
            self.assertTrue(said_plain.endswith("dead 5 s after its last ACK (after 3 probes)"),
                            said_plain)
            srv.expect(r"\(3 connected\)")
            busy.expect(r"\] read \d+ bytes$")  # the echo flows
            plain.expect(r"\] read \d+ bytes$")

            report(f"server host cut off: {lab.cut('server')}")
            cut = time.time()

            # Idle: the keepalive probes go unanswered; dead at D after the last ACK.
            m, _ = idle.expect(LOST.pattern, timeout=D + 10)
            self.assertEqual(m.group(1), "Connection timed out", m.string)
            self.assertEqual(idle.wait(), 1, idle.transcript())
            died = stamp_of(m.string)
            assert_near(self, float(m.group(3)), D, tolerance(D),
                        f"idle, -D {D}: last ACK received before Connection timed out")
            report(f"idle: dead {died - cut:.3f} s after the cut")

            # Every liveness line while the peer was silent predicted that death.
            lines = silent_lines(idle, cut)
            self.assertGreaterEqual(len(lines), 2, idle.transcript())
            errors = [abs(stamp + dead_in - died) for stamp, dead_in in lines]
            report(f"idle: {len(lines)} liveness lines after the cut, worst prediction error "
                   f"{max(errors):.3f} s: " + ", ".join(f"{e:.3f}" for e in errors))
            self.assertLessEqual(max(errors), 0.3, idle.transcript())

            # Busy: data in flight, unacknowledged; the user timeout ends it.
            m, _ = busy.expect(LOST.pattern, timeout=D + 10)
            self.assertIn(m.group(1), (os.strerror(errno.ETIMEDOUT),
                                       os.strerror(errno.EHOSTUNREACH)), m.string)
            self.assertEqual(busy.wait(), 1, busy.transcript())
            after_cut = stamp_of(m.string) - cut
            report(f"busy, -D {D} -w: {m.group(1)} {after_cut:.3f} s after the cut, "
                   f"{float(m.group(3)):.3f} s after the last ACK (bound: {D} + 1 s after the cut)")
            self.assertLessEqual(after_cut, D + 1)
            self.assertGreaterEqual(after_cut, D - tolerance(D))

            # Plain keepalive, busy: the kernel retransmits instead of probing.
            left = cut + 3 * D - time.time()
            if left > 0:
                time.sleep(left)  # the property is "nothing happens for 3 x D"
            plain.drain()
            self.assertIsNone(plain.popen.poll(), plain.transcript())
            self.assertFalse([line for _, line in plain.lines if LOST.search(line)],
                             plain.transcript())
            last = silent_lines(plain, cut)
            self.assertTrue(last, plain.transcript())
            report(f"busy, plain -d 2 -i 1 -c 3 -w: still alive {time.time() - cut:.3f} s after "
                   f"the cut; its last liveness line says dead in {last[-1][1]:.3f} s")
            self.assertGreater(last[-1][1], 3 * D)

    def test_2_listener_deadline_inherited_and_client_cut_off(self):
        with Lab() as lab:
            srv, port = start_server(lab, ["-D", str(D)])
            srv.drain()
            self.assertIn("TCP_USER_TIMEOUT is 5000 ms", [line for _, line in srv.lines])
            cli, _ = start_client(lab, "client", QUIET_ARGS, port)
            # The accepted socket's own values, read back from the kernel
            # (keepalive_get on it; the server does not set them again).
            m, _ = srv.expect(r"client (\S+) connected \(1 connected\): keepalive (\S+), "
                              r"idle (\d+) s, interval (\d+) s, count (\d+), "
                              r"TCP_USER_TIMEOUT (\d+) ms$")
            peer, connected = m.group(1), stamp_of(m.string)
            self.assertEqual(m.groups()[1:], ("on", "2", "1", "3", "5000"), m.string)
            # And what ss sees on it: the keepalive timer runs, due within idle.
            ss = subprocess.run(["ip", "netns", "exec", lab.ns["server"], "ss", "-tnoH",
                                 "state", "established", f"( sport = :{port} )"],
                                capture_output=True, text=True).stdout
            timer = re.search(r"timer:\(keepalive,([\d.]+)(ms|sec|s),0\)", ss)
            self.assertTrue(timer, ss)
            report(f"accepted connection: keepalive on, 2/1/3, TCP_USER_TIMEOUT 5000 ms read "
                   f"back; ss: {timer.group(0)}")

            report(f"client host cut off: {lab.cut('client')}")
            m, _ = srv.expect(rf"client {re.escape(peer)} lost after ([\d.]+) s: ([^;]+); "
                              r"last data received ([\d.]+) s ago, last ACK received "
                              r"([\d.]+) s ago \(0 connected\)$", timeout=D + 10)
            self.assertEqual(m.group(2), "Connection timed out", m.string)
            assert_near(self, float(m.group(4)), D, tolerance(D),
                        f"server -D {D}: client's last ACK before it was declared lost")
            report(f"server: client lost {float(m.group(1)):.3f} s after it connected "
                   f"({stamp_of(m.string) - connected:.3f} s by the lines' stamps)")
            srv.signal(15)
            self.assertEqual(srv.wait(), 0, srv.transcript())
