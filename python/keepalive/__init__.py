"""Turn TCP keepalive on, tune it, and read it back, on any socket.

A dead peer (power lost, cable pulled) sends nothing, so an idle connection
looks alive forever. With keepalive on, the kernel probes a connection that
has been silent for ``idle`` seconds, repeats an unanswered probe every
``interval`` seconds, and after ``count`` unanswered probes declares the
connection dead: the next read fails with ``ETIMEDOUT``. With data in flight
the kernel retransmits instead, for about 15 minutes, unless
``TCP_USER_TIMEOUT`` bounds it.

One call bounds both: ``set_deadline(sock, D)`` declares the peer dead about
``D`` seconds after it was last heard from, idle or busy, and ``status(sock)``
says how long until that happens.

    >>> import socket, keepalive
    >>> sock = socket.create_server(("127.0.0.1", 0))
    >>> keepalive.set_deadline(sock, 60)
    >>> keepalive.get(sock)
    Settings(enabled=True, idle=30, interval=10, count=3, user_timeout_ms=60000)
    >>> keepalive.enable(sock, idle=30, interval=7, count=4)
    >>> keepalive.get(sock).count
    4
    >>> sock.close()

``sock`` is a ``socket.socket``, an ``int`` descriptor, or any object with
``fileno()`` (asyncio's transport sockets, trio's). Errors: ``TypeError`` for
a wrong type, ``ValueError`` (saying the allowed range) for a bad value,
``OSError`` with ``errno`` set for what the kernel refuses. A refused call
changes nothing. The documented signatures and types are in the stubs
beside this file (``keepalive/__init__.pyi``).

The work is done by the Rust crate ``keepalive``; this package is a thin
translation over it (the native module ``keepalive._keepalive``).
"""

from typing import Optional

from . import _keepalive
from ._keepalive import (
    Settings,
    Status,
    __version__,
    disable,
    get,
    set_user_timeout,
    status,
    system_defaults,
)

# The native functions take their arguments by position: the interpreter
# matches keywords here far more cheaply than an abi3 extension can.
_enable = _keepalive.enable
_set_deadline = _keepalive.set_deadline
_set_system_defaults = _keepalive.set_system_defaults


def enable(
    sock: object,
    *,
    idle: Optional[int] = None,
    interval: Optional[int] = None,
    count: Optional[int] = None,
) -> None:
    """Turn keepalive on (``SO_KEEPALIVE``) and apply the given values, all or
    nothing; ``None`` leaves a value unchanged.

    ``idle`` and ``interval`` are seconds, 1..32767 (``TCP_KEEPIDLE``,
    ``TCP_KEEPINTVL``); ``count`` is 1..127 (``TCP_KEEPCNT``)."""
    _enable(sock, idle, interval, count)


def set_deadline(sock: object, seconds: int, *, probes: Optional[int] = None) -> None:
    """Declare the peer dead about ``seconds`` (2..131068) after it was last
    heard from, idle or busy: sets idle, interval, count and
    ``TCP_USER_TIMEOUT`` together, all or nothing, with
    idle + interval * count = seconds. ``probes`` (default 3) is how many
    unanswered probes it takes, 1..min(127, seconds - 1)."""
    _set_deadline(sock, seconds, probes)


def set_system_defaults(
    *,
    idle: Optional[int] = None,
    interval: Optional[int] = None,
    count: Optional[int] = None,
) -> None:
    """Set this network namespace's system-wide defaults (Linux:
    ``/proc/sys/net/ipv4/tcp_keepalive_{time,intvl,probes}``), all or
    nothing; ``None`` leaves a value unchanged. Needs root."""
    _set_system_defaults(idle, interval, count)


__all__ = [
    "Settings",
    "Status",
    "__version__",
    "disable",
    "enable",
    "get",
    "set_deadline",
    "set_system_defaults",
    "set_user_timeout",
    "status",
    "system_defaults",
]
