"""What the echo client and server share: the time at the start of each line
they print, the reason a connection ended, and the keepalive options of their command lines, spelled as the
C programs spell them (``-c CNT -d IDLE -i INTVL``). The ranges are the
library's to check: it says them in its ``ValueError``.
"""

from __future__ import annotations

import argparse
import os
import time


def stamp() -> str:
    """The wall-clock time, for the start of each event line."""
    return time.strftime("%H:%M:%S")


def integer(text: str) -> int:
    """An option value; the library itself says which range is allowed."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def reason(e: OSError) -> str:
    """Why a connection failed or ended, as the C programs say it
    (``strerror``: ``Connection timed out`` when keepalive gave up)."""
    return os.strerror(e.errno) if e.errno else str(e)


def keepalive_parser(description: str) -> argparse.ArgumentParser:
    """A parser with ``-c``, ``-d`` and ``-i`` (``count``, ``idle``,
    ``interval``: ``None`` when not given, which keeps the system's value)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("-c", dest="count", type=integer, help="TCP_KEEPCNT: probes")
    parser.add_argument("-d", dest="idle", type=integer, help="TCP_KEEPIDLE: seconds")
    parser.add_argument("-i", dest="interval", type=integer, help="TCP_KEEPINTVL: seconds")
    return parser
