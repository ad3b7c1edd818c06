"""A two-host network lab in Linux network namespaces, for the end-to-end tests
and `make demo`. Python standard library only.

    with Lab() as lab:                      # namespaces <prefix>-c and <prefix>-s
        srv = lab.start("server", [server, "-d", "2", "5050"])
        srv.expect(r"listening on port")
        cli = lab.start("client", [client, f"{lab.server_ip}:5050"])
        cli.expect(r"connected")
        lab.cut("server")                   # the server's host drops every packet

Topology: a veth pair joins the two namespaces, client 192.0.2.1/24 and
server 192.0.2.2/24 (TEST-NET-1, never routed). Names carry the process id, so
parallel runs do not collide. Every process started and every namespace made
is removed on close(), which also runs on SIGTERM, SIGINT and interpreter exit.
"""

import atexit
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time

CLIENT_IP = "192.0.2.1"
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:")
SERVER_IP = "192.0.2.2"


def why_no_lab():
    """Returns None when namespaces can be made here, else the reason why not."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces (run as root, as CI does)"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is missing"
    probe = f"katprobe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` does not work here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def sh(*argv, check=True):
    """Runs a command, returns its stdout; raises with its stderr on failure."""
    done = subprocess.run(argv, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout


class Proc:
    """A started program whose output lines are collected as they arrive.

    Every line is kept with the monotonic time it was read, so a caller can
    wait for a line and know when it came, without sleeping. echo, when given,
    is called with (name, line) from the reading thread as each line arrives.
    """

    def __init__(self, name, argv, echo=None, stderr_separately=False, **popen_kwargs):
        self.name = name
        self.argv = argv
        self.lines = []  # (monotonic time, line), in order
        self._queue = queue.Queue()
        self._echo = echo
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if stderr_separately else subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C reaches us, and we clean up
            **popen_kwargs,
        )
        self.stderr_lines = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(self.popen.stdout, self._queue),
                                        daemon=True)
        self._reader.start()
        if stderr_separately:
            threading.Thread(target=self._read, args=(self.popen.stderr, self.stderr_lines),
                             daemon=True).start()

    def _read(self, stream, sink):
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            sink.put((time.monotonic(), line))
            if self._echo is not None:
                self._echo(self.name, line)  # live, as the line arrives
        sink.put((time.monotonic(), None))

    def expect(self, pattern, timeout=30.0):
        """Waits for an output line matching pattern (a regex).

        Returns (match, monotonic time the line was read). The timeout is a
        safety net against a hung program, not a measurement: it raises
        AssertionError with everything the program printed.
        """
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                when, line = self._queue.get(timeout=max(left, 0.001))
            except queue.Empty:
                raise AssertionError(
                    f"{self.name}: no line matching {pattern!r} within {timeout} s; "
                    f"output so far:\n{self.transcript()}") from None
            if line is None:
                self._queue.put((when, None))  # keep end-of-output visible
                raise AssertionError(
                    f"{self.name}: ended (status {self.popen.wait()}) without a line matching "
                    f"{pattern!r}; output:\n{self.transcript()}")
            self.lines.append((when, line))
            m = rx.search(line)
            if m:
                return m, when

    def drain(self):
        """Takes every line that has already arrived (echoing it), without waiting."""
        while True:
            try:
                when, line = self._queue.get_nowait()
            except queue.Empty:
                return
            if line is None:
                self._queue.put((when, None))
                return
            self.lines.append((when, line))

    def wait(self, timeout=30.0):
        """Waits for the program to exit; returns its status (safety timeout)."""
        status = self.popen.wait(timeout=timeout)
        self._reader.join(timeout=5)
        self.drain()
        return status

    def transcript(self):
        self.drain()
        return "\n".join(f"  | {line}" for _, line in self.lines)

    def signal(self, signo):
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signo)

    def stop(self):
        """Ends the program (SIGTERM, then SIGKILL) and reaps it.

        Raises AssertionError when the program printed a sanitizer report
        (AddressSanitizer, LeakSanitizer, UBSan) at any time, exit included.
        """
        if self.popen.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait()
        self._reader.join(timeout=5)
        self.drain()
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()
        if any(SANITIZER_REPORT.search(line) for _, line in self.lines):
            raise AssertionError(f"{self.name}: sanitizer report:\n{self.transcript()}")


class Namespaces:
    """What every lab of namespaces shares: entered, it traps SIGTERM and
    SIGHUP, registers close() to run at exit, makes each namespace of
    `self.ns` (role -> name) with its loopback up, then calls `self._wire()`
    for the links; anything failing on the way closes what was made.
    A subclass sets `ns` and `_old_handlers` and defines `_wire` and
    `close`."""

    def __enter__(self):
        self._trap_signals()
        atexit.register(self.close)
        try:
            for ns in self.ns.values():
                sh("ip", "netns", "add", ns)
                sh("ip", "-n", ns, "link", "set", "lo", "up")
            self._wire()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def _trap_signals(self):
        """Makes SIGTERM and SIGHUP unwind like Ctrl-C, so cleanup runs."""
        def interrupted(signo, _frame):
            raise KeyboardInterrupt(f"signal {signo}")
        for signo in (signal.SIGTERM, signal.SIGHUP):
            if threading.current_thread() is threading.main_thread():
                self._old_handlers[signo] = signal.signal(signo, interrupted)


class Lab(Namespaces):
    """Two namespaces, "client" and "server", joined by a veth pair."""

    client_ip = CLIENT_IP
    server_ip = SERVER_IP

    def __init__(self, echo=None):
        tag = f"{os.getpid()}"
        self.ns = {"client": f"kat{tag}-c", "server": f"kat{tag}-s"}
        self.veth = {"client": f"kac{tag}", "server": f"kas{tag}"}
        self.ip = {"client": CLIENT_IP, "server": SERVER_IP}
        self.procs = []
        self.echo = echo
        self._closed = False
        self._old_handlers = {}

    # -- set up and tear down -------------------------------------------------

    def _wire(self):
        self._link()

    def _link(self):
        """Creates the veth pair, one end in each namespace, addressed and up."""
        c, s = self.veth["client"], self.veth["server"]
        sh("ip", "link", "add", c, "netns", self.ns["client"], "type", "veth",
           "peer", "name", s, "netns", self.ns["server"])
        for role in ("client", "server"):
            ns, dev = self.ns[role], self.veth[role]
            sh("ip", "-n", ns, "addr", "add", f"{self.ip[role]}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        # Packets sent before the kernel reports the link up may be dropped:
        # wait for that state (a readiness poll, not a guessed sleep).
        deadline = time.monotonic() + 10
        for role in ("client", "server"):
            while "state UP" not in sh("ip", "-n", self.ns[role], "-o", "link", "show",
                                       "dev", self.veth[role]):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.veth[role]} did not come up")
                time.sleep(0.01)

    def close(self):
        """Stops every process and deletes both namespaces; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for proc in reversed(self.procs):
            proc.stop()
        for role in ("client", "server"):
            sh("ip", "link", "del", self.veth[role], check=False)  # if left in the root
            sh("ip", "netns", "del", self.ns[role], check=False)
        for signo, handler in self._old_handlers.items():
            signal.signal(signo, handler)
        atexit.unregister(self.close)

    # -- what the tests do ------------------------------------------------------

    def start(self, role, argv, name=None, stderr_separately=False):
        """Starts argv inside the role's namespace; returns its Proc."""
        proc = Proc(name or role, ["ip", "netns", "exec", self.ns[role], *argv],
                    echo=self.echo, stderr_separately=stderr_separately)
        self.procs.append(proc)
        return proc

    def cut(self, role):
        """Pulls the plug on a host: from now on it neither sends nor receives.

        An nftables table in its namespace drops every IPv4 and IPv6 packet in
        and out. Its peer sees only silence: its probes go out on the wire and
        nothing answers (no ICMP error, no RST). Without nft, a blackhole route
        towards the peer drops what the host would send.
        Returns how it was done, for the log.
        """
        ns = self.ns[role]
        why_not = "nft is not installed"
        if shutil.which("nft"):
            done = subprocess.run(
                ["ip", "netns", "exec", ns, "nft",
                 "add table inet katcut; "
                 "add chain inet katcut in { type filter hook input priority -300; policy drop; }; "
                 "add chain inet katcut out { type filter hook output priority -300; policy drop; }"],
                capture_output=True, text=True)
            if done.returncode == 0:
                return "nftables drops every packet in and out"
            why_not = f"nft failed: {done.stderr.strip()}"
        peer = self.ip["server" if role == "client" else "client"]
        sh("ip", "-n", ns, "route", "add", "blackhole", f"{peer}/32")
        return f"blackhole route to {peer}: nothing goes out ({why_not})"

    def crash_and_reboot_server(self, server):
        """The server's host dies without a packet and comes back without the
        connection: the wire is pulled first (the veth pair deleted), then the
        server is killed and its namespace deleted, then a fresh namespace with
        the same address is plugged in again.
        """
        sh("ip", "-n", self.ns["client"], "link", "del", self.veth["client"])
        server.signal(signal.SIGKILL)
        server.wait()
        sh("ip", "netns", "del", self.ns["server"])
        sh("ip", "netns", "add", self.ns["server"])
        sh("ip", "-n", self.ns["server"], "link", "set", "lo", "up")
        self._link()
