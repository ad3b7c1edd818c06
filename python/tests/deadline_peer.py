"""One end of a dead-peer test, run inside a network namespace by
test_deadline_netns.py. Prints one line per event, each starting with the
event's name and this process's CLOCK_MONOTONIC time (shared with the test):

    client HOST PORT [--deadline D | --knobs IDLE,INTVL,CNT] [--user-timeout MS]
           [--busy] [--sample SECONDS]
        connects, applies the settings with keepalive, prints them, then
        either waits (idle) or keeps writing (--busy) until the connection
        fails; with --sample, prints keepalive.status() every SECONDS.
    server PORT [--deadline D]
        listens (the deadline set on the listener), accepts one client, prints
        the accepted socket's options as the kernel has them, then reads until
        the connection fails.

Lines: "listening M PORT", "connected M", "settings M on idle intvl cnt ut
dead_after_ms dead_after_busy_ms", "sample M PHASE PROBES DEAD_IN_MS|None",
"dead M ERRNO LAST_ACK_MS", "closed M".
"""

from __future__ import annotations

import argparse
import errno
import select
import socket
import sys
import time

import keepalive
from peers import ask_keepalive, parser, say

TCP_USER_TIMEOUT = getattr(socket, "TCP_USER_TIMEOUT", 18)


def options(sock: socket.socket) -> list[int]:
    """The five options, read with plain getsockopt."""
    return [
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
        sock.getsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT),
    ]


def report_settings(sock: socket.socket) -> None:
    s = keepalive.get(sock)
    say("settings", *options(sock), s.dead_after_ms, s.dead_after_busy_ms)


def dead(sock: socket.socket, err: int) -> int:
    """The connection failed with err: the time since the peer's last ACK."""
    say("dead", err, keepalive.status(sock).last_ack_ms)
    return 0


def wait(sock: socket.socket, busy: bool, sample: float | None) -> int:
    sock.setblocking(False)
    chunk = b"x" * 1024
    next_sample = time.monotonic()
    while True:
        now = time.monotonic()
        if sample is not None and now >= next_sample:
            st = keepalive.status(sock)
            say("sample", st.phase, st.probes_out, st.dead_in_ms)
            next_sample += sample
        timeout = 0.1 if busy else 0.05
        if sample is not None:
            timeout = max(0.0, min(timeout, next_sample - time.monotonic()))
        readable, writable, _ = select.select([sock], [sock] if busy else [], [], timeout)
        try:
            if readable:
                data = sock.recv(65536)
                if not data:
                    say("closed")
                    return 1
            if writable:
                sock.send(chunk)
        except BlockingIOError:
            pass
        except OSError as e:
            return dead(sock, e.errno or errno.EIO)
        if busy and not writable:
            # A full send buffer shows no error by itself: ask for it.
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                return dead(sock, err)


def client(args: argparse.Namespace) -> int:
    sock = socket.create_connection((args.host, args.port), timeout=10)
    ask_keepalive(sock, args)
    if args.user_timeout is not None:
        keepalive.set_user_timeout(sock, args.user_timeout)
    report_settings(sock)
    say("connected")
    return wait(sock, args.busy, args.sample)


def server(args: argparse.Namespace) -> int:
    listener = socket.create_server(("0.0.0.0", args.port))
    if args.deadline is not None:
        keepalive.set_deadline(listener, args.deadline)
    say("listening", listener.getsockname()[1])
    conn, _ = listener.accept()
    report_settings(conn)
    say("connected")
    return wait(conn, False, None)


def main() -> int:
    top, c, s = parser()
    c.add_argument("--user-timeout", type=int)
    s.add_argument("--deadline", type=int)
    args = top.parse_args()
    return client(args) if args.role == "client" else server(args)


if __name__ == "__main__":
    sys.exit(main())
