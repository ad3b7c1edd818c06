"""Turns one scale run's raw material into result rows (see scale.sh).

Reads each server's log (TZ=UTC; one server, or several where one process
may not hold N descriptors; lines like
  [2026-11-26 01:48:54.123] client 192.0.2.2:40000 lost after 12.345 s: Connection timed out (9999 connected)
) and the pcap capture (Ethernet, 64 bytes a packet) of what the clients sent
the server, SYNs left out. Each client's deadline is its last packet there
plus idle + interval x count; a report's lateness is the time of its log line
minus that deadline. A report counts as early when it came more than one
jiffy and one millisecond before its deadline: the kernel measures the time
since the last ACK in jiffies, and the log truncates to the millisecond.

Prints ROW <TAB> figure <TAB> measured <TAB> target <TAB> verdict lines.
"""

import argparse
import datetime
import math
import re
import sys

from pcapread import ACK, tcp_packets

LISTENING = re.compile(r"^listening on port (\d+)$")
LOST = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\] "
                  r"client (\S+:\d+) (?:lost after [\d.]+ s: (.*?)|closed the connection after [\d.]+ s)"
                  r" \(\d+ connected\)$")


def row(figure, measured, target, verdict):
    print(f"ROW\t{figure}\t{measured}\t{target}\t{verdict}")


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    k = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[k - 1]


