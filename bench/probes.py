"""Probe economy at an equal dead-peer deadline (issue 10), for probes.sh.

    probes.py run --prog P --ns-cli NS --ns-srv NS --server IP:PORT --out F.json
    probes.py report --results F.json --pcap F.pcap --client-ip IP --hz HZ

What is computed, and what is measured:

- Computed, for D = 150 s (ours, Go's default KeepAliveConfig 15 s/15 s/9,
  the even split idle = interval x probes) and D = 900 s and 3600 s (ours,
  the even split): the probes a healthy idle connection sends in 10 minutes.
  Each answered probe restarts the idle clock, so the kernel sends one every
  `idle` seconds: 600 / idle. Beside it each schedule's tolerance: lost probes
  survived in a row (probes - 1), the longest outage of both directions a
  healthy connection rides out ((probes - 1) x interval: it must cover every
  probe to kill), and the bound on a busy connection (the user timeout, or
  tcp_retries2 without one). Settings and probes-before-death come from
  libkeepalive (keepalive_deadline_schedule, keepalive_settings_dead_after).
- Measured on the wire, time-scaled so that it runs in a minute: connections
  made with libkeepalive in the client namespace, captured there (tcpdump),
  against a peer that only answers. (1) The economy model at 1/5 time:
  keepalive_set_deadline(30) (15/5/3 + 30 s, our split of 150 s to scale) and
  keepalive_set 3/3/9 (Go's, to scale), idle for 60 s: each probe must follow
  the last packet heard by idle .. idle + 1/8 (the timer wheel rounds a timer
  up by at most 1/8 of its delay, never down), so the count is between
  floor(60 / (1.125 idle)) and floor(60 / idle). (2) The blip figures: our
  split of 12 s (6/2/3 + 12 s) and Go's shape at 2/2/9, each with an outage
  (nftables in the peer's namespace, this connection's packets both ways) of
  tolerance - 1 s that must be survived and of tolerance + 1 s, covering
  every probe, that must kill at D.
"""

import argparse
import json
import math
import selectors
import subprocess
import sys
import time

from pcapread import ACK, FIN, SYN, tcp_packets

WINDOW = 60.0  # seconds of the 1/5-time economy run: 5 minutes at full scale
COMPARE = {  # deadline: [(name, spec)], the computed comparison
    150: [("ours", "deadline:150"), ("Go default", "set:15:15:9:0"),
          ("even split", "set:75:25:3:150000")],
    900: [("ours", "deadline:900"), ("even split", "set:450:150:3:900000")],
    3600: [("ours", "deadline:3600"), ("even split", "set:1800:600:3:3600000")],
}
ECONOMY = [("ours, D=30 s", "deadline:30"), ("Go's default", "set:3:3:9:0")]
BLIPS = [("ours, D=12 s", "deadline:12"), ("Go's shape", "set:2:2:9:0")]
LEAD = 0.3  # an outage starts this long before the first probe it must cover


def plan(prog, specs):
    """The library's view of each spec: settings and the kernel's rules."""
    out = subprocess.run([prog, "plan", *specs], check=True, capture_output=True, text=True).stdout
    plans = {}
    for line in out.splitlines():
        fields = dict(f.split("=", 1) for f in line.split()[1:])
        spec = fields.pop("spec")
        plans[spec] = {k: int(v) for k, v in fields.items()}
    return plans


def parse(line):
    """'ready port=1 t0=2.5' -> ('ready', {'port': 1.0, 't0': 2.5}); reason stays text."""
    word, *rest = line.split(" ")
    fields = {}
    for f in rest:
        k, _, v = f.partition("=")
        if k in fields or not _:  # a reason with spaces: glue it back
            fields["reason"] += " " + f
            continue
        fields[k] = v if k == "reason" else float(v)
    return word, fields


