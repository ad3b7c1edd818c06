"""Turns one scale run's raw material into result rows (see scale.sh).

Reads the server's log (TZ=UTC, lines like
  [2026-11-26 01:48:54.123] client 192.0.2.2:40000 lost after 12.345 s: Connection timed out (9999 connected)
) and `tcpdump -nn -tt` text of every packet the server's interface received
from the clients' host. Each client's deadline is its last ACK there plus
idle + interval x count; a report's lateness is the time of its log line
minus that deadline.

Prints ROW <TAB> figure <TAB> measured <TAB> target <TAB> verdict lines.
"""

import argparse
import datetime
import math
import re
import sys

LOST = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\] "
                  r"client (\S+):(\d+) lost after [\d.]+ s: (.*?) \(\d+ connected\)$")
PACKET = re.compile(r"^(\d+\.\d+) IP (\S+)\.(\d+) > \S+: Flags \[([^\]]*)\]")


def row(figure, measured, target, verdict):
    print(f"ROW\t{figure}\t{measured}\t{target}\t{verdict}")


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    k = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[k - 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--deadline", type=float, required=True, help="idle + interval x count, s")
    ap.add_argument("--connect-time", required=True)
    ap.add_argument("--rss-kib", type=int, required=True)
    ap.add_argument("--dark-at", type=float, required=True)
    ap.add_argument("--client-ip", required=True)
    ap.add_argument("--server-log", required=True)
    ap.add_argument("--acks", required=True)
    ap.add_argument("--capture-stats", required=True)
    ap.add_argument("--tx-dropped", type=int, required=True, help="server veth's tx_dropped")
    ap.add_argument("--backlog", type=int, required=True, help="net.core.netdev_max_backlog")
    a = ap.parse_args()

    last_ack = {}
    with open(a.acks) as f:
        for line in f:
            m = PACKET.match(line)
            if m and m.group(2) == a.client_ip and "." in m.group(4):
                port = int(m.group(3))
                last_ack[port] = max(last_ack.get(port, 0.0), float(m.group(1)))

    reports, reasons = {}, {}
    with open(a.server_log) as f:
        for line in f:
            m = LOST.match(line.rstrip("\n"))
            if not m or m.group(2) != a.client_ip:
                continue
            t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f")
            t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
            port = int(m.group(3))
            reports[port] = t
            reasons[m.group(4)] = reasons.get(m.group(4), 0) + 1

    with open(a.capture_stats) as f:
        dropped = [int(x) for x in re.findall(r"(\d+) packets? dropped by kernel", f.read())]
    capture_note = "" if dropped and dropped[0] == 0 else ", capture dropped packets" if dropped else ""

    row(f"Scale: time to connect {a.n} clients", f"{float(a.connect_time):.2f} s", "-", "-")
    rss_mib = a.rss_kib / 1024
    row("Scale: server peak RSS (VmHWM)", f"{rss_mib:.1f} MiB", "<= 32 MiB", "PASS" if rss_mib <= 32 else "MISS")

    timed_out = reasons.get("Connection timed out", 0)
    other = {k: v for k, v in reasons.items() if k != "Connection timed out"}
    measured = f"{timed_out} of {a.n} ETIMEDOUT"
    if other:
        measured += " + " + ", ".join(f"{v} {k}" for k, v in sorted(other.items()))
    row("Scale: losses reported", measured, f"{a.n} of {a.n}",
        "PASS" if timed_out == a.n and not other else "MISS")

    row("Scale: probes refused locally (veth tx_dropped)",
        f"{a.tx_dropped} (netdev_max_backlog {a.backlog})", "-", "-")

    late = sorted(t - (last_ack[p] + a.deadline) for p, t in reports.items() if p in last_ack)
    if not late:
        row("Scale: report lateness p50 / p99 / max", "no report to measure", "max <= 1.00 s", "MISS")
        return
    p50, p99, worst = percentile(late, 50), percentile(late, 99), late[-1]
    measured = f"{p50:+.3f} / {p99:+.3f} / {worst:+.3f} s (min {late[0]:+.3f}{capture_note})"
    row("Scale: report lateness p50 / p99 / max", measured, "max <= 1.00 s",
        "PASS" if worst <= 1.0 and len(late) == a.n else "MISS")
    first, last = min(reports.values()) - a.dark_at, max(reports.values()) - a.dark_at
    print(f"   reports came {first:.3f} .. {last:.3f} s after the blackout; "
          f"{len(last_ack)} clients seen in the capture", file=sys.stderr)


if __name__ == "__main__":
    main()
