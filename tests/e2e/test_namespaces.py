"""Dead peers detected when the formula says, on real packets between two hosts.

Each test builds two network namespaces joined by a veth pair (netlab.Lab),
runs the C server in one and the C client in the other, then pulls the plug on
one host and measures when the other notices. Keepalive declares a silent peer
dead idle + interval x count seconds after the last ACK it sent; with
-d 2 -i 1 -c 3 that is 5 s. Needs root and `ip netns`; skips saying why
otherwise.
"""

import re
import struct
import subprocess
import threading
import queue
import time
import unittest

from support.built import program
from support.examples import CLIENT, SERVER, stamp_of
from support.host import why_no_command
from support.netlab import Lab, why_no_lab
from support.report import assert_near, report
from support.skips import first, needs

NO_LAB = why_no_lab()
# make test-e2e installs tcpdump as root.
NO_TCPDUMP = why_no_command("tcpdump", "tcpdump")

# -d 2 -i 1 -c 3: probes at 2, 3 and 4 s of silence, dead at 5 s.
IDLE, INTERVAL, COUNT = 2, 1, 3
DEAD_AFTER = IDLE + INTERVAL * COUNT
BOUND = 0.5  # the bound on detection time
KEEPALIVE_ARGS = ["-d", str(IDLE), "-i", str(INTERVAL), "-c", str(COUNT)]
# The other side probes too late to matter during a test.
QUIET_ARGS = ["-d", "600"]

LOST = re.compile(r"connection lost: (.+) \(last data received ([\d.]+) s ago, "
                  r"last ACK received ([\d.]+) s ago\)")


def start_server(lab, args):
    """Starts the server in the server namespace; returns (proc, port)."""
    srv = lab.start("server", [program(SERVER), *args, "0"])
    m, _ = srv.expect(r"listening on port (\d+)")
    return srv, int(m.group(1))


def start_client(lab, args, port):
    """Starts the client and waits until it is connected; returns (proc, its stamp)."""
    cli = lab.start("client", [program(CLIENT), *args, f"{lab.server_ip}:{port}"])
    m, _ = cli.expect(r"\bconnected to\b")
    return cli, stamp_of(m.string)


@needs(NO_LAB)
class DeadPeerTest(unittest.TestCase):

    def test_1_client_detects_server_cut_off(self):
        """The client reports `Connection timed out` 5 s after connecting."""
        with Lab() as lab:
            srv, port = start_server(lab, QUIET_ARGS)
            cli, connected = start_client(lab, KEEPALIVE_ARGS, port)
            srv.expect(r"client \S+ connected")
            report(f"server cut off: {lab.cut('server')}")
            m, _ = cli.expect(LOST.pattern, timeout=DEAD_AFTER + 10)
            self.assertEqual(m.group(1), "Connection timed out", m.string)
            self.assertEqual(cli.wait(), 1, cli.transcript())
            assert_near(self, stamp_of(m.string) - connected, DEAD_AFTER, BOUND,
                        "client: connected -> Connection timed out")
            assert_near(self, float(m.group(3)), DEAD_AFTER, BOUND,
                        "client: last ACK received before the error")

    def test_2_server_detects_client_cut_off(self):
        """The server reports its client lost (timed out) 5 s after it connected."""
        with Lab() as lab:
            srv, port = start_server(lab, KEEPALIVE_ARGS)
            cli, _ = start_client(lab, QUIET_ARGS, port)
            m, _ = srv.expect(r"client (\S+) connected")
            peer, connected = m.group(1), stamp_of(m.string)
            self.assertEqual(peer.rsplit(":", 1)[0], lab.client_ip)
            report(f"client cut off: {lab.cut('client')}")
            m, _ = srv.expect(rf"client {re.escape(peer)} lost after ([\d.]+) s: ([^;(]+)[;(]",
                              timeout=DEAD_AFTER + 10)
            self.assertEqual(m.group(2).strip(), "Connection timed out", m.string)
            assert_near(self, float(m.group(1)), DEAD_AFTER, BOUND,
                        "server: seconds connected when the client was declared lost")
            assert_near(self, stamp_of(m.string) - connected, DEAD_AFTER, BOUND,
                        "server: connect line -> lost line")
            srv.signal(15)
            self.assertEqual(srv.wait(), 0, srv.transcript())

    def test_3_crash_and_reboot_answers_probe_with_rst(self):
        """A rebooted server answers the next probe with RST: reset, long before timeout."""
        idle, interval, count = 2, 2, 10
        dead_after = idle + interval * count
        with Lab() as lab:
            srv, port = start_server(lab, QUIET_ARGS)
            cli, connected = start_client(
                lab, ["-d", str(idle), "-i", str(interval), "-c", str(count)], port)
            _, seen_connected = srv.expect(r"client \S+ connected")
            t0 = time.monotonic()
            lab.crash_and_reboot_server(srv)
            rebooted = time.monotonic()
            report(f"server host crashed and rebooted without the connection "
                   f"in {rebooted - t0:.3f} s")
            m, _ = cli.expect(LOST.pattern, timeout=dead_after + 10)
            self.assertEqual(m.group(1), "Connection reset by peer", m.string)
            self.assertEqual(cli.wait(), 1, cli.transcript())
            elapsed = stamp_of(m.string) - connected
            report(f"client: connected -> Connection reset by peer: {elapsed:.3f} s "
                   f"(the first probe goes at {idle} s; a silent peer would take {dead_after} s)")
            self.assertLess(elapsed, dead_after / 2)
            # The first probe after the reboot draws the RST. The reboot takes
            # a fraction of a second, so that is normally the probe at `idle`.
            if rebooted - seen_connected < idle - BOUND:
                self.assertLessEqual(abs(elapsed - idle), BOUND,
                                     f"reset after {elapsed:.3f} s, expected at the first probe")


