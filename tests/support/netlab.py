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

Namespaces is what every lab shares (natlab.NatLab is another); vanish(port)
cuts one port off inside a namespace of the caller's own (unshare --net).
"""

import atexit
import os
import shutil
import signal
import subprocess
import threading
import time

from support.host import why_no_root
from support.proc import Proc, sh

CLIENT_IP = "192.0.2.1"
SERVER_IP = "192.0.2.2"


def why_no_lab():
    """Returns None when namespaces can be made here, else the reason why not."""
    why = why_no_root("to create network namespaces")
    if why:
        return why
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is missing"
    probe = f"katprobe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` does not work here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def vanish(port):
    """Makes a local TCP port vanish for its peer: an nftables rule in this
    network namespace drops every packet sent from it, so the peer hears
    nothing more (no FIN, no RST: a pulled cable). For a namespace of the
    caller's own (unshare --net), as root."""
    sh("nft", "add", "table", "inet", "vanish")
    sh("nft", "add", "chain", "inet", "vanish", "out",
       "{ type filter hook output priority 0; policy accept; }")
    sh("nft", "add", "rule", "inet", "vanish", "out", "tcp", "sport", str(port), "drop")


class Namespaces:
    """What every lab of namespaces shares: entered, it traps SIGTERM and
    SIGHUP, registers close() to run at exit, makes each namespace of
    `self.ns` (role -> name) with its loopback up, then calls `self._wire()`
    for the links; anything failing on the way closes what was made. close()
    stops every process started and deletes the namespaces.
    A subclass's __init__ calls Namespaces.__init__ with its namespaces; it
    defines `_wire`, and `_unwire` when close() has more to remove."""

    def __init__(self, ns, echo=None):
        self.ns = ns
        self.procs = []
        self.echo = echo
        self._closed = False
        self._old_handlers = {}

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

    def _unwire(self):
        """What close() removes before the namespaces (nothing here)."""

    def close(self):
        """Stops every process and deletes the namespaces; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for proc in reversed(self.procs):
            proc.stop()
        self._unwire()
        for ns in self.ns.values():
            sh("ip", "netns", "del", ns, check=False)
        for signo, handler in self._old_handlers.items():
            signal.signal(signo, handler)
        atexit.unregister(self.close)

    def wait_up(self, devices):
        """Waits until each (namespace, device) is reported up: packets sent
        before may be dropped (a readiness poll, not a guessed sleep)."""
        deadline = time.monotonic() + 10
        for ns, dev in devices:
            while "state UP" not in sh("ip", "-n", ns, "-o", "link", "show", "dev", dev):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{dev} did not come up")
                time.sleep(0.01)

    # -- what the tests do ------------------------------------------------------

    def start(self, role, argv, name=None, stderr_separately=False, env=None):
        """Starts argv inside the role's namespace; returns its Proc."""
        proc = Proc(name or role, ["ip", "netns", "exec", self.ns[role], *argv],
                    echo=self.echo, stderr_separately=stderr_separately, env=env)
        self.procs.append(proc)
        return proc

    def run(self, role, argv, timeout=120, env=None):
        """Runs argv to its end inside the role's namespace; returns the
        CompletedProcess (stdout and stderr as text)."""
        return subprocess.run(["ip", "netns", "exec", self.ns[role], *argv],
                              capture_output=True, text=True, timeout=timeout, env=env)


class Lab(Namespaces):
    """Two namespaces, "client" and "server", joined by a veth pair."""

    client_ip = CLIENT_IP
    server_ip = SERVER_IP

    def __init__(self, echo=None):
        tag = f"{os.getpid()}"
        super().__init__({"client": f"kat{tag}-c", "server": f"kat{tag}-s"}, echo)
        self.veth = {"client": f"kac{tag}", "server": f"kas{tag}"}
        self.ip = {"client": CLIENT_IP, "server": SERVER_IP}

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
        self.wait_up((self.ns[role], self.veth[role]) for role in ("client", "server"))

    def _unwire(self):
        for role in ("client", "server"):
            sh("ip", "link", "del", self.veth[role], check=False)  # if left in the root

    # -- what the tests do ------------------------------------------------------

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
