#!/usr/bin/env python3
"""`make demo`: TCP keepalive seen working, for a newcomer, in under a minute.

    python3 tests/e2e/demo.py [--bin DIR]

1. The C server and client on loopback with short keepalive settings: their
   lines, and the probes on the wire (tcpdump when it can capture, else the
   kernel's keepalive timer and probe counter as `ss` shows them).
2. As root with `ip netns`: the two programs on two hosts (network
   namespaces joined by a virtual cable); the server's host is cut off and
   the client declares it dead after idle + interval x count, measured.
3. Then a crash and reboot: the rebooted host answers the next probe with RST.

Every process and namespace it makes is removed at the end, on Ctrl-C too.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from netlab import Lab, Proc, why_no_lab  # noqa: E402

TTY = sys.stdout.isatty()
_print_lock = threading.Lock()


def color(code, text):
    return f"\033[{code}m{text}\033[0m" if TTY else text


def say(text=""):
    """Narration: what happens and why."""
    with _print_lock:
        print(text, flush=True)


def section(title):
    say()
    say(color("1;36", f"━━ {title} " + "━" * max(0, 74 - len(title))))


TAGS = {"server": "33", "client": "32", "wire": "35", "ss": "35"}


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
            if self.after_synack:
                note, self.after_synack = "ACK: connected", False
            elif self.pending is not None and self.pending != src:
                note, self.pending = "the answer: an ACK, the peer is alive", None
            else:
                note, self.pending = "keepalive probe: no data, ACK flag set", src
        elif "R" in flags:
            note = "RST: the connection is reset"
        elif "F" in flags:
            note = "FIN: closing"
        else:
            note = "data"
        return f"{short}   {color('2', '<- ' + note)}"


_notes = {}


def show(name, line):
    """Prints one line of a program, tagged with who said it."""
    tag = name.split("#")[0]
    if tag == "wire":
        if not line.strip() or re.search(r"listening on|verbose output suppressed|"
                                         r"packets (captured|received|dropped)", line):
            return
        line = _notes.setdefault(name, WireNotes())(line)
    with _print_lock:
        print(f"  {color(TAGS.get(tag, '0'), f'{tag:>6} │')} {line}", flush=True)


def ss_seconds(text):
    """ss prints timers as "968ms", "1.992ms" (meaning seconds) or "1.5sec"."""
    m = re.fullmatch(r"(\d+)(?:\.(\d+))?(ms|sec|s)", text)
    if not m:
        return text
    whole, frac, unit = m.groups()
    secs = float(f"{whole}.{frac or 0}") if frac or unit != "ms" else int(whole) / 1000
    return f"{secs:.3f} s"


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
            wire = self.start("wire#lo", ["tcpdump", "-nn", "-l", "-i", "lo", f"tcp port {port}"])
            wire.expect(r"listening on")
        else:
            say()
            say("(tcpdump cannot capture here: showing the kernel's keepalive timer with `ss`")
            say(" instead: timer:(keepalive,<time to next probe>,<unanswered probes>))")

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

    def watch_ss(self, port, seconds):
        """Shows each end's keepalive timer and TCP_INFO counters (via `ss`), twice a second."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            out = subprocess.run(["ss", "-tnoiH", "state", "established",
                                  f"( sport = :{port} or dport = :{port} )"],
                                 capture_output=True, text=True).stdout
            for sock in re.split(r"\n(?=\S)", out.strip()):
                timer = re.search(r"timer:\(keepalive,([^,]+),(\d+)\)", sock)
                lastack = re.search(r"lastack:(\d+)", sock)
                local = sock.split()[2] if len(sock.split()) > 2 else "?"
                who = "server" if local.endswith(f":{port}") else "client"
                if timer:
                    show("ss", f"{who} end: next probe in {ss_seconds(timer.group(1))}, "
                               f"unanswered probes "
                               f"{timer.group(2)}, last ACK received "
                               f"{int(lastack.group(1)) if lastack else '?'} ms ago")
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

    def crash_and_reboot(self):
        section("3. Crash and reboot: the host comes back without the connection")
        with Lab(echo=show) as lab:
            say("The client connects to a fresh server with -d 2 -i 2 -c 10: a silent peer")
            say("would take 2 + 2 x 10 = 22 s to be declared dead. Then the server's host")
            say("crashes (cable out, process killed, namespace gone) and reboots at once")
            say("with the same address. Its kernel knows nothing of the connection, so it")
            say("answers the client's next probe with RST.")
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

    def capture(self, lab, name):
        """tcpdump on the client host's cable, when available; else None."""
        if not shutil.which("tcpdump"):
            return None
        wire = lab.start("client", ["tcpdump", "-nn", "-l", "-i", lab.veth["client"], "tcp"],
                         name=name)
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
            demo.crash_and_reboot()
        else:
            section("2. Pulling the plug: skipped")
            say(f"Cutting a peer off needs two network namespaces: {reason}.")
            say("Run `sudo make demo` to see a dead peer detected and measured.")
    except KeyboardInterrupt:
        say()
        say("Interrupted: cleaning up.")
        return 130
    finally:
        demo.stop_all()
    section(f"Done in {time.monotonic() - started:.1f} s: every process and namespace removed")
    say("Read more: docs/examples.md; the programs are in c-examples/.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
