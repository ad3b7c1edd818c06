"""Every bad input: the right exception, a clear message, and nothing changed."""

from __future__ import annotations

import errno
import os
import socket
import sys
from collections.abc import Callable
from typing import Any

import pytest

import keepalive
from conftest import TCP_USER_TIMEOUT, Raw, raw

NOT_TCP = (errno.ENOPROTOOPT, errno.EOPNOTSUPP)

# Each call of the API on a socket-like argument, with valid other arguments.
CALLS: dict[str, Callable[[Any], object]] = {
    "enable": lambda s: keepalive.enable(s),
    "enable(values)": lambda s: keepalive.enable(s, idle=10, interval=2, count=3),
    "disable": lambda s: keepalive.disable(s),
    "get": lambda s: keepalive.get(s),
    "set_user_timeout": lambda s: keepalive.set_user_timeout(s, 1000),
    "set_deadline": lambda s: keepalive.set_deadline(s, 10),
    "set_deadline(probes)": lambda s: keepalive.set_deadline(s, 10, probes=4),
    "status": lambda s: keepalive.status(s),
}


# ---- the socket argument --------------------------------------------------


class NoFileno:
    pass


class FilenoReturns:
    def __init__(self, value: object) -> None:
        self.value = value

    def fileno(self) -> object:
        return self.value


class FilenoRaises:
    def fileno(self) -> int:
        raise RuntimeError("fileno exploded")


BAD_SOCK_TYPES = [
    None,
    True,
    False,
    1.5,
    "3",
    b"3",
    object(),
    NoFileno(),
    [3],
    FilenoReturns("3"),
    FilenoReturns(None),
    FilenoReturns(True),
    FilenoReturns(3.0),
]


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize("sock", BAD_SOCK_TYPES, ids=repr)
def test_wrong_sock_type(call: Callable[[Any], object], sock: object) -> None:
    with pytest.raises(TypeError, match=r"sock must be|fileno\(\) must return"):
        call(sock)


def test_bool_descriptor_is_refused_even_when_it_names_an_open_fd() -> None:
    # True == 1 is stdout; it must never be taken for a descriptor.
    with pytest.raises(TypeError, match="not bool"):
        keepalive.enable(True)


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_fileno_exception_propagates(call: Callable[[Any], object]) -> None:
    with pytest.raises(RuntimeError, match="fileno exploded"):
        call(FilenoRaises())


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize("fd", [-1, -2, -(2**40), 2**31, 2**40, 2**100, -(2**100)])
def test_impossible_descriptor_is_ebadf(call: Callable[[Any], object], fd: int) -> None:
    with pytest.raises(OSError) as e:
        call(fd)
    assert e.value.errno == errno.EBADF
    with pytest.raises(OSError) as e:
        call(FilenoReturns(fd))
    assert e.value.errno == errno.EBADF


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_closed_socket_is_ebadf(call: Callable[[Any], object]) -> None:
    s = socket.socket()
    s.close()  # fileno() is now -1
    with pytest.raises(OSError) as e:
        call(s)
    assert e.value.errno == errno.EBADF


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_closed_descriptor_is_ebadf(call: Callable[[Any], object]) -> None:
    s = socket.socket()
    fd = s.detach()
    os.close(fd)
    with pytest.raises(OSError) as e:
        call(fd)
    assert e.value.errno == errno.EBADF
    assert "Bad file descriptor" in str(e.value)


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_pipe_is_enotsock(call: Callable[[Any], object], pipe: tuple[int, int]) -> None:
    for fd in pipe:
        with pytest.raises(OSError) as e:
            call(fd)
        assert e.value.errno == errno.ENOTSOCK


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_udp_is_refused_and_keepalive_stays_off(
    call: Callable[[Any], object], udp: socket.socket
) -> None:
    with pytest.raises(OSError) as e:
        call(udp)
    assert e.value.errno in NOT_TCP
    assert udp.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_unix_socket_is_refused_and_keepalive_stays_off(call: Callable[[Any], object]) -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        with pytest.raises(OSError) as e:
            call(a)
        assert e.value.errno in NOT_TCP
        assert a.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0


def test_os_error_message_names_the_option(udp: socket.socket) -> None:
    with pytest.raises(OSError) as e:
        keepalive.enable(udp, idle=5)
    assert e.value.strerror is not None and "TCP_KEEP" in e.value.strerror
    # The errno is said once, by OSError itself: no "(os error 92)" after it.
    assert str(e.value) == f"[Errno {e.value.errno}] {e.value.strerror}"
    assert "os error" not in str(e.value)


@pytest.mark.parametrize("fd", [2**70, -(2**70), 2**64])
def test_impossible_descriptor_is_shown_as_given(fd: int) -> None:
    with pytest.raises(OSError) as e:
        keepalive.get(fd)
    assert f"not a file descriptor: {fd} " in str(e.value)


# ---- the values -----------------------------------------------------------

TUNED = Raw(False, 50, 6, 7, 0)


@pytest.fixture
def tuned(tcp: socket.socket) -> socket.socket:
    """A TCP socket with known values and keepalive off."""
    keepalive.enable(tcp, idle=TUNED.idle, interval=TUNED.interval, count=TUNED.count)
    keepalive.disable(tcp)
    assert raw(tcp) == TUNED
    return tcp


