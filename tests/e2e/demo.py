#!/usr/bin/env python3
"""`make demo`: TCP keepalive seen working, for a newcomer, in about 35 seconds.

    python3 tests/e2e/demo.py [--bin DIR]

1. The C server and client on loopback with short keepalive settings: their
   lines, and the probes on the wire (tcpdump when it can capture, else the
   kernel's keepalive timer and probe counter as `ss` shows them).
2. As root with `ip netns`: the two programs on two hosts (network
   namespaces joined by a virtual cable); the server's host is cut off and
   the client declares it dead after idle + interval x count, measured.
3. The dead-peer deadline (-D 5): an idle and a busy connection cut off, each
   declared dead at about 5 s, beside a busy connection with plain keepalive
   (2/1/3, no user timeout) that the kernel still calls alive long after.
4. Then a crash and reboot: the rebooted host answers the next probe with RST.
5. Through a NAT router that forgets a connection silent 6 s (nftables and
   conntrack in a third namespace): a client without keepalive is forgotten,
   its next request never answered; one with -D 20 --max-idle 6 is kept.

Every process and namespace it makes is removed at the end, on Ctrl-C too.

Lines from the programs, the wire and the narration are printed in the order
things happened, not in the order they reached this script: tcpdump's lines
arrive a little after the client's own, so each line waits HOLD seconds and
lines are printed sorted by when they happened (the programs' and tcpdump's
own timestamps; arrival time for lines without one).
"""

import argparse
import datetime
import heapq
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, TESTS)

from support.examples import stamp_of  # noqa: E402
from support.natlab import NatLab, why_no_natlab  # noqa: E402
from support.netlab import Lab, why_no_lab  # noqa: E402
from support.proc import Proc  # noqa: E402

TTY = sys.stdout.isatty()


def color(code, text):
    return f"\033[{code}m{text}\033[0m" if TTY else text


class Ordered:
    """Prints lines in the order of the times they carry.

    put(when, text) queues a line that happened at wall-clock time `when`; a
    line is printed once HOLD seconds have passed since `when`, after every
    line that happened before it. A line arriving later than that is printed
    at once (never lost, merely out of place).
    """

    HOLD = 0.4

    def __init__(self):
        self._heap = []
        self._seq = itertools.count()  # keeps equal times in arrival order
        self._cond = threading.Condition()
        threading.Thread(target=self._run, daemon=True).start()

    def put(self, when, text):
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._seq), text))
            self._cond.notify()

    def _emit_due(self, now):
        while self._heap and self._heap[0][0] + self.HOLD <= now:
            print(heapq.heappop(self._heap)[2], flush=True)

    def _run(self):
        with self._cond:
            while True:
                self._emit_due(time.time())
                wait = self._heap[0][0] + self.HOLD - time.time() if self._heap else None
                self._cond.wait(timeout=wait)

    def flush(self):
        """Prints everything queued, in order (at the end, or before exiting)."""
        with self._cond:
            self._emit_due(float("inf"))


OUT = Ordered()


def say(text=""):
    """Narration: what happens and why (it happened now)."""
    OUT.put(time.time(), text)


def section(title):
    say()
    say(color("1;36", f"━━ {title} " + "━" * max(0, 74 - len(title))))


TAGS = {"server": "33", "client": "32", "wire": "35", "ss": "35",
        "idle": "32", "busy": "36", "plain": "31", "kept": "32", "forgotten": "31"}


