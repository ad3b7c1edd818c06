"""Every call of the API on real sockets, read back with getsockopt."""

from __future__ import annotations

import errno
import importlib.metadata
import re
import socket

import pytest

import keepalive
from conftest import TCP_USER_TIMEOUT, Raw, as_tuple, changed, proc_default, raw


def test_version_is_the_distributions() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", keepalive.__version__)
    assert keepalive.__version__ == importlib.metadata.version("libkeepalive")


def test_testing_the_installed_wheel() -> None:
    # Not the source tree: python/keepalive has no native module beside it.
    assert "site-packages" in keepalive.__file__, keepalive.__file__
    assert importlib.metadata.files("libkeepalive") is not None


def test_native_module_is_abi3() -> None:
    from keepalive import _keepalive

    assert _keepalive.__file__ is not None
    assert _keepalive.__file__.endswith(".abi3.so"), _keepalive.__file__


def test_all_names_exported() -> None:
    for name in (
        "enable",
        "disable",
        "get",
        "set_user_timeout",
        "system_defaults",
        "Settings",
        "set_deadline",
        "status",
        "Status",
        "set_system_defaults",
        "socket_options",
    ):
        assert name in keepalive.__all__
        assert callable(getattr(keepalive, name))


def test_system_defaults_are_procs() -> None:
    d = keepalive.system_defaults()
    assert d.enabled is False
    assert d.user_timeout_ms == 0
    assert d.idle == proc_default("tcp_keepalive_time")
    assert d.interval == proc_default("tcp_keepalive_intvl")
    assert d.count == proc_default("tcp_keepalive_probes")


def test_get_fresh_socket(tcp: socket.socket) -> None:
    r = raw(tcp)
    assert r.enabled is False
    s = keepalive.get(tcp)
    assert (s.enabled, s.idle, s.interval, s.count, s.user_timeout_ms) == as_tuple(r)
    d = keepalive.system_defaults()
    assert (s.idle, s.interval, s.count) == (d.idle, d.interval, d.count)


def test_enable_without_values_keeps_them(tcp: socket.socket) -> None:
    before = raw(tcp)
    keepalive.enable(tcp)
    assert raw(tcp) == changed(before, enabled=True)


def test_enable_with_values(tcp: socket.socket) -> None:
    keepalive.enable(tcp, idle=30, interval=7, count=4)
    assert raw(tcp) == Raw(True, 30, 7, 4, 0)
    s = keepalive.get(tcp)
    assert (s.enabled, s.idle, s.interval, s.count) == (True, 30, 7, 4)


@pytest.mark.parametrize(
    "kwargs",
    [{"idle": 11}, {"interval": 12}, {"count": 13}, {"idle": 5, "count": 2}],
)
def test_enable_partial_changes_only_given(tcp: socket.socket, kwargs: dict[str, int]) -> None:
    before = raw(tcp)
    keepalive.enable(tcp, **kwargs)
    assert raw(tcp) == changed(before, enabled=True, **kwargs)


def test_none_means_unchanged(tcp: socket.socket) -> None:
    keepalive.enable(tcp, idle=20, interval=3, count=6)
    keepalive.enable(tcp, idle=None, interval=None, count=None)
    assert raw(tcp) == Raw(True, 20, 3, 6, 0)


def test_limits_accepted(tcp: socket.socket) -> None:
    keepalive.enable(tcp, idle=1, interval=1, count=1)
    assert as_tuple(raw(tcp))[1:4] == (1, 1, 1)
    keepalive.enable(tcp, idle=32767, interval=32767, count=127)
    assert as_tuple(raw(tcp))[1:4] == (32767, 32767, 127)


def test_disable_keeps_tuned_values(tcp: socket.socket) -> None:
    keepalive.enable(tcp, idle=40, interval=8, count=3)
    keepalive.disable(tcp)
    assert raw(tcp) == Raw(False, 40, 8, 3, 0)
    assert keepalive.get(tcp).enabled is False
    keepalive.enable(tcp)
    assert raw(tcp) == Raw(True, 40, 8, 3, 0)


