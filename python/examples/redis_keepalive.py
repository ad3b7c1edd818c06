#!/usr/bin/env python3
"""redis-py with a dead-peer deadline on its connections.

redis-py turns ``SO_KEEPALIVE`` on itself (``socket_keepalive=True``) and
sets each entry of ``socket_keepalive_options`` at the ``IPPROTO_TCP``
level, so it takes the TCP-level triples as a dict:

    options = {opt: value for level, opt, value in keepalive.socket_options(deadline=60)
               if level == socket.IPPROTO_TCP}
    r = redis.Redis(host, port, socket_keepalive=True, socket_keepalive_options=options)

Usage: python3 redis_keepalive.py [HOST:PORT]   (default 127.0.0.1:6379)
"""

from __future__ import annotations

import socket
import sys
from typing import Any

import redis

import keepalive


def redis_keepalive_options(deadline: int = 60) -> dict[int, int]:
    """``keepalive.socket_options(deadline=...)`` as redis-py's
    ``socket_keepalive_options``: the TCP-level ones, by option. The one at
    the SOL_SOCKET level is ``SO_KEEPALIVE``, which ``socket_keepalive=True``
    sets."""
    return {
        opt: value
        for level, opt, value in keepalive.socket_options(deadline=deadline)
        if level == socket.IPPROTO_TCP
    }


def keepalive_redis(host: str, port: int, deadline: int = 60, **kwargs: Any) -> redis.Redis:
    """A client whose server is declared dead ``deadline`` seconds after it
    was last heard from, idle or busy."""
    return redis.Redis(
        host=host,
        port=port,
        socket_keepalive=True,
        socket_keepalive_options=redis_keepalive_options(deadline),
        **kwargs,
    )


def main(argv: list[str]) -> int:
    if len(argv) > 1 or (argv and ":" not in argv[0]):
        print(f"usage: {argv[0] if argv else 'redis_keepalive.py'} [HOST:PORT]", file=sys.stderr)
        return 2
    host, _, port = (argv[0] if argv else "127.0.0.1:6379").rpartition(":")
    # One connection, held by the client, so that it can be looked at.
    with keepalive_redis(host, int(port), single_connection_client=True) as r:
        r.set("keepalive:example", "ok")
        value = r.get("keepalive:example")
        assert r.connection is not None
        sock = r.connection._sock  # redis-py keeps the socket it made here
        print(f"GET -> {value!r}; the connection has {keepalive.get(sock)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