class WireNotes:
    """Says in words what each tcpdump line is: handshake, probe, answer, reset.

    tcpdump prints no sequence number for a segment without data, so probes
    and answers are told apart by order: a zero-length ACK after the
    handshake is a probe, unless it follows the other side's probe, in which
    case it answers it.
    """

    def __init__(self):
        self.pending = None  # the side whose probe waits for an answer
        self.after_synack = False
        self.closing = False  # a FIN was seen: zero-length ACKs acknowledge it

    def __call__(self, line):
        m = re.search(r"IP6? (\S+)\.(\d+) > (\S+)\.(\d+): Flags \[([^\]]*)\]", line)
        if not m:
            return line
        src, flags = f"{m.group(1)}.{m.group(2)}", m.group(5)
        short = re.sub(r", options \[[^\]]*\]|, win \d+", "", line)
        if flags == "S":
            note = "SYN: the client connects"
        elif flags == "S.":
            note, self.after_synack = "SYN-ACK", True
        elif flags == "." and line.rstrip().endswith("length 0"):
            if self.closing:
                note = "ACK of the FIN"
            elif self.after_synack:
                note, self.after_synack = "ACK: connected", False
            elif self.pending is not None and self.pending != src:
                note, self.pending = "the answer: an ACK, the peer is alive", None
            else:
                note, self.pending = "keepalive probe: no data, ACK flag set", src
        elif "R" in flags:
            note = "RST: the connection is reset"
        elif "F" in flags:
            note, self.closing = "FIN: closing", True
        else:
            note = "data"
        return f"{short}   {color('2', '<- ' + note)}"


_notes = {}

_PROGRAM_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\]")
_WIRE_STAMP = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{6}) ")


def happened_at(tag, line, arrived):
    """When a line's event happened: the program's own timestamp
    ("[2025-01-01 12:00:05.084] ..."), tcpdump's ("12:00:05.084123 IP ..."),
    else the time the line arrived. A program's stamp is cut to the
    millisecond: the end of that millisecond is taken (a program reports what
    it saw: a packet stamped 12:00:05.084123 comes before the client's line
    about it stamped 12:00:05.084), or the arrival if that is sooner (what
    the narration says about a line comes after it)."""
    m = _PROGRAM_STAMP.match(line)
    if m:
        stamp = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        return min(stamp + 0.001, arrived)
    m = _WIRE_STAMP.match(line) if tag == "wire" else None
    if m:
        h, mi, sec, us = (int(g) for g in m.groups())
        today = datetime.datetime.fromtimestamp(arrived)
        t = today.replace(hour=h, minute=mi, second=sec, microsecond=us).timestamp()
        return t - 86400 if t > arrived + 3600 else t  # captured before midnight
    return arrived


_last_when = {}


def show(name, line):
    """Queues one line of a program, tagged with who said it, at the time it
    happened. A program's lines keep their own order (a line without a
    timestamp never goes before the line it followed)."""
    arrived = time.time()
    tag = name.split("#")[0]
    if tag == "wire" and (not line.strip() or re.search(
            r"listening on|verbose output suppressed|packets (captured|received|dropped)", line)):
        return
    when = max(happened_at(tag, line, arrived), _last_when.get(name, 0.0))
    _last_when[name] = when
    if tag == "wire":
        line = _notes.setdefault(name, WireNotes())(line)
    OUT.put(when, f"  {color(TAGS.get(tag, '0'), f'{tag:>6} │')} {line}")


def ss_seconds(text):
    """ss prints timers as "968ms", "1.992ms" (meaning seconds) or "1.5sec";
    returns seconds, or None for anything else."""
    m = re.fullmatch(r"(\d+)(?:\.(\d+))?(ms|sec|s)", text)
    if not m:
        return None
    whole, frac, unit = m.groups()
    return float(f"{whole}.{frac or 0}") if frac or unit != "ms" else int(whole) / 1000


