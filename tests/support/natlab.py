"""A three-host lab with a stateful NAT router between client and server, in
Linux network namespaces, for the middlebox tests and `make demo`. Python
standard library only; builds on netlab (Namespaces, why_no_lab).

    with NatLab(timeout=6) as lab:          # namespaces <prefix>-c, -r, -s
        srv = lab.start("server", [server, "0"])
        cli = lab.start("client", [client, f"{lab.server_ip}:5050"])
        lab.forgotten()                     # packets of forgotten flows so far

Topology: client 198.51.100.2/24 -- router 198.51.100.1 | 203.0.113.1 --
server 203.0.113.2/24 (TEST-NET-2 and TEST-NET-3, never routed). The router
forwards, masquerades the client behind 203.0.113.1, and filters statefully
with nftables: packets of established flows pass, a new flow passes only as
a SYN from the client's side, and everything else (a packet of a flow the
router forgot, which conntrack with nf_conntrack_tcp_loose=0 calls invalid)
is dropped, or, with reset=True, answered with a TCP reset as load
balancers do. nf_conntrack_tcp_timeout_established is `timeout` seconds in
the router's namespace only (conntrack's sysctls are per namespace): a flow
silent that long is forgotten.

Names carry the process id, so parallel runs do not collide. Every process
started and every namespace made is removed on close(), which also runs on
SIGTERM, SIGINT and interpreter exit.
"""

import os
import shutil
import subprocess

from support.netlab import Namespaces, sh, why_no_lab

CLIENT_IP = "198.51.100.2"
ROUTER_CLIENT_IP = "198.51.100.1"
ROUTER_SERVER_IP = "203.0.113.1"
SERVER_IP = "203.0.113.2"


def why_no_natlab():
    """Returns None when the NAT lab can be made here, else the reason why not."""
    why = why_no_lab()
    if why:
        return why
    if shutil.which("nft") is None:
        return "nft (nftables) is missing: the router's NAT and filter are nftables rules"
    if not os.path.exists("/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established"):
        # Loading nf_conntrack (an nft rule with `ct` does) makes the sysctls appear.
        probe = f"katnprobe-{os.getpid()}"
        sh("ip", "netns", "add", probe)
        try:
            done = subprocess.run(
                ["ip", "netns", "exec", probe, "nft",
                 "add table ip p; add chain ip p c { type filter hook forward priority 0; }; "
                 "add rule ip p c ct state established accept"],
                capture_output=True, text=True)
            if done.returncode != 0:
                return f"nftables cannot track connections here: {done.stderr.strip()}"
        finally:
            sh("ip", "netns", "del", probe, check=False)
    return None


class NatLab(Namespaces):
    """Three namespaces, "client", "router" and "server"."""

    client_ip = CLIENT_IP
    server_ip = SERVER_IP

    def __init__(self, timeout, reset=False, echo=None):
        tag = f"{os.getpid()}"
        super().__init__({"client": f"katn{tag}-c", "router": f"katn{tag}-r",
                          "server": f"katn{tag}-s"}, echo)
        self.timeout = timeout
        self.reset = reset
        # veth ends: client side and server side, each with its router end.
        self.links = {
            "client": (f"kanc{tag}", f"kanrc{tag}", CLIENT_IP, ROUTER_CLIENT_IP),
            "server": (f"kans{tag}", f"kanrs{tag}", SERVER_IP, ROUTER_SERVER_IP),
        }

    # -- set up and tear down -------------------------------------------------

    def _wire(self):
        self._link()
        self._router()

    def _link(self):
        router = self.ns["router"]
        for role, (end, router_end, ip, router_ip) in self.links.items():
            sh("ip", "link", "add", end, "netns", self.ns[role], "type", "veth",
               "peer", "name", router_end, "netns", router)
            sh("ip", "-n", self.ns[role], "addr", "add", f"{ip}/24", "dev", end)
            sh("ip", "-n", router, "addr", "add", f"{router_ip}/24", "dev", router_end)
            sh("ip", "-n", self.ns[role], "link", "set", end, "up")
            sh("ip", "-n", router, "link", "set", router_end, "up")
            sh("ip", "-n", self.ns[role], "route", "add", "default", "via", router_ip)
        self.wait_up(pair for role, (end, router_end, _, _) in self.links.items()
                     for pair in ((self.ns[role], end), (router, router_end)))

    def _router(self):
        router = self.ns["router"]
        client_if, server_if = self.links["client"][1], self.links["server"][1]
        forgotten = "reject with tcp reset" if self.reset else "drop"
        rules = f"""
table ip katnat {{
    counter forgotten {{}}
    chain forward {{
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "{client_if}" oifname "{server_if}" tcp flags & (syn | ack | fin | rst) == syn ct state new accept
        meta l4proto tcp counter name "forgotten" {forgotten}
    }}
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "{server_if}" masquerade
    }}
}}
"""
        done = subprocess.run(["ip", "netns", "exec", router, "nft", "-f", "-"],
                              input=rules, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"nft in the router failed: {done.stderr.strip()}")
        self.sysctl("net.ipv4.ip_forward", 1)
        self.sysctl("net.netfilter.nf_conntrack_tcp_loose", 0)
        self.sysctl("net.netfilter.nf_conntrack_tcp_timeout_established", self.timeout)

    def sysctl(self, name, value):
        """Sets a sysctl in the router's namespace, and checks it took."""
        path = "/proc/sys/" + name.replace(".", "/")
        sh("ip", "netns", "exec", self.ns["router"], "sh", "-c", f"echo {value} > {path}")
        got = sh("ip", "netns", "exec", self.ns["router"], "cat", path).strip()
        if got != str(value):
            raise RuntimeError(f"{name} is {got} in the router, not {value}")

    # -- what the tests do ------------------------------------------------------

    def forgotten(self):
        """How many packets of forgotten flows the router dropped (or reset)."""
        out = sh("ip", "netns", "exec", self.ns["router"], "nft", "list", "counter",
                 "ip", "katnat", "forgotten")
        for word, value in zip(out.split(), out.split()[1:]):
            if word == "packets":
                return int(value)
        raise RuntimeError(f"no packet count in {out!r}")
