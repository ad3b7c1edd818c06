#!/usr/bin/env python3
"""requests with a dead-peer deadline on every connection it opens.

requests makes its sockets inside urllib3, so there is no socket to hand to
``keepalive.set_deadline``; urllib3 takes a list of socket options to set on
each new connection instead, and an ``HTTPAdapter`` passes them on:

    session = requests.Session()
    adapter = KeepaliveAdapter(keepalive.socket_options(deadline=60))
    session.mount("http://", adapter)
    session.mount("https://", adapter)

Usage: python3 requests_keepalive.py [URL]   (no URL: a local server of its own)

Prints the status and the keepalive settings read back from the connection
the request went over.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection

import keepalive


class KeepaliveAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections (direct or through a proxy) get
    ``socket_options`` on top of urllib3's default ``TCP_NODELAY``."""

    def __init__(self, socket_options: list[tuple[int, int, int]], **kwargs: Any) -> None:
        # urllib3 replaces its default [(IPPROTO_TCP, TCP_NODELAY, 1)] with
        # whatever it is given: keep it.
        self.socket_options = HTTPConnection.default_socket_options + socket_options
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["socket_options"] = self.socket_options
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        proxy_kwargs["socket_options"] = self.socket_options
        return super().proxy_manager_for(proxy, **proxy_kwargs)


def keepalive_session(deadline: int = 60) -> requests.Session:
    """A Session whose peers are declared dead ``deadline`` seconds after
    they were last heard from, idle or busy."""
    session = requests.Session()
    adapter = KeepaliveAdapter(keepalive.socket_options(deadline=deadline))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def fetch(url: str) -> tuple[int, keepalive.Settings]:
    """GETs ``url``; returns the status and the settings of the connection used."""
    with keepalive_session() as session:
        # stream=True keeps the connection on the response until it is closed.
        with session.get(url, stream=True, timeout=10) as response:
            # The socket urllib3 made, on the connection the response holds.
            sock = getattr(response.raw.connection, "sock", None)
            if not isinstance(sock, socket.socket):
                raise RuntimeError("the response holds no connection")
            return response.status_code, keepalive.get(sock)


if __name__ == "__main__":
    from local_http_server import recipe_main

    sys.exit(recipe_main(fetch))