@pytest.mark.parametrize("name", ["idle", "interval", "count"])
@pytest.mark.parametrize("value", [True, False, 1.0, 10.5, "10", b"10", [10], object()])
def test_value_of_wrong_type(tuned: socket.socket, name: str, value: object) -> None:
    with pytest.raises(TypeError, match=f"{name} must be an int or None, not"):
        keepalive.enable(tuned, **{name: value})  # type: ignore[arg-type]
    assert raw(tuned) == TUNED


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("idle", 0, "idle must be 1..32767 seconds, got 0"),
        ("idle", -1, "idle must be 1..32767 seconds, got -1"),
        ("idle", 32768, "idle must be 1..32767 seconds, got 32768"),
        ("idle", 2**70, "idle must be 1..32767 seconds, got 1180591620717411303424"),
        ("idle", 2**64, "idle must be 1..32767 seconds, got 18446744073709551616"),
        ("interval", 0, "interval must be 1..32767 seconds, got 0"),
        ("interval", 40000, "interval must be 1..32767 seconds, got 40000"),
        ("interval", -(2**70), "interval must be 1..32767 seconds, got -1180591620717411303424"),
        ("count", 0, "count must be 1..127 probes, got 0"),
        ("count", 128, "count must be 1..127 probes, got 128"),
        ("count", -5, "count must be 1..127 probes, got -5"),
    ],
)
def test_value_out_of_range(tuned: socket.socket, name: str, value: int, message: str) -> None:
    with pytest.raises(ValueError) as e:
        keepalive.enable(tuned, **{name: value})
    assert str(e.value).startswith(message)
    assert raw(tuned) == TUNED


def shown(n: int) -> str:
    """How a message shows an int: as written, cut after 40 characters with
    "..." (computed here with str(), past CPython's 4300-digit limit)."""
    limit = getattr(sys, "get_int_max_str_digits", lambda: 0)()
    set_limit = getattr(sys, "set_int_max_str_digits", None)
    if limit and set_limit:
        set_limit(0)
    try:
        text = str(n)
    finally:
        if limit and set_limit:
            set_limit(limit)
    return text[:40] + "..." if len(text) > 40 else text


@pytest.mark.parametrize(
    "value",
    [10**5000 + 123, -(7 * 10**4300 + 1), 2**20000, 3 * 10**4299, 10**4300],
    ids=["10**5000+123", "-(7*10**4300+1)", "2**20000", "3*10**4299", "10**4300"],
)
def test_an_int_too_long_for_str_is_shown(tcp: socket.socket, value: int) -> None:
    """Past 4300 digits str() raises ValueError, and the message used to say
    `got ""`: it shows the int's first digits as for any long int."""
    want = shown(value)
    assert want.rstrip(".").lstrip("-").isdigit()
    with pytest.raises(ValueError) as e:
        keepalive.enable(tcp, idle=value)
    assert str(e.value) == f"idle must be 1..32767 seconds, got {want}"
    with pytest.raises(ValueError) as e:
        keepalive.set_user_timeout(tcp, value)
    assert str(e.value) == f"user_timeout must be 0..2147483647 milliseconds, got {want}"
    with pytest.raises(OSError) as o:
        keepalive.get(value)
    assert o.value.errno == errno.EBADF
    assert f"not a file descriptor: {want} (Bad file descriptor)" in str(o.value)
    assert raw(tcp).enabled is False


def test_all_or_nothing(tuned: socket.socket) -> None:
    # Valid idle and interval, invalid count: none is applied, keepalive stays off.
    with pytest.raises(ValueError, match="count"):
        keepalive.enable(tuned, idle=1, interval=1, count=500)
    assert raw(tuned) == TUNED


def test_invalid_value_wins_over_a_bad_socket_kind(udp: socket.socket) -> None:
    with pytest.raises(ValueError):
        keepalive.enable(udp, idle=0)


def test_values_are_keyword_only(tcp: socket.socket) -> None:
    with pytest.raises(TypeError):
        keepalive.enable(tcp, 10)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        keepalive.enable(tcp, idel=10)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        keepalive.enable()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        keepalive.get(tcp, tcp)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        keepalive.set_user_timeout(tcp)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        keepalive.system_defaults(tcp)  # type: ignore[call-arg]
    assert raw(tcp).enabled is False


@pytest.mark.parametrize("ms", [True, False, None, 1.0, "100", b"1", object()])
def test_user_timeout_of_wrong_type(tcp: socket.socket, ms: object) -> None:
    keepalive.set_user_timeout(tcp, 700)
    with pytest.raises(TypeError, match="ms must be an int, not"):
        keepalive.set_user_timeout(tcp, ms)  # type: ignore[arg-type]
    assert tcp.getsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT) == 700


@pytest.mark.parametrize(
    ("ms", "message"),
    [
        (-1, "user_timeout must be 0..2147483647 milliseconds, got -1"),
        (2**31, "user_timeout must be 0..2147483647 milliseconds, got 2147483648"),
        (2**80, "user_timeout must be 0..2147483647 milliseconds, got 1208925819614629174706176"),
        (-(2**80), "user_timeout must be 0..2147483647 milliseconds, got -1208925819614629174706176"),
    ],
)
def test_user_timeout_out_of_range(tcp: socket.socket, ms: int, message: str) -> None:
    keepalive.set_user_timeout(tcp, 700)
    with pytest.raises(ValueError) as e:
        keepalive.set_user_timeout(tcp, ms)
    assert str(e.value).startswith(message)
    assert tcp.getsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT) == 700
