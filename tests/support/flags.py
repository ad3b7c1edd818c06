"""The flag vocabulary the C programs, `keepalive` (set, cgroup attach, run)
and keepalive-run share (-d -i -c -u -D), and the sentence libkeepalive
refuses an out-of-range value with: what a user reads, pinned by the tests
(the programs take the ranges from the library)."""

import re

# What each option sets and its range, as libkeepalive's sentences name them.
RANGES = {
    "-c": "count must be 1..127 probes",
    "-d": "idle must be 1..32767 seconds",
    "-i": "interval must be 1..32767 seconds",
    "-u": "user_timeout must be 0..2147483647 milliseconds",
    "-D": "deadline must be 2..131068 seconds",
}


def out_of_range(opt, value):
    """The sentence for a value opt does not take: its range and what was
    given (a whole number as written, anything else in quotes)."""
    value = value.strip()
    shown = value if re.fullmatch(r"[-+]?\d+", value) else f'"{value}"'
    return f"{RANGES[opt]}, got {shown}"