def ss_line(sock, port, idle):
    """One socket of `ss -tnoiH` in words, or None when it has no keepalive timer.

    ss prints `lastack:N` (ms since the last ACK from the peer) only when N is
    not 0: absent means an ACK just came. The timer is the kernel's keepalive
    timer, when it next fires: with no probe unanswered, the next probe is due
    idle seconds after the last ACK (the timer may fire before that, re-check,
    and wait out the rest); with probes unanswered, the timer is the next probe.
    """
    timer = re.search(r"timer:\(keepalive,([^,]+),(\d+)\)", sock)
    if not timer:
        return None
    fields = sock.split()
    local = fields[2] if len(fields) > 2 else ""
    who = "server" if local.endswith(f":{port}") else "client"
    lastack = re.search(r"\blastack:(\d+)", sock)
    ack_ms = int(lastack.group(1)) if lastack else 0
    fires = ss_seconds(timer.group(1))
    unanswered = int(timer.group(2))
    fires_text = f"{fires:.3f} s" if fires is not None else timer.group(1)
    if unanswered == 0:
        due = max(0.0, idle - ack_ms / 1000)
        check = " (a re-check, not a probe)" if fires is not None and fires + 0.05 < due else ""
        return (f"{who} end: last ACK {ack_ms} ms ago, next probe due in {due:.3f} s; "
                f"keepalive timer fires in {fires_text}{check}")
    return (f"{who} end: {unanswered} probe(s) unanswered, last ACK {ack_ms} ms ago; "
            f"next probe in {fires_text}")