class Conn:
    def __init__(self, name, spec, kind, outage=None):
        self.name, self.spec, self.kind, self.outage = name, spec, kind, outage
        self.ready, self.acks, self.dead = None, [], None
        self.finish_at = math.inf
        self.blip = None  # {"start", "end", "on", "off"}: planned, and when the rule was in force
        self.proc = None


def nft(ns, script):
    subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=script, text=True, check=True)


def run(a):
    conns = [Conn(n, s, "economy") for n, s in ECONOMY]
    blip_plans = plan(a.prog, [s for _, s in BLIPS])
    for name, spec in BLIPS:
        p = blip_plans[spec]
        tolerance = (p["probes_before_death"] - 1) * p["interval"]
        conns.append(Conn(name, spec, "survive", tolerance - 1))
        conns.append(Conn(name, spec, "kill", tolerance + 1))
    host, port = a.server.split(":")
    sel = selectors.DefaultSelector()
    # Every connection at once: they share the two namespaces, and an outage
    # drops only its own connection's packets.
    for c in conns:
        c.proc = subprocess.Popen(["ip", "netns", "exec", a.ns_cli, a.prog, "conn", host, port, c.spec],
                                  stdout=subprocess.PIPE, text=True)
        sel.register(c.proc.stdout, selectors.EVENT_READ, c)
    table = lambda c: f"blip_{int(c.ready['port'])}"  # noqa: E731

    live = set(conns)
    while live:
        now = time.time()
        # Outages on and off, and connections whose time is up.
        for c in list(live):
            b = c.blip
            if b and b["on"] is None and now >= b["start"]:
                p = int(c.ready["port"])
                nft(a.ns_srv, f"table inet {table(c)} {{\n"
                              f" chain in {{ type filter hook input priority 0; tcp sport {p} drop; }}\n"
                              f" chain out {{ type filter hook output priority 0; tcp dport {p} drop; }}\n}}\n")
                b["on"] = time.time()
            if b and b["on"] is not None and b["off"] is None and now >= b["end"]:
                b["off"] = time.time()
                nft(a.ns_srv, f"delete table inet {table(c)}\n")
            if now >= c.finish_at and (not b or b["on"] is None or b["off"] is not None):
                c.proc.terminate()
                if c.proc.stdout in sel.get_map():
                    sel.unregister(c.proc.stdout)
                live.discard(c)
        if not live:
            break
        times = [c.finish_at for c in live]
        for c in live:
            if c.blip:
                times += [t for t, done in ((c.blip["start"], c.blip["on"]), (c.blip["end"], c.blip["off"]))
                          if done is None]
        timeout = max(0.0, min(times) - time.time()) if times else None
        for key, _ in sel.select(timeout=min(timeout, 1.0) if timeout is not None else 1.0):
            c = key.data
            line = c.proc.stdout.readline()
            if not line:  # it ended: after "dead", or it failed
                sel.unregister(c.proc.stdout)
                c.finish_at = 0
                continue
            word, f = parse(line.rstrip("\n"))
            if word == "ready":
                c.ready = f
                if c.kind == "economy":
                    c.finish_at = f["t0"] + WINDOW + 0.5
                else:
                    c.finish_at = f["t0"] + 120  # replaced once the first probe is answered
            elif word == "ack":
                c.acks.append(f["at"])
                if c.outage is not None and c.blip is None:
                    # The first answered probe: the next cycle starts here.
                    start = f["at"] + c.ready["idle"] - LEAD
                    c.blip = {"start": start, "end": start + c.outage, "on": None, "off": None}
                    deadline = blip_plans[c.spec]["dead_idle_ms"] / 1000
                    c.finish_at = f["at"] + deadline + (2 if c.kind == "survive" else 5)
            elif word == "dead":
                c.dead = f
                c.finish_at = 0
    for c in conns:
        c.proc.wait()
    results = {
        "window": WINDOW,
        "plans": plan(a.prog, sorted({s for rows in COMPARE.values() for _, s in rows})),
        "compare": COMPARE,
        "retries2": int(open("/proc/sys/net/ipv4/tcp_retries2").read()),
        "conns": [{k: getattr(c, k) for k in ("name", "spec", "kind", "outage", "ready", "acks", "dead", "blip")}
                  for c in conns],
        "blip_plans": blip_plans,
    }
    with open(a.out, "w") as f:
        json.dump(results, f, indent=1)


