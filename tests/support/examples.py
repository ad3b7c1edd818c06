"""The article's two C programs (c-examples/): their names, found in
built.BIN with built.program(), and the timestamp each of their lines
starts with."""

import datetime
import re

CLIENT = "tcp_keepalive_client"
SERVER = "tcp_keepalive_server"

_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\]")


def stamp_of(line):
    """The program's own timestamp at the start of a line, in seconds."""
    m = _STAMP.match(line)
    if not m:
        raise AssertionError(f"line has no timestamp: {line!r}")
    return datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