def log_time(stamp):
    t = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--idle", type=float, required=True, help="TCP_KEEPIDLE, s")
    ap.add_argument("--deadline", type=float, required=True, help="idle + interval x count, s")
    ap.add_argument("--hz", type=int, required=True, help="the kernel's CONFIG_HZ")
    ap.add_argument("--connect-time", required=True)
    ap.add_argument("--rss-kib", required=True, help="each server's VmHWM, comma-separated")
    ap.add_argument("--rss-limit-mib", type=int, required=True)
    ap.add_argument("--hold", type=float, required=True, help="the healthy period asked for, s")
    ap.add_argument("--held-from", type=float, required=True, help="all connected, s since the epoch")
    ap.add_argument("--dark-at", type=float, required=True, help="the blackout, s since the epoch")
    ap.add_argument("--server-ip", required=True)
    ap.add_argument("--nofile", type=int, required=True, help="the hard RLIMIT_NOFILE")
    ap.add_argument("--server-log", action="append", required=True, help="once per server")
    ap.add_argument("--pcap", required=True)
    ap.add_argument("--capture-stats", required=True)
    ap.add_argument("--tx-dropped", type=int, required=True, help="server veth's tx_dropped")
    ap.add_argument("--backlog", type=int, required=True, help="net.core.netdev_max_backlog")
    a = ap.parse_args()
    fig = lambda what: f"Scale {a.n}: {what}"  # noqa: E731

    # Per client (its address and port, and the server's port): its last
    # packet (the last ACK the server heard), and how many keepalive answers
    # it gave while healthy: pure ACKs (no payload, nothing but ACK set) after
    # the hold began and before the blackout.
    last_ack, answers = {}, {}
    for p in tcp_packets(a.pcap):
        if p.src.startswith(a.server_ip + ":"):
            continue
        key = (p.src, int(p.dst.rsplit(":", 1)[1]))
        if p.time > last_ack.get(key, 0.0):
            last_ack[key] = p.time
        if p.flags == ACK and p.payload == 0 and a.held_from <= p.time < a.dark_at:
            answers[key] = answers.get(key, 0) + 1

    reports, reasons, false_losses = {}, {}, []
    for path in a.server_log:
        port = None
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if port is None and (m := LISTENING.match(line)):
                    port = int(m.group(1))
                m = LOST.match(line)
                if not m:
                    continue
                t = log_time(m.group(1))
                reason = m.group(3) or "closed by the client"
                if t < a.dark_at:
                    false_losses.append(reason)
                    continue
                reports[(m.group(2), port)] = t
                reasons[reason] = reasons.get(reason, 0) + 1

    with open(a.capture_stats) as f:
        dropped = [int(x) for x in re.findall(r"(\d+) packets? dropped by kernel", f.read())]
    capture_ok = bool(dropped) and dropped[0] == 0
    capture_note = "" if capture_ok else ", capture dropped packets" if dropped else ", no capture statistics"

    row(fig("time to connect"), f"{float(a.connect_time):.2f} s", "-", "-")
    rss_mib = [int(k) / 1024 for k in a.rss_kib.split(",")]
    servers = len(a.server_log)
    if servers == 1:
        row(fig("server peak RSS (VmHWM)"), f"{rss_mib[0]:.1f} MiB", f"<= {a.rss_limit_mib} MiB",
            "PASS" if rss_mib[0] <= a.rss_limit_mib else "MISS")
    else:
        # No one process held N here: say so, and give what was measured.
        row(fig("server peak RSS (VmHWM)"),
            f"not measured: one process may hold {a.nofile} descriptors here", f"<= {a.rss_limit_mib} MiB",
            "SKIP")
        each = f"{a.n // servers}" if a.n % servers == 0 else f"{a.n // servers}-{a.n // servers + 1}"
        row(fig(f"{servers} servers of {each} clients, peak RSS together (each)"),
            f"{sum(rss_mib):.1f} MiB ({min(rss_mib):.1f}..{max(rss_mib):.1f})", "-", "-")

    hold = a.dark_at - a.held_from  # as it was, a little longer than asked
    fewest = min((answers.get(p, 0) for p in last_ack), default=0)
    measured = f"{len(false_losses)} of {a.n}"
    if false_losses:
        measured += " (" + ", ".join(sorted(set(false_losses))) + ")"
    row(fig(f"false losses in {a.hold:g} s healthy ({a.hold / a.deadline:g} dead-peer periods)"), measured, "0",
        "PASS" if not false_losses and len(last_ack) == a.n else "MISS")
    row(fig("keepalive answers per client while healthy (fewest)"),
        f"{fewest} (at most {math.floor(hold / a.idle)}: one per {a.idle:g} s idle)", "-", "-")

    timed_out = reasons.get("Connection timed out", 0)
    other = {k: v for k, v in reasons.items() if k != "Connection timed out"}
    measured = f"{timed_out} of {a.n} ETIMEDOUT"
    if other:
        measured += " + " + ", ".join(f"{v} {k}" for k, v in sorted(other.items()))
    row(fig("losses reported after the blackout"), measured, f"{a.n} of {a.n}",
        "PASS" if timed_out == a.n and not other else "MISS")

    row(fig("probes refused locally (veth tx_dropped)"),
        f"{a.tx_dropped} (netdev_max_backlog {a.backlog})", "-", "-")

    late = sorted(t - (last_ack[p] + a.deadline) for p, t in reports.items() if p in last_ack)
    margin = 1 / a.hz + 0.001
    early = sum(1 for x in late if x < -margin)
    if not late:
        row(fig("reports before the earliest possible time"), "no report to measure",
            f"0 before -{margin * 1000:.0f} ms", "MISS")
        row(fig("report lateness p50 / p99 / max"), "no report to measure", "max <= 1.00 s", "MISS")
        return
    row(fig("reports before the earliest possible time"), f"{early} (earliest {late[0]:+.3f} s)",
        f"0 before -{margin * 1000:.0f} ms", "PASS" if early == 0 and capture_ok and len(late) == a.n else "MISS")
    p50, p99, worst = percentile(late, 50), percentile(late, 99), late[-1]
    measured = f"{p50:+.3f} / {p99:+.3f} / {worst:+.3f} s{capture_note}"
    row(fig("report lateness p50 / p99 / max"), measured, "max <= 1.00 s",
        "PASS" if worst <= 1.0 and len(late) == a.n and capture_ok else "MISS")
    first, last = min(reports.values()) - a.dark_at, max(reports.values()) - a.dark_at
    print(f"   reports came {first:.3f} .. {last:.3f} s after the blackout; "
          f"{len(last_ack)} clients seen in the capture", file=sys.stderr)


if __name__ == "__main__":
    main()
