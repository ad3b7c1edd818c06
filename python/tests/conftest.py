"""Shared fixtures: real sockets on loopback, read back with getsockopt.

Every read-back here uses ``socket.getsockopt`` directly, independently of
the library under test.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import astuple, dataclass, replace
from pathlib import Path

import pytest

# The repository's test helpers (tests/support: the skip rule, the labs of
# network namespaces), by path. These suites run from the source tree
# against the installed wheel (make test-py: cd python && pytest tests);
# tests/support is standard library only and imports nothing else of the
# tree, so the wheel under test is the only keepalive imported.
sys.path.append(str(Path(__file__).resolve().parents[2] / "tests"))
from support import netlab, skips  # type: ignore[import-not-found]  # noqa: E402

TCP_USER_TIMEOUT = getattr(socket, "TCP_USER_TIMEOUT", 18)


@dataclass(frozen=True)
class Raw:
    """A socket's keepalive options as the kernel reports them."""

    enabled: bool
    idle: int
    interval: int
    count: int
    user_timeout_ms: int


def raw(sock: socket.socket) -> Raw:
    """Reads the five options with plain getsockopt."""
    return Raw(
        enabled=sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0,
        idle=sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
        interval=sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
        count=sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
        user_timeout_ms=sock.getsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT),
    )


def as_tuple(r: Raw) -> tuple[bool, int, int, int, int]:
    return astuple(r)


def changed(r: Raw, **fields: object) -> Raw:
    return replace(r, **fields)  # type: ignore[arg-type]


def proc_default(name: str) -> int:
    with open(f"/proc/sys/net/ipv4/{name}") as f:
        return int(f.read())


@pytest.fixture
def tcp() -> Iterator[socket.socket]:
    """A fresh, unconnected TCP socket."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        yield s


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected (client, accepted) TCP pair on loopback."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
        with client, accepted:
            yield client, accepted


@pytest.fixture
def udp() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        yield s


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    try:
        yield r, w
    finally:
        os.close(r)
        os.close(w)


@pytest.fixture(scope="session")
def needs_netns() -> None:
    """Root and `ip netns` (tests/support/netlab.py): a test that uses this
    is skipped saying why where they are missing, a failure under CI=true
    (tests/support/skips.py, the one place of that rule)."""
    skips.require(netlab.why_no_lab())