def test_set_user_timeout(tcp: socket.socket) -> None:
    keepalive.set_user_timeout(tcp, 5000)
    assert tcp.getsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT) == 5000
    assert keepalive.get(tcp).user_timeout_ms == 5000
    keepalive.set_user_timeout(tcp, 2147483647)
    assert tcp.getsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT) == 2147483647
    keepalive.set_user_timeout(tcp, 0)
    assert tcp.getsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT) == 0
    # Keepalive itself is untouched by the user timeout.
    assert raw(tcp).enabled is False


def test_connected_pair(pair: tuple[socket.socket, socket.socket]) -> None:
    client, accepted = pair
    keepalive.enable(client, idle=2, interval=1, count=3)
    keepalive.set_user_timeout(client, 6000)
    assert raw(client) == Raw(True, 2, 1, 3, 6000)
    # The peer is a separate socket: untouched.
    assert raw(accepted).enabled is False
    client.sendall(b"ping")
    assert accepted.recv(4) == b"ping"


def test_ipv6_socket() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this Python")
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError as e:
        pytest.skip(f"no IPv6 sockets here: {e}")
    with s:
        keepalive.enable(s, interval=9)
        assert raw(s).enabled and raw(s).interval == 9


def test_listener_settings_are_inherited() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        keepalive.enable(listener, idle=33, interval=4, count=5)
        keepalive.set_user_timeout(listener, 7000)
        with socket.create_connection(listener.getsockname()) as client:
            accepted, _ = listener.accept()
            with accepted:
                assert raw(accepted) == Raw(True, 33, 4, 5, 7000)
                assert keepalive.get(accepted) == keepalive.get(listener)
            assert raw(client).enabled is False


def test_int_descriptor(tcp: socket.socket) -> None:
    keepalive.enable(tcp.fileno(), count=7)
    assert raw(tcp).count == 7
    assert keepalive.get(tcp.fileno()) == keepalive.get(tcp)
    keepalive.set_user_timeout(tcp.fileno(), 1234)
    keepalive.disable(tcp.fileno())
    r = raw(tcp)
    assert (r.enabled, r.count, r.user_timeout_ms) == (False, 7, 1234)


class HasFileno:
    """Anything with fileno(), like trio's or asyncio's socket wrappers."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.calls = 0

    def fileno(self) -> int:
        self.calls += 1
        return self.sock.fileno()


def test_object_with_fileno(tcp: socket.socket) -> None:
    obj = HasFileno(tcp)
    keepalive.enable(obj, idle=17)
    assert raw(tcp).idle == 17 and raw(tcp).enabled
    assert keepalive.get(obj).idle == 17
    keepalive.set_user_timeout(obj, 99)
    keepalive.disable(obj)
    r = raw(tcp)
    assert (r.enabled, r.idle, r.user_timeout_ms) == (False, 17, 99)
    assert obj.calls == 4


def test_int_subclass_descriptor(tcp: socket.socket) -> None:
    class Fd(int):
        pass

    keepalive.enable(Fd(tcp.fileno()))
    assert raw(tcp).enabled


def test_settings_is_immutable_value(tcp: socket.socket) -> None:
    keepalive.enable(tcp, idle=30, interval=7, count=4)
    s = keepalive.get(tcp)
    assert isinstance(s, keepalive.Settings)
    with pytest.raises(AttributeError):
        s.idle = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        s.new_field = 1  # type: ignore[attr-defined]
    assert s == keepalive.get(tcp)
    assert hash(s) == hash(keepalive.get(tcp))
    assert len({s, keepalive.get(tcp)}) == 1
    assert s != keepalive.system_defaults()
    assert s != (True, 30, 7, 4, 0)
    assert repr(s) == "Settings(enabled=True, idle=30, interval=7, count=4, user_timeout_ms=0)"
    assert type(s.enabled) is bool
    for v in (s.idle, s.interval, s.count, s.user_timeout_ms):
        assert type(v) is int
    assert keepalive.Settings.__module__ == "keepalive"
