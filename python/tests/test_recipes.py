"""The client recipes of python/examples/ (docs/python.md), each run against a
real local server: http.server in a thread for requests, urllib3 and httpx, a
real redis-server on a free loopback port, asyncio's own streams. Every check
reads the options back, with plain getsockopt, from the socket the client
itself made and used, not from a socket of the test's own.

requests, urllib3, httpx and redis are installed in the test venv by
``make test-py``; redis-server by the same target as root (Debian's package).
"""

from __future__ import annotations

import asyncio
import queue
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import keepalive
from conftest import Raw, raw
from support import skips  # type: ignore[import-not-found]  # (conftest.py)
from support.host import why_no_command  # type: ignore[import-not-found]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))

import asyncio_keepalive  # noqa: E402
import httpx_keepalive  # noqa: E402
import redis_keepalive  # noqa: E402
import requests_keepalive  # noqa: E402
import urllib3_keepalive  # noqa: E402
from local_http_server import serve  # noqa: E402
from urllib3_keepalive import connection_socket  # noqa: E402

DEADLINE_60 = Raw(True, 30, 10, 3, 60_000)  # set_deadline(60)'s split


def peer_port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


@pytest.fixture
def url() -> Iterator[str]:
    with serve() as u:
        yield u


def test_requests_session_connections_have_the_deadline(url: str) -> None:
    with requests_keepalive.keepalive_session(deadline=60) as session:
        with session.get(url, stream=True, timeout=10) as first:
            assert first.status_code == 200
            sock = connection_socket(first.raw)
            assert raw(sock) == DEADLINE_60
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
            port = peer_port(sock)
            assert first.text == "ok\n"
        # The pooled connection is reused and still has them.
        with session.get(url, stream=True, timeout=10) as second:
            sock = connection_socket(second.raw)
            assert peer_port(sock) == port
            assert raw(sock) == DEADLINE_60


def test_requests_adapter_with_knobs(url: str) -> None:
    adapter = requests_keepalive.KeepaliveAdapter(
        keepalive.socket_options(idle=11, interval=3, count=2, user_timeout_ms=17_000)
    )
    import requests

    with requests.Session() as session:
        session.mount("http://", adapter)
        with session.get(url, stream=True, timeout=10) as r:
            assert raw(connection_socket(r.raw)) == Raw(True, 11, 3, 2, 17_000)


def test_urllib3_pool_keeps_nodelay_and_adds_the_deadline(url: str) -> None:
    status, settings, nodelay = urllib3_keepalive.fetch(url)
    assert status == 200 and nodelay == 1
    assert (settings.enabled, settings.idle, settings.interval, settings.count) == (True, 30, 10, 3)
    assert settings.user_timeout_ms == 60_000
    with urllib3_keepalive.keepalive_pool(deadline=150) as pool:
        r = pool.request("GET", url, preload_content=False)
        assert raw(connection_socket(r)) == Raw(True, 75, 25, 3, 150_000)
        r.release_conn()


def test_urllib3_socket_options_replace_its_default(url: str) -> None:
    # What the recipe guards against: given alone, the list drops TCP_NODELAY.
    import urllib3

    with urllib3.PoolManager(socket_options=keepalive.socket_options(deadline=60)) as pool:
        r = pool.request("GET", url, preload_content=False)
        sock = connection_socket(r)
        assert raw(sock) == DEADLINE_60
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        r.release_conn()


def test_httpx_transport_connections_have_the_deadline(url: str) -> None:
    with httpx_keepalive.keepalive_client(deadline=60) as client:
        with client.stream("GET", url) as r:
            sock = r.extensions["network_stream"].get_extra_info("socket")
            assert r.status_code == 200
            assert raw(sock) == DEADLINE_60
            port = peer_port(sock)
            r.read()
        with client.stream("GET", url) as r:
            sock = r.extensions["network_stream"].get_extra_info("socket")
            assert peer_port(sock) == port  # the pooled connection, reused
            assert raw(sock) == DEADLINE_60


def test_httpx_async_transport() -> None:
    import httpx

    async def main(url: str) -> Raw:
        transport = httpx.AsyncHTTPTransport(socket_options=keepalive.socket_options(deadline=90))
        async with httpx.AsyncClient(transport=transport) as client:
            async with client.stream("GET", url) as r:
                return raw(r.extensions["network_stream"].get_extra_info("socket"))

    with serve() as url:
        assert asyncio.run(main(url)) == Raw(True, 45, 15, 3, 90_000)


def test_asyncio_streams_both_ends() -> None:
    client, server, echo = asyncio.run(asyncio_keepalive.demo())
    assert echo == b"hello"
    assert (client.idle, client.interval, client.count, client.user_timeout_ms) == (30, 10, 3, 60_000)
    # Set on the listener, inherited by the accepted connection.
    assert (server.idle, server.interval, server.count, server.user_timeout_ms) == (45, 15, 3, 90_000)


