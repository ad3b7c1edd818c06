"""keepalive.socket_options: the triples, checked like everything else, and
what they do when set on a real socket."""

from __future__ import annotations

import errno
import socket
import sys

import pytest

import keepalive
from conftest import TCP_USER_TIMEOUT, Raw, raw

TCP = socket.IPPROTO_TCP
ON = (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


def test_nothing_given_is_keepalive_on() -> None:
    assert keepalive.socket_options() == [ON]


def test_each_value_becomes_its_option_in_enables_order() -> None:
    opts = keepalive.socket_options(count=5, interval=6, idle=7, user_timeout_ms=8000)
    assert opts == [
        (TCP, TCP_USER_TIMEOUT, 8000),
        (TCP, socket.TCP_KEEPIDLE, 7),
        (TCP, socket.TCP_KEEPINTVL, 6),
        (TCP, socket.TCP_KEEPCNT, 5),
        ON,
    ]
    assert all(type(v) is int for triple in opts for v in triple)


def test_deadline_is_set_deadlines_split(tcp: socket.socket) -> None:
    assert keepalive.socket_options(deadline=60) == [
        (TCP, TCP_USER_TIMEOUT, 60_000),
        (TCP, socket.TCP_KEEPIDLE, 30),
        (TCP, socket.TCP_KEEPINTVL, 10),
        (TCP, socket.TCP_KEEPCNT, 3),
        ON,
    ]
    for d in (2, 3, 5, 150, 3600, 131_068):
        with socket.socket() as by_deadline, socket.socket() as by_hand:
            keepalive.set_deadline(by_deadline, d)
            for level, opt, value in keepalive.socket_options(deadline=d):
                by_hand.setsockopt(level, opt, value)
            assert raw(by_hand) == raw(by_deadline), d


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"idle": 30, "interval": 7, "count": 4},
        {"count": 127},
        {"idle": 32767, "user_timeout_ms": 0},
        {"user_timeout_ms": 2**31 - 1},
    ],
)
def test_set_by_hand_they_equal_enable(kwargs: dict[str, int]) -> None:
    with socket.socket() as by_enable, socket.socket() as by_hand:
        ut = kwargs.get("user_timeout_ms")
        keepalive.enable(
            by_enable,
            idle=kwargs.get("idle"),
            interval=kwargs.get("interval"),
            count=kwargs.get("count"),
        )
        if ut is not None:
            keepalive.set_user_timeout(by_enable, ut)
        for level, opt, value in keepalive.socket_options(**kwargs):
            by_hand.setsockopt(level, opt, value)
        assert raw(by_hand) == raw(by_enable)
        assert raw(by_hand).enabled is True


def test_on_a_real_connection_before_connect() -> None:
    # What the HTTP clients do: options on the socket, then connect.
    with socket.create_server(("127.0.0.1", 0)) as server, socket.socket() as s:
        for level, opt, value in keepalive.socket_options(idle=11, interval=3, count=2):
            s.setsockopt(level, opt, value)
        s.connect(server.getsockname())
        assert raw(s) == Raw(True, 11, 3, 2, 0)
        assert keepalive.get(s).dead_after_ms == (11 + 3 * 2) * 1000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"idle": 0}, "idle must be 1..32767 seconds, got 0"),
        ({"interval": 32768}, "interval must be 1..32767 seconds, got 32768"),
        ({"count": 128}, "count must be 1..127 probes, got 128"),
        ({"count": -1}, "count must be 1..127 probes, got -1"),
        ({"idle": 2**70}, "idle must be 1..32767 seconds, got 1180591620717411303424"),
        ({"user_timeout_ms": -1}, "user_timeout must be 0..2147483647 milliseconds, got -1"),
        ({"user_timeout_ms": 2**31}, "user_timeout must be 0..2147483647 milliseconds, got 2147483648"),
        ({"deadline": 1}, "deadline must be 2..131068 seconds, got 1"),
        ({"deadline": 131_069}, "deadline must be 2..131068 seconds, got 131069"),
        ({"deadline": -(2**80)}, "deadline must be 2..131068 seconds, got -1208925819614629174706176"),
    ],
)
def test_bad_values_are_value_errors(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError) as e:
        keepalive.socket_options(**kwargs)
    assert str(e.value) == message


