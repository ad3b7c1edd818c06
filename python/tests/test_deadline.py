"""The dead-peer deadline, liveness and the system defaults, on real sockets,
read back with getsockopt. (Death on the wire: dead_client_netns.py and the
namespace tests in tests/e2e.)"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import time
from typing import Any

import pytest

import keepalive
from conftest import TCP_USER_TIMEOUT, Raw, proc_default, raw
from support import skips  # type: ignore[import-not-found]  # (conftest.py)
from support.host import why_no_root  # type: ignore[import-not-found]

IPPROTO_MPTCP = getattr(socket, "IPPROTO_MPTCP", 262)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (2, Raw(True, 1, 1, 1, 2000)),
        (5, Raw(True, 2, 1, 3, 5000)),
        (60, Raw(True, 30, 10, 3, 60000)),
        (150, Raw(True, 75, 25, 3, 150000)),
        (3600, Raw(True, 3375, 75, 3, 3600000)),
    ],
)
def test_set_deadline_sets_all_four(tcp: socket.socket, seconds: int, expected: Raw) -> None:
    keepalive.set_deadline(tcp, seconds)
    r = raw(tcp)
    assert r == expected
    assert r.idle + r.interval * r.count == seconds
    s = keepalive.get(tcp)
    assert s.dead_after_ms == seconds * 1000
    assert s.dead_after_busy_ms == seconds * 1000
    assert s.probes_until_dead == expected.count


def test_set_deadline_with_probes(tcp: socket.socket) -> None:
    keepalive.set_deadline(tcp, 60, probes=5)
    assert raw(tcp) == Raw(True, 30, 6, 5, 60000)
    keepalive.set_deadline(tcp, 60, probes=None)
    assert raw(tcp) == Raw(True, 30, 10, 3, 60000)


def test_a_listener_passes_its_deadline_on() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        keepalive.set_deadline(listener, 20)
        with socket.create_connection(listener.getsockname()):
            accepted, _ = listener.accept()
            with accepted:
                assert raw(accepted) == Raw(True, 11, 3, 3, 20000)


def test_dead_after_follows_the_kernels_rule(tcp: socket.socket) -> None:
    keepalive.enable(tcp, idle=2, interval=1, count=3)
    s = keepalive.get(tcp)
    assert (s.dead_after_ms, s.dead_after_busy_ms, s.probes_until_dead) == (5000, None, 3)
    # The trap: a user timeout replaces the count.
    keepalive.set_user_timeout(tcp, 3500)
    s = keepalive.get(tcp)
    assert (s.dead_after_ms, s.dead_after_busy_ms, s.probes_until_dead) == (4000, 3500, 2)
    keepalive.set_user_timeout(tcp, 8000)
    assert keepalive.get(tcp).dead_after_ms == 8000
    assert keepalive.get(tcp).probes_until_dead == 6


TUNED = Raw(True, 77, 7, 7, 7777)


@pytest.fixture
def tuned(tcp: socket.socket) -> socket.socket:
    keepalive.enable(tcp, idle=77, interval=7, count=7)
    keepalive.set_user_timeout(tcp, 7777)
    assert raw(tcp) == TUNED
    return tcp


@pytest.mark.parametrize(
    ("seconds", "probes", "message"),
    [
        (0, None, "deadline must be 2..131068 seconds, got 0"),
        (1, None, "deadline must be 2..131068 seconds, got 1"),
        (-5, None, "deadline must be 2..131068 seconds, got -5"),
        (131069, None, "deadline must be 2..131068 seconds, got 131069"),
        (2**70, None, "deadline must be 2..131068 seconds, got 1180591620717411303424"),
        # Out of the probes' own range: the field's range (keepalive::Request
        # checks each value's range before the deadline's).
        (5, 0, "probes must be 1..127 probes, got 0"),
        (5, -1, "probes must be 1..127 probes, got -1"),
        (1000, 128, "probes must be 1..127 probes, got 128"),
        (60, 2**64, "probes must be 1..127 probes, got 18446744073709551616"),
        # In range, too many for this deadline: the deadline's.
        (5, 5, "probes must be 1..4 probes for this deadline, got 5"),
        (60, 60, "probes must be 1..59 probes for this deadline, got 60"),
    ],
)
def test_bad_deadlines_change_nothing(
    tuned: socket.socket, seconds: int, probes: int | None, message: str
) -> None:
    with pytest.raises(ValueError) as e:
        keepalive.set_deadline(tuned, seconds, probes=probes)
    assert str(e.value) == message
    assert raw(tuned) == TUNED


@pytest.mark.parametrize("seconds", [5.0, 5.5, "5", None, True, b"5"])
def test_deadline_of_wrong_type(tuned: socket.socket, seconds: object) -> None:
    with pytest.raises(TypeError, match="seconds must be an int, not"):
        keepalive.set_deadline(tuned, seconds)  # type: ignore[arg-type]
    assert raw(tuned) == TUNED


@pytest.mark.parametrize("probes", [3.0, "3", True])
def test_probes_of_wrong_type(tuned: socket.socket, probes: object) -> None:
    with pytest.raises(TypeError, match="probes must be an int or None, not"):
        keepalive.set_deadline(tuned, 10, probes=probes)  # type: ignore[arg-type]
    assert raw(tuned) == TUNED


def test_probes_is_keyword_only(tcp: socket.socket) -> None:
    with pytest.raises(TypeError):
        keepalive.set_deadline(tcp, 10, 3)  # type: ignore[call-arg]
    assert raw(tcp).enabled is False


def test_status_of_a_listener_and_of_connections(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, accepted = pair
    with socket.create_server(("127.0.0.1", 0)) as listener:
        st = keepalive.status(listener)
        assert (st.state, st.phase, st.dead_in_ms) == ("LISTEN", "not-connected", None)
    st = keepalive.status(client)
    assert (st.state, st.phase, st.dead_in_ms) == ("ESTABLISHED", "unwatched", None)
    keepalive.set_deadline(client, 30)
    time.sleep(0.2)
    st = keepalive.status(client)
    assert st.phase == "idle"
    assert (st.probes_out, st.unacked) == (0, 0)
    assert st.last_ack_ms >= 150
    assert st.dead_in_ms is not None and 29000 <= st.dead_in_ms <= 30000 - 150
    assert st.settings == keepalive.get(client)
    # Data from the peer counts as hearing from it.
    accepted.sendall(b"x")
    assert client.recv(1) == b"x"
    st = keepalive.status(client)
    assert st.last_data_ms < 150
    assert st.dead_in_ms is not None and st.dead_in_ms > 29000
    for v in (st.last_ack_ms, st.last_data_ms, st.probes_out, st.unacked, st.dead_in_ms):
        assert type(v) is int
    assert repr(st).startswith('Status(state="ESTABLISHED", phase="idle"')


def test_a_closed_window_is_zero_window_and_its_abort_predicted() -> None:
    # A reader that stops reading, on loopback: the window closes, the
    # writer's data waits, and the kernel probes the window.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client = socket.create_connection(listener.getsockname())
        reader, _ = listener.accept()
        with client, reader:
            keepalive.set_deadline(client, 30)
            client.setblocking(False)
            sent = 0
            deadline = time.monotonic() + 5
            st = keepalive.status(client)
            while st.phase != "zero-window" and time.monotonic() < deadline:
                try:
                    sent += client.send(b"x" * 65536)
                except BlockingIOError:
                    time.sleep(0.01)
                st = keepalive.status(client)
            assert st.phase == "zero-window", st
            assert st.unacked == 0
            # Aborted 30 s after the first window probe (one RTO, at least
            # 200 ms, after the window closed), however the reader answers.
            assert st.dead_in_ms is not None and 29000 <= st.dead_in_ms <= 30000 + 1000
            # The reader reads again: the window opens, the data flows.
            reader.setblocking(False)
            got = 0
            while got < sent:
                try:
                    got += len(reader.recv(1 << 20))
                except BlockingIOError:
                    time.sleep(0.01)
                    if time.monotonic() > deadline + 5:
                        break
            assert got == sent
            assert keepalive.status(client).phase != "zero-window"


def test_values_compare_but_do_not_order(tcp: socket.socket) -> None:
    a, b = keepalive.get(tcp), keepalive.get(tcp)
    assert a == b
    with pytest.raises(TypeError):
        a < b  # type: ignore[operator]  # noqa: B015
    for cls in (keepalive.Settings, keepalive.Status):
        names = set(vars(cls))
        assert not names & {"__lt__", "__le__", "__gt__", "__ge__"}, cls
        assert "__eq__" in names


def test_help_points_at_files_that_exist() -> None:
    doc = keepalive.__doc__ or ""
    assert "keepalive/_keepalive.pyi" in doc
    stubs = os.path.join(os.path.dirname(keepalive.__file__), "_keepalive.pyi")
    assert os.path.exists(stubs)
    for f in (keepalive.enable, keepalive.set_deadline):
        assert "keepalive.pyi" not in (f.__doc__ or "")


def mptcp() -> socket.socket:
    try:
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
    except OSError as e:
        pytest.skip(f"this kernel makes no MPTCP socket: {e}")


def test_mptcp_get_set_and_a_refused_deadline() -> None:
    with mptcp() as s:
        assert keepalive.get(s).user_timeout_ms == 0
        keepalive.enable(s, idle=11, interval=3, count=4)
        got = keepalive.get(s)
        assert (got.enabled, got.idle, got.interval, got.count) == (True, 11, 3, 4)
        with pytest.raises(OSError) as e:
            keepalive.set_deadline(s, 30)
        assert e.value.errno in (errno.ENOPROTOOPT, errno.EOPNOTSUPP)
        assert "TCP_USER_TIMEOUT" in str(e.value)
        assert keepalive.get(s) == got


def test_set_system_defaults_refuses_bad_values_and_writes_nothing() -> None:
    before = [proc_default(f"tcp_keepalive_{n}") for n in ("time", "intvl", "probes")]
    for kwargs, message in [
        ({"idle": 0}, "idle must be 1..32767 seconds, got 0"),
        ({"idle": 600, "interval": -1}, "interval must be 1..32767 seconds, got -1"),
        ({"count": 2**70}, "count must be 1..127 probes, got 1180591620717411303424"),
    ]:
        with pytest.raises(ValueError) as e:
            keepalive.set_system_defaults(**kwargs)
        assert str(e.value) == message
    with pytest.raises(TypeError):
        keepalive.set_system_defaults(idle="600")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        keepalive.set_system_defaults(600)  # type: ignore[call-arg]
    assert [proc_default(f"tcp_keepalive_{n}") for n in ("time", "intvl", "probes")] == before


# Runs in a fresh network namespace (unshare -n), as root: sets 600/20/4 and
# reports what /proc, system_defaults() and a socket with keepalive merely
# turned on say; then, as nobody, tries again.
IN_NAMESPACE = """
import os, socket, keepalive
keepalive.set_system_defaults(idle=600, interval=20, count=4)
proc = [int(open(f"/proc/sys/net/ipv4/tcp_keepalive_{n}").read()) for n in ("time", "intvl", "probes")]
d = keepalive.system_defaults()
s = socket.socket()
keepalive.enable(s)
g = keepalive.get(s)
print(proc, [d.idle, d.interval, d.count], [g.idle, g.interval, g.count])
os.setgid(65534); os.setuid(65534)
try:
    keepalive.set_system_defaults(idle=601)