def row(figure, measured, target, verdict):
    print(f"ROW\t{figure}\t{measured}\t{target}\t{verdict}")


def wire(pcap, client_ip):
    """Per local port of the prober: its keepalive probes (sent with the
    sequence number one below the next, no payload) and every time a packet
    from the peer arrived."""
    seen = {}
    for p in tcp_packets(pcap):
        mine = p.src.startswith(client_ip + ":")
        port = int((p.src if mine else p.dst).rsplit(":", 1)[1])
        s = seen.setdefault(port, {"probes": [], "heard": [], "next": None})
        if not mine:
            s["heard"].append(p.time)
            continue
        end = (p.seq + p.payload + (1 if p.flags & (SYN | FIN) else 0)) % 2**32
        if (s["next"] is not None and p.flags == ACK and p.payload == 0
                and p.seq == (s["next"] - 1) % 2**32):
            s["probes"].append(p.time)
            continue
        if s["next"] is None or (end - s["next"]) % 2**32 < 2**31:
            s["next"] = end
    return seen


def tolerance_text(p, retries2):
    lost = p["probes_before_death"] - 1
    blip = lost * p["interval"]
    busy = f"{p['busy_ms'] / 1000:g} s" if p["busy_ms"] >= 0 else f"tcp_retries2 ({retries2}), ~15 min"
    return f"survives {lost} lost probes, a {blip} s blip; busy: {busy}"


