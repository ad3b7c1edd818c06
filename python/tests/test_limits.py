"""The limits of the values as module attributes (the Rust core's
``keepalive::limits``): each is the last value a real socket takes, one past
it is refused with a ValueError naming the range, and nothing is changed."""

from __future__ import annotations

import socket

import pytest

import keepalive
from conftest import Raw, raw


def test_the_limits_are_ints_in_the_package_and_the_native_module() -> None:
    from keepalive import _keepalive

    names = [n for n in keepalive.__all__ if n.startswith(("MAX_", "MIN_"))]
    assert len(names) == 8, names
    for name in names:
        value = getattr(keepalive, name)
        assert type(value) is int and value > 0, (name, value)
        assert getattr(_keepalive, name) is value


def test_idle_interval_count(tcp: socket.socket) -> None:
    top = {
        "idle": keepalive.MAX_IDLE_SECS,
        "interval": keepalive.MAX_INTERVAL_SECS,
        "count": keepalive.MAX_COUNT,
    }
    keepalive.enable(tcp, **top)
    assert raw(tcp) == Raw(True, top["idle"], top["interval"], top["count"], 0)
    units = {"idle": "seconds", "interval": "seconds", "count": "probes"}
    for name, limit in top.items():
        with pytest.raises(ValueError) as e:
            keepalive.enable(tcp, **{name: limit + 1})
        assert str(e.value) == f"{name} must be 1..{limit} {units[name]}, got {limit + 1}"
    assert raw(tcp) == Raw(True, top["idle"], top["interval"], top["count"], 0)


def test_user_timeout(tcp: socket.socket) -> None:
    top = keepalive.MAX_USER_TIMEOUT_MS
    keepalive.set_user_timeout(tcp, top)
    assert raw(tcp).user_timeout_ms == top
    with pytest.raises(ValueError, match=rf"^user_timeout must be 0\.\.{top} milliseconds"):
        keepalive.set_user_timeout(tcp, top + 1)
    assert raw(tcp).user_timeout_ms == top


def test_deadline(tcp: socket.socket) -> None:
    low, top = keepalive.MIN_DEADLINE_SECS, keepalive.MAX_DEADLINE_SECS
    keepalive.set_deadline(tcp, low)
    assert raw(tcp).user_timeout_ms == low * 1000
    # The longest needs the most probes.
    keepalive.set_deadline(tcp, top, probes=keepalive.MAX_COUNT)
    assert raw(tcp).user_timeout_ms == top * 1000
    for bad in (low - 1, top + 1):
        with pytest.raises(ValueError, match=rf"^deadline must be {low}\.\."):
            keepalive.set_deadline(tcp, bad, probes=keepalive.MAX_COUNT)
    assert raw(tcp).user_timeout_ms == top * 1000


def test_max_idle(tcp: socket.socket) -> None:
    low, top = keepalive.MIN_MAX_IDLE_SECS, keepalive.MAX_MAX_IDLE_SECS
    keepalive.set_deadline(tcp, keepalive.MIN_DEADLINE_SECS, max_idle=low)
    keepalive.set_deadline(tcp, 60, max_idle=top)
    assert raw(tcp) == Raw(True, 30, 10, 3, 60_000)
    for bad in (low - 1, top + 1):
        with pytest.raises(ValueError) as e:
            keepalive.set_deadline(tcp, 60, max_idle=bad)
        assert str(e.value) == f"max_idle must be {low}..{top} seconds, got {bad}"
    assert raw(tcp) == Raw(True, 30, 10, 3, 60_000)