# -- the capture --------------------------------------------------------------

TH_FIN, TH_SYN, TH_RST, TH_ACK = 0x01, 0x02, 0x04, 0x10


class Capture:
    """tcpdump writing pcap to a pipe, decoded here packet by packet as it comes.

    Each packet is (capture time, src ip, dst ip, flags, seq, ack, payload length).
    """

    def __init__(self, lab, role, port):
        argv = ["ip", "netns", "exec", lab.ns[role], "tcpdump", "-i", lab.veth[role], "-nn",
                "-U", "-w", "-", f"tcp port {port}"]
        self.popen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      start_new_session=True)
        self.packets = queue.Queue()
        # tcpdump says "listening on" once the capture is running.
        line = self.popen.stderr.readline().decode(errors="replace")
        if "listening on" not in line:
            self.stop()
            raise AssertionError(f"tcpdump did not start: {line.strip()}")
        threading.Thread(target=self._decode, daemon=True).start()

    def _read(self, n):
        data = b""
        while len(data) < n:
            more = self.popen.stdout.read(n - len(data))
            if not more:
                raise EOFError
            data += more
        return data

    def _decode(self):
        try:
            head = self._read(24)
            magic = head[:4]
            endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
            frac = 1e-9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e-6
            linktype = struct.unpack(endian + "I", head[20:24])[0]
            assert linktype == 1, f"expected Ethernet captures, got link type {linktype}"
            while True:
                sec, sub, incl, _ = struct.unpack(endian + "IIII", self._read(16))
                frame = self._read(incl)
                pkt = self._tcp(frame)
                if pkt is not None:
                    self.packets.put((sec + sub * frac, *pkt))
        except EOFError:
            self.packets.put(None)

    @staticmethod
    def _tcp(frame):
        """Decodes an Ethernet/IPv4/TCP frame; None for anything else."""
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":
            return None
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        if ip[9] != 6:
            return None
        src = ".".join(str(b) for b in ip[12:16])
        dst = ".".join(str(b) for b in ip[16:20])
        tcp = ip[ihl:]
        seq, ack = struct.unpack("!II", tcp[4:12])
        thl = (tcp[12] >> 4) * 4
        return src, dst, tcp[13], seq, ack, total - ihl - thl

    def next(self, timeout):
        pkt = self.packets.get(timeout=timeout)
        if pkt is None:
            raise AssertionError("tcpdump stopped")
        return pkt

    def stop(self):
        if self.popen.poll() is None:
            self.popen.terminate()
            self.popen.wait()
        self.popen.stdout.close()
        self.popen.stderr.close()