class Demo:
    def __init__(self, bindir):
        self.client = os.path.join(bindir, "tcp_keepalive_client")
        self.server = os.path.join(bindir, "tcp_keepalive_server")
        for path in (self.client, self.server):
            if not os.access(path, os.X_OK):
                sys.exit(f"demo: {path} is missing; run `make build-examples`")
        self.procs = []

    def start(self, name, argv):
        proc = Proc(name, argv, echo=show)
        self.procs.append(proc)
        return proc

    def stop_all(self):
        for proc in reversed(self.procs):
            try:
                proc.stop()
            except AssertionError as e:
                say(str(e))
        self.procs.clear()

    # -- 1. loopback ------------------------------------------------------------

    def loopback(self):
        section("1. Keepalive on loopback: the server and the client of the article")
        say("TCP sends nothing on an idle connection, so a peer that loses power or its")
        say("cable is never noticed. Keepalive makes the kernel check: after IDLE seconds")
        say("of silence it sends a probe (an ACK with no data) and a live peer answers it.")
        say("Unanswered, the probe is repeated every INTVL seconds; after CNT of them the")
        say("peer is declared dead, idle + interval x count seconds after it last spoke.")
        say()
        say("Starting the server with -d 2 -i 1 -c 3 (idle 2 s, interval 1 s, 3 probes):")
        srv = self.start("server", [self.server, "-d", "2", "-i", "1", "-c", "3", "0"])
        m, _ = srv.expect(r"listening on port (\d+)")
        port = m.group(1)

        wire = None
        if shutil.which("tcpdump") and os.geteuid() == 0:
            say()
            say(f"Watching the wire: tcpdump -nn -i lo tcp port {port}")
            wire = self.start("wire#lo", ["tcpdump", "-nn", "-l", "--immediate-mode", "-i", "lo",
                                          f"tcp port {port}"])
            wire.expect(r"listening on")
        else:
            say()
            say("(tcpdump cannot capture here: that needs root. Instead, `ss -tnoi` shows")
            say(" each end's last ACK from its peer, so when its next probe is due: idle = 2 s")
            say(" after that ACK. The kernel's keepalive timer fires at its next check, which")
            say(" is that probe, or a re-check when the peer spoke since the timer was set.)")

        say()
        say("Starting the client with the same settings; both ends now probe the other:")
        cli = self.start("client", [self.client, "-d", "2", "-i", "1", "-c", "3",
                                    f"127.0.0.1:{port}"])
        cli.expect(r"\] connected to ")
        srv.expect(r"client \S+ connected")
        if wire is not None:
            wire.expect(r"Flags \[\.\]")  # the handshake is on screen
        say()
        say("Now the connection sits idle. Every 2 s each end probes, the other answers:")
        if wire is not None:
            time.sleep(4.5)
        else:
            self.watch_ss(port, 4.5)
        say()
        say("Stopping the server (SIGTERM): it closes every connection, the client sees")
        say("the clean close and exits 0.")
        srv.signal(signal.SIGTERM)
        status = cli.wait()
        srv.wait()
        say(f"client exit status: {status}")
        self.stop_all()

    def watch_ss(self, port, seconds, idle=2):
        """Shows each end's keepalive state (via `ss`), twice a second."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            out = subprocess.run(["ss", "-tnoiH", "state", "established",
                                  f"( sport = :{port} or dport = :{port} )"],
                                 capture_output=True, text=True).stdout
            for sock in re.split(r"\n(?=\S)", out.strip()):
                line = ss_line(sock, port, idle)
                if line:
                    show("ss", line)
            time.sleep(0.5)

    # -- 2. and 3. two hosts ------------------------------------------------------

    def two_hosts(self):
        section("2. Pulling the plug: two hosts, and one of them goes silent")
        say("Two network namespaces act as two hosts joined by a virtual cable (veth):")
        with Lab(echo=show) as lab:
            say(f"  client host {lab.client_ip}, server host {lab.server_ip}")
            srv = lab.start("server", [self.server, "-d", "2", "-i", "1", "-c", "3", "5050"])
            srv.expect(r"listening on port")
            wire = self.capture(lab, "wire#2")
            cli = lab.start("client", [self.client, "-d", "2", "-i", "1", "-c", "3",
                                       f"{lab.server_ip}:5050"])
            m, _ = cli.expect(r"\] connected to ")
            srv.expect(r"client \S+ connected")
            if wire is not None:
                wire.expect(r"Flags \[\.\]")  # the handshake is on screen
            say()
            say("Pulling the plug on the server's host: from now on it sends and receives")
            say("nothing, like a machine whose power was cut. No FIN, no RST: silence.")
            how = lab.cut("server")
            cut_at = time.monotonic()
            say(f"  ({how})")
            m, lost_at = cli.expect(r"connection lost: (.+) \(last data received ([\d.]+) s "
                                    r"ago, last ACK received ([\d.]+) s ago\)", timeout=30)
            srv.expect(r"lost after", timeout=10)
            cli.wait()
            say()
            say(color("1", "The dead peer was detected:"))
            say(f"  client: {m.group(1)}, {float(m.group(3)):.3f} s after the last ACK it "
                f"received")
            say(f"          {lost_at - cut_at:.3f} s after the plug was pulled")
            say("  expected: idle + interval x count = 2 + 1 x 3 = 5 s")
            say("The server, with the same settings, lost its client at the same moment:")
            say("its own probes went unanswered too.")

    def deadline(self, d=5):
        section(f"3. The dead-peer deadline: one promise, dead {d} s after the last word")
        say("Keepalive only watches an idle connection. With data sent and not yet")
        say("acknowledged, the kernel does not probe: it retransmits, for about 15 minutes")
        say("by default. -D DEADLINE sets TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT and")
        say("TCP_USER_TIMEOUT together (keepalive_set_deadline), so that a silent peer is")
        say("declared dead DEADLINE seconds after it was last heard from, idle or busy.")
        say()
        say(f"One server, three clients: idle with -D {d}; busy with -D {d} -w (16 bytes")
        say("every 0.1 s, echoed; its reads are not shown); busy with plain keepalive")
        say("-d 2 -i 1 -c 3 -w and no user timeout. Each client prints, once a second while")
        say("its peer is overdue, what the library reads from the kernel (keepalive_get_status).")
        shown_reads = set()

        def echo(name, line):
            if name in ("busy", "plain") and re.search(r"\] read \d+ bytes$", line):
                if name in shown_reads:
                    return
                shown_reads.add(name)
            show(name, line)

        with Lab(echo=echo) as lab:
            srv = lab.start("server", [self.server, "5050"])
            srv.expect(r"listening on port")
            clients = {}
            for name, args in (("idle", ["-D", str(d)]), ("busy", ["-D", str(d), "-w"]),
                               ("plain", ["-d", "2", "-i", "1", "-c", "3", "-w"])):
                cli = lab.start("client", [self.client, *args, f"{lab.server_ip}:5050"],
                                name=name)
                cli.expect(r"^a silent peer is declared dead ")
                clients[name] = cli
            srv.expect(r"\(3 connected\)")
            for name in ("busy", "plain"):
                clients[name].expect(r"\] read \d+ bytes$")
            time.sleep(1)
            say()
            say("Pulling the plug on the server's host:")
            how = lab.cut("server")
            cut = time.time()
            say(f"  ({how})")
            lost = r"connection lost: (.+) \(last data received [\d.]+ s ago, " \
                   r"last ACK received ([\d.]+) s ago\)"
            results = {}
            for name in ("idle", "busy"):
                m, _ = clients[name].expect(lost, timeout=d + 10)
                results[name] = (m.group(1), stamp_of(m.string) - cut, float(m.group(2)))
                clients[name].wait()
            left = cut + 2 * d - time.time()
            if left > 0:
                time.sleep(left)  # the plain one: nothing happens, which is the point
            plain = clients["plain"]
            plain.drain()
            dead_in = [m.group(1) for _, line in plain.lines
                       if (m := re.search(r"dead in ([\d.]+) s$", line))]
            alive = plain.popen.poll() is None
            still = time.time() - cut
        say()
        say(color("1", f"The deadline, D = {d} s, measured (from the clients' own lines):"))
        for name, args in (("idle", f"-D {d}"), ("busy", f"-D {d} -w")):
            reason, after_cut, after_ack = results[name]
            say(f"  {name:5} {args:20} {reason} {after_ack:.3f} s after the last ACK "
                f"({after_cut:.3f} s after the cut)")
        say(f"  plain -d 2 -i 1 -c 3 -w    {'still alive' if alive else 'ended'} "
            f"{still:.3f} s after the cut: the kernel says dead in "
            f"{dead_in[-1] if dead_in else '?'} s")
        say("The idle one had heard nothing since it connected, a second before the cut:")
        say("its D counts from that last ACK. The busy one dies a little after D: the")
        say("kernel counts the user timeout from its first retransmission, a few hundred")
        say("milliseconds after the last ACK. The plain one retransmits and never probes:")
        say("without a user timeout, a busy connection to a dead peer lives ~15 minutes.")

    def crash_and_reboot(self):
        section("4. Crash and reboot: the host comes back without the connection")
        with Lab(echo=show) as lab:
            say("A fresh server starts with no options: the TCP_KEEPIDLE/TCP_KEEPCNT/")
            say("TCP_KEEPINTVL lines it prints are its own listening socket's, the system")
            say("defaults (7200 s idle...): the server does not probe in this scene. The")
            say("client connects with its own settings, -d 2 -i 2 -c 10: it probes after")
            say("2 s of silence, and a silent peer would take 2 + 2 x 10 = 22 s to be")
            say("declared dead. Then the server's host crashes (cable out, process killed,")
            say("namespace gone) and reboots at once with the same address. Its kernel")
            say("knows nothing of the connection, so it answers the client's next probe")
            say("with RST.")
            srv = lab.start("server", [self.server, "5050"])
            srv.expect(r"listening on port")
            cli = lab.start("client", [self.client, "-d", "2", "-i", "2", "-c", "10",
                                       f"{lab.server_ip}:5050"])
            cli.expect(r"\] connected to ")
            t0 = time.monotonic()
            srv.expect(r"client \S+ connected")
            lab.crash_and_reboot_server(srv)
            say(f"  (server host crashed and rebooted in {time.monotonic() - t0:.3f} s)")
            wire = self.capture(lab, "wire#3")
            m, t1 = cli.expect(r"connection lost: (.+) \(", timeout=30)
            cli.wait()
            if wire is not None:
                wire.expect(r"Flags \[R", timeout=5)  # the RST is on screen
            say()
            say(color("1", f"{m.group(1)} after {t1 - t0:.3f} s: the first probe found the "
                           "reboot, instead of waiting 22 s."))

    def middlebox(self, router=6, silence=9, d=20):
        section(f"5. Through a NAT router that forgets a connection silent {router} s")
        say("Keepalive's other job: NATs, firewalls and load balancers forget a connection")
        say("that stays silent (AWS NLB and NAT gateways after 350 s, Azure's load balancer")
        say("after 4 min); its next packet is dropped, and the request hangs. A third")
        say("namespace routes between client and server, with NAT and a stateful filter")
        say(f"(nftables, conntrack) that forgets a flow silent {router} s. Two clients send a")
        say(f"line, stay silent {silence} s, and send another: one without keepalive, one with")
        say(f"a deadline of {d} s and --max-idle {router} (keepalive_set_deadline_ex), whose")
        say("probes keep the router's memory of it fresh.")
        lib = os.path.join(os.path.dirname(self.client), "..", "lib", "libkeepalive.so")
        idle_client = [sys.executable, os.path.join(TESTS, "middlebox", "idle_client.py")]
        with NatLab(timeout=router, echo=show) as lab:
            srv = lab.start("server", [self.server, "-d", "600", "5050"])
            srv.expect(r"listening on port")
            target = [f"{lab.server_ip}:5050", str(silence)]
            forgotten = lab.start("client", [*idle_client, *target], name="forgotten")
            kept = lab.start("client", [*idle_client, *target, "--lib", os.path.abspath(lib),
                                        "-D", str(d), "--max-idle", str(router)], name="kept")
            for cli in (forgotten, kept):
                cli.expect(r"^ready$")
            say(f"Both connected through the router; {silence} s of silence now.")
            m_forgotten, _ = forgotten.expect(r"no answer within|answered after|reset",
                                              timeout=silence + 10)
            m_kept, _ = kept.expect(r"no answer within|answered after|reset", timeout=silence + 10)
            forgotten.wait()
            kept.wait()
            dropped = lab.forgotten()
        say()
        say(color("1", "Through the router:"))
        say(f"  without keepalive:  {m_forgotten.string} (the router dropped {dropped} "
            f"packets of the flow it forgot)")
        say(f"  -D {d} --max-idle {router}: {m_kept.string}")
        say("`keepalive measure HOST:PORT` finds a path's timeout; docs/middleboxes.md.")

    def capture(self, lab, name):
        """tcpdump on the client host's cable, when available; else None."""
        if not shutil.which("tcpdump"):
            return None
        wire = lab.start("client", ["tcpdump", "-nn", "-l", "--immediate-mode", "-i",
                                    lab.veth["client"], "tcp"], name=name)
        wire.expect(r"listening on")
        return wire