def test_asyncio_open_with_deadline_reads_back_with_getsockopt() -> None:
    async def main() -> Raw:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            _, writer = await asyncio_keepalive.open_with_deadline("127.0.0.1", port, 5)
            got = raw(writer.get_extra_info("socket"))
            writer.close()
            await writer.wait_closed()
            return got

    assert asyncio.run(main()) == Raw(True, 2, 1, 3, 5000)


def test_redis_options_are_the_tcp_level_triples() -> None:
    opts = redis_keepalive.redis_keepalive_options(60)
    assert opts == {
        socket.TCP_USER_TIMEOUT: 60_000,
        socket.TCP_KEEPIDLE: 30,
        socket.TCP_KEEPINTVL: 10,
        socket.TCP_KEEPCNT: 3,
    }


class RedisServer:
    """A redis-server of the test's own, on a free loopback port, no disk."""

    def __init__(self) -> None:
        skips.require(why_no_command(
            "redis-server", "redis-server: make test-py installs Debian's when run as root"))
        with socket.socket() as probe:  # a free port, released for the server
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--loglevel", "notice"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        seen: list[str] = []
        while True:  # its readiness line, not a sleep
            line = lines.get(timeout=30)
            if line is None:
                self.stop()
                pytest.fail(f"redis-server exited before it was ready: {''.join(seen)}")
            seen.append(line)
            if re.search(r"Ready to accept connections", line):
                break

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()


def test_redis_client_connection_has_the_deadline(redis_server: RedisServer) -> None:
    with redis_keepalive.keepalive_redis(
        "127.0.0.1", redis_server.port, deadline=60, single_connection_client=True
    ) as r:
        assert r.ping() is True
        assert r.connection is not None
        sock = r.connection._sock
        assert sock is not None
        assert raw(sock) == DEADLINE_60
        # And from the server's side: the client it sees is that socket.
        clients = r.client_list()
        assert any(c["addr"] == f"127.0.0.1:{peer_port(sock)}" for c in clients)


def test_redis_pool_connections_have_the_deadline(redis_server: RedisServer) -> None:
    with redis_keepalive.keepalive_redis("127.0.0.1", redis_server.port, deadline=150) as r:
        r.set("k", "v")
        assert r.get("k") == b"v"
        conns = r.connection_pool._available_connections
        assert conns, "the pool holds the connection it used"
        for conn in conns:
            assert raw(conn._sock) == Raw(True, 75, 25, 3, 150_000)


def run_example(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=60, cwd=EXAMPLES
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


SETTINGS_60 = "Settings(enabled=True, idle=30, interval=10, count=3, user_timeout_ms=60000)"


@pytest.mark.parametrize("name", ["requests", "urllib3", "httpx"])
def test_http_examples_run_as_scripts(name: str, url: str) -> None:
    for args in ([], [url]):
        out = run_example(str(EXAMPLES / f"{name}_keepalive.py"), *args)
        assert out.startswith(f"HTTP 200; the connection has {SETTINGS_60}"), out


def test_redis_example_runs_as_a_script(redis_server: RedisServer) -> None:
    out = run_example(str(EXAMPLES / "redis_keepalive.py"), f"127.0.0.1:{redis_server.port}")
    assert out == f"GET -> b'ok'; the connection has {SETTINGS_60}\n"


def test_asyncio_example_runs_as_a_script() -> None:
    out = run_example(str(EXAMPLES / "asyncio_keepalive.py"))
    assert f"client connection: {SETTINGS_60}" in out
    assert "accepted connection: Settings(enabled=True, idle=45, interval=15" in out


@pytest.mark.parametrize("name", ["requests", "urllib3", "httpx", "redis", "asyncio"])
def test_examples_refuse_bad_usage(name: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}_keepalive.py"), "a", "b"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "usage:" in done.stderr


def readme_block(containing: str) -> str:
    """The README's python block that contains `containing`."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```$", text, re.M | re.S)
    found: list[str] = [b for b in blocks if containing in b]
    assert len(found) == 1, f"{len(found)} README python blocks contain {containing!r}"
    return found[0]


def test_the_readme_snippet_works(url: str) -> None:
    ns: dict[str, object] = {}
    exec(readme_block("socket_options(deadline=60)"), ns)
    import httpx
    import requests

    client, session = ns["client"], ns["session"]
    assert isinstance(client, httpx.Client) and isinstance(session, requests.Session)
    with client, client.stream("GET", url) as r:
        assert raw(r.extensions["network_stream"].get_extra_info("socket")) == DEADLINE_60
    with session, session.get(url, stream=True, timeout=10) as resp:
        sock = connection_socket(resp.raw)
        assert raw(sock) == DEADLINE_60
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