@needs(first(NO_LAB, NO_TCPDUMP))
class OnTheWireTest(unittest.TestCase):

    def test_4_probes_on_the_wire(self):
        """Zero-length ACK probes: answered ones every idle, unanswered every interval."""
        with Lab() as lab:
            srv, port = start_server(lab, QUIET_ARGS)
            cap = Capture(lab, "client", port)
            try:
                self._watch(lab, srv, cap, port)
            finally:
                cap.stop()

    def _watch(self, lab, srv, cap, port):
        cli, _ = start_client(lab, KEEPALIVE_ARGS, port)
        c, s = lab.client_ip, lab.server_ip
        wait = DEAD_AFTER + 10

        # The handshake gives the client's initial sequence number: a probe
        # carries seq = (next byte to send) - 1 = ISN, as the client sends no data.
        while True:
            t, src, dst, flags, seq, ack, length = cap.next(wait)
            if src == c and flags & TH_SYN:
                isn = seq
            elif src == c and flags == TH_ACK and seq == isn + 1:
                established = t
                break

        def is_probe(p):
            return p[1] == c and p[3] == TH_ACK and p[4] == isn and p[6] == 0

        def is_answer(p):
            return p[1] == s and p[3] == TH_ACK and p[5] == isn + 1 and p[6] == 0

        # Phase 1: the server answers. Each answer restarts the idle clock, so
        # probes come every IDLE seconds, each answered by a zero-length ACK.
        answered = []  # (probe time, answer time)
        probe_at = None
        while len(answered) < 3:
            p = cap.next(wait)
            if is_probe(p):
                self.assertIsNone(probe_at, "a probe went unanswered while the server was up")
                probe_at = p[0]
            elif is_answer(p) and probe_at is not None:
                answered.append((probe_at, p[0]))
                report(f"probe {len(answered)} (seq {isn}, length 0, ACK) at "
                       f"+{probe_at - established:.3f} s, answered by a zero-length ACK after "
                       f"{(p[0] - probe_at) * 1000:.3f} ms")
                probe_at = None
            else:
                self.fail(f"unexpected packet while idle: {p}")
        report(f"server cut off: {lab.cut('server')}")

        # Phase 2: silence. The first probe goes IDLE after the last answer,
        # the others every INTERVAL; after COUNT of them the client gives up
        # and sends RST.
        unanswered = []
        while True:
            p = cap.next(wait)
            if is_probe(p):
                unanswered.append(p[0])
                report(f"unanswered probe {len(unanswered)} at +{p[0] - established:.3f} s")
            elif p[1] == c and p[3] & TH_RST:
                rst_at = p[0]
                report(f"client gave up and sent RST at +{rst_at - established:.3f} s")
                break
            else:
                self.fail(f"unexpected packet after the cut: {p}")

        m, _ = cli.expect(LOST.pattern, timeout=wait)
        self.assertEqual(m.group(1), "Connection timed out")
        self.assertEqual(cli.wait(), 1)

        tol = 0.25
        previous = established
        for i, (probe, _) in enumerate(answered, 1):
            assert_near(self, probe - previous, IDLE, tol,
                        f"answered probe {i}: time since the last ACK received")
            previous = probe  # the answer came within a millisecond of the probe
        self.assertEqual(len(unanswered), COUNT, "unanswered probes before giving up")
        assert_near(self, unanswered[0] - answered[-1][1], IDLE, tol,
                    "first unanswered probe: time since the last answer")
        for i in range(1, COUNT):
            assert_near(self, unanswered[i] - unanswered[i - 1], INTERVAL, tol,
                        f"unanswered probe {i + 1}: time since probe {i}")
        assert_near(self, rst_at - unanswered[-1], INTERVAL, tol,
                    "RST: time since the last probe")
        assert_near(self, rst_at - answered[-1][1], DEAD_AFTER, BOUND,
                    "dead declared: time since the last answer (idle + interval x count)")
