"""What the end-to-end tests share: where the programs are, reading their
timestamps, and printing each measured time."""

import datetime
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))

#: Directory holding tcp_keepalive_client and tcp_keepalive_server
#: (run.py --bin sets it; the staged build/bin by default).
BIN = os.environ.get("KAT_BIN", os.path.join(TOP, "build", "bin"))


def program(name):
    """Absolute path of one of the example programs; fails clearly if missing."""
    path = os.path.join(BIN, name)
    if not os.access(path, os.X_OK):
        raise AssertionError(f"{path} is missing: run `make build-examples` first")
    return path


CLIENT = "tcp_keepalive_client"
SERVER = "tcp_keepalive_server"

_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\]")


def stamp_of(line):
    """The program's own timestamp at the start of a line, in seconds."""
    m = _STAMP.match(line)
    if not m:
        raise AssertionError(f"line has no timestamp: {line!r}")
    return datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()


def report(text):
    """Prints a measurement beside the test's name, as it happens."""
    print(f"    {text}", file=sys.stderr, flush=True)


def assert_near(testcase, measured, expected, tolerance, what):
    """Asserts |measured - expected| <= tolerance, and reports the figure."""
    report(f"{what}: {measured:.3f} s (expected {expected:g} s +/- {tolerance:g} s)")
    testcase.assertLessEqual(abs(measured - expected), tolerance,
                             f"{what}: {measured:.3f} s, expected {expected} +/- {tolerance} s")
