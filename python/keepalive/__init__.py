"""Turn TCP keepalive on, tune it, and read it back, on any socket.

A dead peer (power lost, cable pulled) sends nothing, so an idle connection
looks alive forever. With keepalive on, the kernel probes a connection that
has been silent for ``idle`` seconds, repeats an unanswered probe every
``interval`` seconds, and after ``count`` unanswered probes declares the
connection dead: the next read fails with ``ETIMEDOUT``. Detection therefore
takes ``idle + interval * count`` seconds after the peer's last ACK.

    >>> import socket, keepalive
    >>> sock = socket.create_server(("127.0.0.1", 0))
    >>> keepalive.enable(sock, idle=30, interval=7, count=4)
    >>> keepalive.get(sock)
    Settings(enabled=True, idle=30, interval=7, count=4, user_timeout_ms=0)
    >>> sock.close()

``sock`` is a ``socket.socket``, an ``int`` descriptor, or any object with
``fileno()`` (asyncio's transport sockets, trio's). Errors: ``TypeError`` for
a wrong type, ``ValueError`` (saying the allowed range) for a bad value,
``OSError`` with ``errno`` set for what the kernel refuses. A refused call
changes nothing.

The work is done by the Rust crate ``keepalive``; this package is a thin
translation over it (the native module ``keepalive._keepalive``).
"""

from typing import Optional

from . import _keepalive
from ._keepalive import (
    Settings,
    __version__,
    disable,
    get,
    set_user_timeout,
    system_defaults,
)

_enable = _keepalive.enable


def enable(
    sock: object,
    *,
    idle: Optional[int] = None,
    interval: Optional[int] = None,
    count: Optional[int] = None,
) -> None:
    """Turn keepalive on (``SO_KEEPALIVE``) and apply the given values, all or
    nothing; ``None`` leaves a value unchanged. See ``keepalive.pyi``."""
    # The native function takes its arguments by position: the interpreter
    # matches keywords here far more cheaply than an abi3 extension can.
    _enable(sock, idle, interval, count)


__all__ = [
    "Settings",
    "__version__",
    "disable",
    "enable",
    "get",
    "set_user_timeout",
    "system_defaults",
]