def report(a):
    r = json.load(open(a.results))
    plans, window = r["plans"], r["window"]
    per10 = lambda p: 600 / p["idle"]  # noqa: E731
    jiffy = 1 / a.hz

    # Computed: the comparison at equal deadlines.
    for d, rows in sorted(r["compare"].items(), key=lambda kv: int(kv[0])):
        for name, spec in rows:
            p = plans[spec]
            sched = f"{p['idle']}/{p['interval']}/{p['count']}"
            sched += f" + user timeout {p['user_timeout_ms'] // 1000} s" if p["user_timeout_ms"] else " (no user timeout)"
            note = " (= ours at 150 s)" if name == "even split" and int(d) == 150 else ""
            count = per10(p)
            count_text = f"{count:.0f}" if count == int(count) else f"{count:.2f}"
            row(f"Probes D={d} s, {name} {sched}{note}",
                f"{count_text} per 10 min ({3600 / p['idle']:.2f}/h); {tolerance_text(p, r['retries2'])}", "-", "-")
    ours, go = plans["deadline:150"], plans["set:15:15:9:0"]
    ratio = per10(ours) / per10(go)
    # The timer wheel only delays: at worst ours keeps its count and Go's
    # drops to one probe per 1.125 idle.
    worst = math.floor(600 / ours["idle"]) / math.floor(600 / (1.125 * go["idle"]))
    row("Probes D=150 s: ours / Go default, healthy idle connection",
        f"{ratio:.2f}x ({per10(ours):.0f} vs {per10(go):.0f}; at most {worst:.2f}x with timer-wheel delays)",
        "<= 0.25x", "PASS" if worst <= 0.25 else "MISS")

    # Measured: the model and the blips on the wire.
    seen = wire(a.pcap, a.client_ip)
    for c in r["conns"]:
        if not c["ready"]:
            row(f"Wire: {c['name']} ({c['kind']})", "did not connect", "-", "MISS")
            continue
        port, rd = int(c["ready"]["port"]), c["ready"]
        idle, interval = rd["idle"], rd["interval"]
        s = seen.get(port, {"probes": [], "heard": []})
        heard = sorted(s["heard"])
        gaps, answered = [], 0
        for t in s["probes"]:
            before = [h for h in heard if h < t]
            gaps.append(t - before[-1] if before else math.nan)
            answered += any(t <= h < t + 0.5 for h in heard)
        sched = f"{idle:g}/{interval:g}/{rd['count']:g}" + (
            f" + {rd['user_timeout_ms'] / 1000:g} s" if rd["user_timeout_ms"] else "")
        if c["kind"] == "economy":
            t0 = rd["t0"]
            n = sum(1 for t in s["probes"] if t0 < t <= t0 + window)
            hi, lo = math.floor(window / idle), math.floor(window / (1.125 * idle))
            ok_gaps = gaps and all(idle - jiffy - 0.001 <= g <= 1.125 * idle + 2 * jiffy for g in gaps)
            ok = ok_gaps and lo <= n <= hi and answered == len(s["probes"]) and not c["dead"]
            row(f"Wire, 1/5 time: {c['name']} {sched}, idle {window:g} s",
                f"{n} probes (model {lo}..{hi}), {answered} answered; after the last packet heard "
                f"{min(gaps):.3f}..{max(gaps):.3f} s" if gaps else "no probe captured",
                f"{idle:g}..{1.125 * idle:g} s", "PASS" if ok else "MISS")
            continue
        b, probes_needed = c["blip"], r["blip_plans"][c["spec"]]["probes_before_death"]
        if not b or b["off"] is None:
            row(f"Wire: {c['name']} {sched}, blip ({c['kind']})", "no blip applied", "-", "MISS")
            continue
        covered = sum(1 for t in s["probes"] if b["on"] <= t <= b["off"])
        lasted = b["off"] - b["on"]
        tolerance = c["outage"] + (1 if c["kind"] == "survive" else -1)
        fig = f"Wire: {c['name']} {sched}, a {c['outage']:g} s blip (tolerance {tolerance:g} s)"
        if c["kind"] == "survive":
            after = [t for t in s["probes"] if t > b["off"]]
            ok = not c["dead"] and after and covered == probes_needed - 1 and any(h > b["off"] for h in heard)
            what = "survived" if not c["dead"] else f"died: {c['dead'].get('reason')}"
            row(fig, f"{what}; it covered {covered} of {probes_needed} probes ({lasted:.2f} s in force), "
                     f"the next was answered" if after else f"{what}; covered {covered}, no probe after it",
                f"survives ({probes_needed - 1} lost)", "PASS" if ok else "MISS")
        else:
            d = c["dead"]
            deadline = r["blip_plans"][c["spec"]]["dead_idle_ms"] / 1000
            if not d:
                row(fig, f"still alive; it covered {covered} of {probes_needed} probes", f"dies at {deadline:g} s",
                    "MISS")
                continue
            at = d["last_ack_ms"] / 1000
            ok = d["errno"] == 110 and covered == probes_needed and deadline - 0.01 <= at <= deadline + 1
            row(fig, f"{d['reason']} {at:.3f} s after the last ACK; it covered {covered} of {probes_needed} "
                     f"probes ({lasted:.2f} s in force); it was over {c['acks'][0] + at - b['off']:.2f} s before the error",
                f"dies at {deadline:g} s", "PASS" if ok else "MISS")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--prog", required=True)
    r.add_argument("--ns-cli", required=True)
    r.add_argument("--ns-srv", required=True)
    r.add_argument("--server", required=True)
    r.add_argument("--out", required=True)
    p = sub.add_parser("report")
    p.add_argument("--results", required=True)
    p.add_argument("--pcap", required=True)
    p.add_argument("--client-ip", required=True)
    p.add_argument("--hz", type=int, required=True)
    a = ap.parse_args()
    run(a) if a.cmd == "run" else report(a)


if __name__ == "__main__":
    sys.exit(main())
