"""enable, get and set_deadline have two entry points: the vectorcall ones
(CPython 3.10+, crates/keepalive-py/src/fastcall.rs) and pyo3's, which 3.9
uses and the module keeps as ``_<name>_py39``. Both must match arguments the
way a Python function with the documented signature does."""

from __future__ import annotations

import inspect
import socket
import sys
from collections.abc import Callable
from typing import Any

import pytest

import keepalive
from keepalive import _keepalive
from conftest import Raw, raw

FAST = sys.version_info >= (3, 10)


def paths(name: str) -> list[Callable[..., Any]]:
    found = [getattr(keepalive, name)]
    legacy = getattr(_keepalive, f"_{name}_py39", None)
    if legacy is not None:
        found.append(legacy)
    return found


def test_the_fast_path_is_in_use_where_it_exists() -> None:
    for name in ("enable", "get", "set_deadline"):
        assert getattr(keepalive, name) is getattr(_keepalive, name)
        assert hasattr(_keepalive, f"_{name}_py39") is FAST


@pytest.mark.parametrize(
    ("name", "signature"),
    [
        ("enable", "(sock, *, idle=None, interval=None, count=None)"),
        ("get", "(sock)"),
        ("set_deadline", "(sock, seconds, *, probes=None, max_idle=None)"),
    ],
)
def test_signatures(name: str, signature: str) -> None:
    for f in paths(name):
        assert str(inspect.signature(f)) == signature


@pytest.mark.parametrize("enable", paths("enable"))
def test_enable_arguments(enable: Callable[..., None], tcp: socket.socket) -> None:
    enable(tcp, idle=30, interval=7, count=4)
    assert raw(tcp) == Raw(True, 30, 7, 4, 0)
    enable(sock=tcp, count=5)
    assert raw(tcp).count == 5
    enable(tcp, count=None, idle=None)
    assert raw(tcp) == Raw(True, 30, 7, 5, 0)
    # Keyword names that are equal but not the interned objects.
    enable(tcp, **{"".join(["i", "dle"]): 31})
    assert raw(tcp).idle == 31


@pytest.mark.parametrize("enable", paths("enable"))
@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, r"missing 1 required positional argument: 'sock'|missing required argument 'sock' \(pos 1\)"),
        ((None, 5), {}, r"takes 1 positional arguments? but 2 were given"),
        ((None,), {"idel": 5}, r"got an unexpected keyword argument 'idel'"),
        ((None,), {"sock": None}, r"got multiple values for argument 'sock'"),
    ],
)
def test_enable_argument_errors(
    enable: Callable[..., None],
    tcp: socket.socket,
    args: tuple[object, ...],
    kwargs: dict[str, object],
    message: str,
) -> None:
    args = tuple(tcp if a is None else a for a in args)
    kwargs = {k: tcp if v is None else v for k, v in kwargs.items()}
    with pytest.raises(TypeError, match=message):
        enable(*args, **kwargs)
    assert raw(tcp).enabled is False


@pytest.mark.parametrize("get", paths("get"))
def test_get_arguments(get: Callable[..., keepalive.Settings], tcp: socket.socket) -> None:
    assert get(tcp) == get(sock=tcp) == get(tcp.fileno())
    with pytest.raises(TypeError, match="takes 1 positional arguments? but 2 were given"):
        get(tcp, tcp)
    with pytest.raises(TypeError, match="missing"):
        get()
    with pytest.raises(TypeError, match="unexpected keyword argument 'fd'"):
        get(fd=tcp)


@pytest.mark.parametrize("set_deadline", paths("set_deadline"))
def test_set_deadline_arguments(set_deadline: Callable[..., None], tcp: socket.socket) -> None:
    set_deadline(tcp, 60)
    assert raw(tcp) == Raw(True, 30, 10, 3, 60_000)
    set_deadline(sock=tcp, seconds=60, probes=5)
    assert raw(tcp) == Raw(True, 30, 6, 5, 60_000)
    with pytest.raises(TypeError, match="takes 2 positional arguments? but 3 were given"):
        set_deadline(tcp, 60, 5)
    with pytest.raises(TypeError, match="missing"):
        set_deadline(tcp)
    with pytest.raises(ValueError, match="deadline must be 2..131068 seconds, got 1"):
        set_deadline(tcp, seconds=1)
    assert raw(tcp) == Raw(True, 30, 6, 5, 60_000)
    set_deadline(tcp, 60, max_idle=20)
    assert raw(tcp) == Raw(True, 14, 2, 23, 60_000)
    with pytest.raises(ValueError, match="max_idle must be at least 27 seconds"):
        set_deadline(tcp, 60, probes=3, max_idle=10)
    with pytest.raises(TypeError, match="max_idle"):
        set_deadline(tcp, 60, max_idle=20.0)
    assert raw(tcp) == Raw(True, 14, 2, 23, 60_000)


@pytest.mark.parametrize("enable", paths("enable"))
def test_socket_subclasses_and_fileno_objects(enable: Callable[..., None]) -> None:
    class Sub(socket.socket):
        pass

    class Wrapper:
        def __init__(self, s: socket.socket) -> None:
            self.s = s

        def fileno(self) -> int:
            return self.s.fileno()

    with Sub() as sub, socket.socket() as plain:
        enable(sub, idle=12)
        enable(Wrapper(plain), idle=13)
        assert (raw(sub).idle, raw(plain).idle) == (12, 13)


def test_a_closed_socket_is_ebadf_on_both_paths() -> None:
    import errno

    s = socket.socket()
    s.close()
    for enable in paths("enable"):
        with pytest.raises(OSError) as e:
            enable(s, idle=5)
        assert e.value.errno == errno.EBADF


@pytest.mark.parametrize(
    "kwargs",
    [
        {"idle": 0},
        {"idle": True},
        {"interval": 2**70},
        {"count": -(2**70)},
        {"count": 1.5},
        {"idle": 30, "interval": 7, "count": 128},
        {"idle": "30"},
    ],
)
def test_both_paths_refuse_alike(tcp: socket.socket, kwargs: dict[str, object]) -> None:
    raised = []
    for enable in paths("enable"):
        with pytest.raises((TypeError, ValueError)) as e:
            enable(tcp, **kwargs)
        raised.append((type(e.value), str(e.value)))
        assert raw(tcp).enabled is False
    assert len(set(raised)) == 1, raised


def test_int_subclasses_and_index_objects(tcp: socket.socket) -> None:
    class Seconds(int):
        pass

    for enable in paths("enable"):
        enable(tcp, idle=Seconds(17), count=Seconds(2))
        assert (raw(tcp).idle, raw(tcp).count) == (17, 2)
        enable(Seconds(tcp.fileno()), interval=Seconds(4))
        assert raw(tcp).interval == 4
