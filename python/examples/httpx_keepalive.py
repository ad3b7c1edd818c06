#!/usr/bin/env python3
"""httpx with a dead-peer deadline on every connection it opens.

httpx hands ``socket_options`` to httpcore, which sets them on each new
socket:

    transport = httpx.HTTPTransport(socket_options=keepalive.socket_options(deadline=60))
    client = httpx.Client(transport=transport)

(``httpx.AsyncHTTPTransport`` takes the same for ``httpx.AsyncClient``.)

Usage: python3 httpx_keepalive.py [URL]   (no URL: a local server of its own)
"""

from __future__ import annotations

import sys

import httpx

import keepalive


def keepalive_client(deadline: int = 60) -> httpx.Client:
    """A Client whose peers are declared dead ``deadline`` seconds after
    they were last heard from, idle or busy."""
    transport = httpx.HTTPTransport(socket_options=keepalive.socket_options(deadline=deadline))
    return httpx.Client(transport=transport, timeout=10)


def fetch(url: str) -> tuple[int, keepalive.Settings]:
    """GETs ``url``; returns the status and the settings of the connection used."""
    with keepalive_client() as client, client.stream("GET", url) as response:
        # httpcore's network stream holds the socket it made.
        sock = response.extensions["network_stream"].get_extra_info("socket")
        return response.status_code, keepalive.get(sock)


if __name__ == "__main__":
    from local_http_server import recipe_main

    sys.exit(recipe_main(fetch))