def main():
    parser = argparse.ArgumentParser(description="TCP keepalive, seen working.")
    parser.add_argument("--bin", default=os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                                      "build", "bin"))
    args = parser.parse_args()
    # SIGTERM and SIGHUP unwind like Ctrl-C, so the cleanup below always runs.
    for signo in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signo, lambda s, _f: (_ for _ in ()).throw(KeyboardInterrupt(s)))
    demo = Demo(args.bin)
    started = time.monotonic()
    try:
        demo.loopback()
        reason = why_no_lab()
        if reason is None:
            demo.two_hosts()
            demo.deadline()
            demo.crash_and_reboot()
            why_not = why_no_natlab()
            if why_not is None:
                demo.middlebox()
            else:
                section("5. Through a NAT router: skipped")
                say(f"The router needs nftables with connection tracking: {why_not}.")
        else:
            section("2. Pulling the plug: skipped")
            say(f"Cutting a peer off needs two network namespaces: {reason}.")
            say("Run `make demo` as root (for example `sudo make demo`) to see a dead peer")
            say("detected and measured, and the dead-peer deadline (-D) kept, idle and busy.")
    except KeyboardInterrupt:
        say()
        say("Interrupted: cleaning up.")
        return 130
    finally:
        demo.stop_all()
        OUT.flush()
    section(f"Done in {time.monotonic() - started:.1f} s: every process and namespace removed")
    say("Read more: docs/examples.md; the programs are in c-examples/.")
    OUT.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
