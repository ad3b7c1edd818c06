#!/usr/bin/env python3
"""urllib3 with a dead-peer deadline on every connection it opens.

``PoolManager(socket_options=...)`` sets the options on each new socket
before it connects. The list *replaces* urllib3's default
``[(IPPROTO_TCP, TCP_NODELAY, 1)]``, so add that back:

    pool = urllib3.PoolManager(socket_options=HTTPConnection.default_socket_options
                               + keepalive.socket_options(deadline=60))

Usage: python3 urllib3_keepalive.py [URL]   (no URL: a local server of its own)
"""

from __future__ import annotations

import socket
import sys

import urllib3
from urllib3.connection import HTTPConnection

import keepalive


def keepalive_pool(deadline: int = 60) -> urllib3.PoolManager:
    """A PoolManager whose peers are declared dead ``deadline`` seconds after
    they were last heard from, with urllib3's TCP_NODELAY kept."""
    options = HTTPConnection.default_socket_options + keepalive.socket_options(deadline=deadline)
    return urllib3.PoolManager(socket_options=options)


def connection_socket(response: urllib3.BaseHTTPResponse) -> socket.socket:
    """The socket urllib3 made for the connection a response holds (one
    requested with ``preload_content=False``, until it is released)."""
    sock = getattr(response.connection, "sock", None)
    if not isinstance(sock, socket.socket):
        raise RuntimeError("the response holds no connection")
    return sock


def fetch(url: str) -> tuple[int, keepalive.Settings, int]:
    """GETs ``url``; returns the status, the settings of the connection used
    and its TCP_NODELAY."""
    with keepalive_pool() as pool:
        response = pool.request("GET", url, preload_content=False, timeout=10)
        try:
            sock = connection_socket(response)
            nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            return response.status, keepalive.get(sock), nodelay
        finally:
            response.release_conn()


def fetch_shown(url: str) -> tuple[int, str]:
    """``fetch``, with TCP_NODELAY shown beside the settings."""
    status, settings, nodelay = fetch(url)
    return status, f"{settings}, TCP_NODELAY {nodelay}"


if __name__ == "__main__":
    from local_http_server import recipe_main

    sys.exit(recipe_main(fetch_shown))