@pytest.mark.parametrize(
    ("other", "field"),
    [("idle", "idle"), ("interval", "interval"), ("count", "count"), ("user_timeout_ms", "user_timeout")],
)
def test_deadline_excludes_the_knobs(other: str, field: str) -> None:
    # The core's rule and its message (keepalive::Request), as every door says it.
    with pytest.raises(ValueError) as e:
        keepalive.socket_options(deadline=60, **{other: 5})
    assert str(e.value) == (
        f"{field} cannot be given with deadline: "
        "deadline sets idle, interval, count and user_timeout together"
    )
    # None means not given, as everywhere.
    assert keepalive.socket_options(deadline=60, **{other: None}) == keepalive.socket_options(
        deadline=60
    )


def test_deadline_conflict_names_the_first_knob_given() -> None:
    with pytest.raises(ValueError, match=r"^count cannot be given with deadline"):
        keepalive.socket_options(deadline=60, count=2, user_timeout_ms=3)


def test_ranges_come_before_the_rule() -> None:
    with pytest.raises(ValueError, match=r"^idle must be 1\.\.32767 seconds, got 0$"):
        keepalive.socket_options(deadline=60, idle=0)


@pytest.mark.parametrize("name", ["idle", "interval", "count", "user_timeout_ms", "deadline"])
@pytest.mark.parametrize("value", [True, 1.0, "5", b"5", object()])
def test_wrong_types_are_type_errors(name: str, value: object) -> None:
    with pytest.raises(TypeError, match=f"^{name} must be an int or None, not "):
        keepalive.socket_options(**{name: value})  # type: ignore[arg-type]


def test_a_wrong_type_wins_over_the_deadline_conflict() -> None:
    with pytest.raises(TypeError, match="^idle must be an int or None"):
        keepalive.socket_options(deadline=60, idle="5")  # type: ignore[arg-type]


def test_keyword_only() -> None:
    with pytest.raises(TypeError):
        keepalive.socket_options(30)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        keepalive.socket_options(idel=30)  # type: ignore[call-arg]


@pytest.mark.skipif(sys.platform != "linux", reason="the user timeout exists on Linux")
def test_the_user_timeout_exists_here() -> None:
    assert (TCP, TCP_USER_TIMEOUT, 5) in keepalive.socket_options(user_timeout_ms=5)


@pytest.mark.skipif(sys.platform == "linux", reason="Linux has TCP_USER_TIMEOUT")
def test_the_user_timeout_is_unsupported_elsewhere() -> None:  # pragma: no cover
    with pytest.raises(OSError) as e:
        keepalive.socket_options(user_timeout_ms=5)
    assert e.value.errno == errno.EOPNOTSUPP


def test_max_idle_goes_with_the_deadline() -> None:
    with socket.socket() as by_options, socket.socket() as by_deadline:
        keepalive.set_deadline(by_deadline, 900, max_idle=350)
        for level, opt, value in keepalive.socket_options(deadline=900, max_idle=350):
            by_options.setsockopt(level, opt, value)
        assert raw(by_options) == raw(by_deadline) == Raw(True, 271, 37, 17, 900000)
    with pytest.raises(ValueError, match="^max_idle goes with deadline: give deadline too$"):
        keepalive.socket_options(idle=30, max_idle=350)
    with pytest.raises(ValueError, match="max_idle must be at least"):
        keepalive.socket_options(deadline=100_000, max_idle=60)
    with pytest.raises(TypeError, match="max_idle"):
        keepalive.socket_options(deadline=60, max_idle="350")  # type: ignore[arg-type]
