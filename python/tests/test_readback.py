"""What the fast paths of get() and the socket's descriptor must not change:
get() reads the kernel at every call (a Settings object is reused only while
the values are equal), and the descriptor of a socket.socket, read where
CPython keeps it, is always the socket's current one. (Subclasses and
objects with fileno() take fileno(): test_call_paths.py.)"""

from __future__ import annotations

import errno
import socket

import pytest

import keepalive
from conftest import Raw, raw


def test_get_reads_the_kernel_every_call(tcp: socket.socket) -> None:
    keepalive.enable(tcp, idle=30, interval=7, count=4)
    first = keepalive.get(tcp)
    # Changed behind the library's back: the next get() sees it.
    tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 31)
    second = keepalive.get(tcp)
    assert (first.idle, second.idle) == (30, 31)
    assert first != second
    assert (second.enabled, second.interval, second.count) == (True, 7, 4)


def test_equal_settings_may_be_one_object_and_different_ones_never_are() -> None:
    with socket.socket() as a, socket.socket() as b:
        keepalive.enable(a, idle=30, interval=7, count=4)
        keepalive.enable(b, idle=30, interval=7, count=4)
        sa, sb = keepalive.get(a), keepalive.get(b)
        assert sa == sb and hash(sa) == hash(sb)
        assert sa is sb  # immutable values: equal ones are shared
        keepalive.enable(b, count=5)
        sb = keepalive.get(b)
        assert sb is not sa and (sa.count, sb.count) == (4, 5)
        assert keepalive.get(a) == sa


def test_the_descriptor_follows_the_socket() -> None:
    with socket.socket() as a, socket.socket() as b:
        keepalive.enable(a, idle=11)
        keepalive.enable(b, idle=12)
        assert (raw(a).idle, raw(b).idle) == (11, 12)
        # The same object, another descriptor after close + a new socket.
        fd = a.detach()
        with pytest.raises(OSError) as e:
            keepalive.enable(a, idle=13)
        assert e.value.errno == errno.EBADF
        c = socket.socket(fileno=fd)
        keepalive.enable(c, idle=14)
        assert raw(c).idle == 14
        c.close()
        with pytest.raises(OSError) as e:
            keepalive.get(c)
        assert e.value.errno == errno.EBADF
        assert raw(b) == Raw(True, 12, raw(b).interval, raw(b).count, 0)