except OSError as e:
    print(e.errno, e.strerror)
print(int(open("/proc/sys/net/ipv4/tcp_keepalive_time").read()))
"""


def test_set_system_defaults_in_a_fresh_namespace() -> None:
    skips.require(why_no_root("to make a network namespace"))
    host = [proc_default(f"tcp_keepalive_{n}") for n in ("time", "intvl", "probes")]
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-I", "-c", IN_NAMESPACE],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "[600, 20, 4] [600, 20, 4] [600, 20, 4]"
    assert lines[1] == f"{errno.EACCES} /proc/sys/net/ipv4/tcp_keepalive_time: Permission denied"
    assert lines[2] == "600"
    assert [proc_default(f"tcp_keepalive_{n}") for n in ("time", "intvl", "probes")] == host


def test_max_idle_shapes_the_split(tcp: socket.socket) -> None:
    keepalive.set_deadline(tcp, 900, max_idle=350)
    assert raw(tcp) == Raw(True, 271, 37, 17, 900000)
    assert keepalive.get(tcp).dead_after_ms == 900_000
    keepalive.set_deadline(tcp, 60, max_idle=20)
    assert raw(tcp) == Raw(True, 14, 2, 23, 60000)
    keepalive.set_deadline(tcp, 60, max_idle=None)
    assert raw(tcp) == Raw(True, 30, 10, 3, 60000)
    keepalive.set_deadline(tcp, 900, probes=3, max_idle=350)
    assert raw(tcp) == Raw(True, 15, 295, 3, 900000)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"probes": 3, "max_idle": 10}, ValueError,
         "max_idle must be at least 27 seconds with deadline 60 seconds and 3 probes, got 10"),
        ({"max_idle": 4}, ValueError, "max_idle must be 5..4294967295 seconds, got 4"),
        ({"max_idle": -1}, ValueError, "max_idle must be 5..4294967295 seconds, got -1"),
        ({"max_idle": 2**70}, ValueError,
         "max_idle must be 5..4294967295 seconds, got 1180591620717411303424"),
        ({"max_idle": "20"}, TypeError, "max_idle"),
        ({"max_idle": 20.0}, TypeError, "max_idle"),
        ({"max_idle": True}, TypeError, "max_idle"),
    ],
)
def test_a_bad_max_idle_is_refused_and_changes_nothing(
    tcp: socket.socket, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    keepalive.set_deadline(tcp, 150)
    before = raw(tcp)
    with pytest.raises(error) as e:
        keepalive.set_deadline(tcp, 60, **kwargs)
    assert message in str(e.value)
    assert raw(tcp) == before
