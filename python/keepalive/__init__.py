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
says how long until that happens. For clients that make their sockets
themselves (urllib3, requests, httpx, redis-py), ``socket_options(...)``
gives the same settings as ``(level, option, value)`` triples.

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
of the native module (``keepalive/_keepalive.pyi``); the limits of the values
are module attributes (``MAX_IDLE_SECS``, ``MAX_COUNT``, ...).

The work is done by the Rust crate ``keepalive``; this package is a thin
translation over it (the native module ``keepalive._keepalive``).
"""

# The whole API is the native module's, re-exported as it is (its names are
# listed once, in _keepalive.pyi, where they are typed). Every function is
# the native one: no Python frame in between.
from ._keepalive import *  # noqa: F403
from ._keepalive import __all__ as __all__, __version__ as __version__
