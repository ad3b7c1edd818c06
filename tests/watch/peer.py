#!/usr/bin/env python3
"""The two ends of the connections test_watch.py lets die, one per cause.

    peer.py server PORT read|noread|watchful [NAME]
                                        listens on every address; prints
                                        "listening pid=PID", then "accepted"
                                        per connection; reads what comes
                                        (read), never reads (noread, a small
                                        receive buffer: its window closes
                                        fast), or reads with keepalive 1/1/2
                                        set on the listener, which accepted
                                        connections inherit (watchful)
    peer.py client MODE HOST:PORT NAME  names itself NAME (its comm), connects,
                                        prints "ready pid=PID local=ADDR:PORT",
                                        then:
        keepalive  idle: keepalive 1 s idle, 1 s apart, 2 probes (dead 3 s
                   after the peer was last heard), no user timeout
        busy       sends 1 KiB every 50 ms, TCP_USER_TIMEOUT 3000 ms, no keepalive
        retrans    the same without a user timeout (tcp_retries2 decides)
        stalled    sends until the peer's window is shut, TCP_USER_TIMEOUT
                   3000 ms: dies while the window is probed
        reset      idle: keepalive 2 s idle, 1 s apart, 3 probes (the first
                   probe meets the rebooted peer's reset)
                                        and prints "died: ERROR" when the
                                        kernel gives up (exit 0).

Settings are the test's own raw setsockopt calls: what is tested is the
watch, not the library.
"""

import ctypes
import os
import socket
import sys
import threading
import time

PR_SET_NAME = 15


def server(port, mode, name=None):
    if name:
        ctypes.CDLL(None).prctl(PR_SET_NAME, name.encode(), 0, 0, 0)
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if mode == "noread":
        # Inherited by accepted sockets: a window that closes after a few KiB.
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    if mode == "watchful":
        srv.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
        srv.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
        srv.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    srv.bind(("::", port))
    srv.listen(8)
    print(f"listening pid={os.getpid()}", flush=True)
    held = []
    while True:
        conn, _ = srv.accept()
        held.append(conn)
        print("accepted", flush=True)
        if mode in ("read", "watchful"):
            threading.Thread(target=drain, args=(conn,), daemon=True).start()


def drain(conn):
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass


def client(mode, target, name):
    ctypes.CDLL(None).prctl(PR_SET_NAME, name.encode(), 0, 0, 0)
    host, port = target.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.settimeout(None)
    tcp = socket.IPPROTO_TCP
    if mode in ("keepalive", "reset"):
        idle, intvl, cnt = (1, 1, 2) if mode == "keepalive" else (2, 1, 3)
        sock.setsockopt(tcp, socket.TCP_KEEPIDLE, idle)
        sock.setsockopt(tcp, socket.TCP_KEEPINTVL, intvl)
        sock.setsockopt(tcp, socket.TCP_KEEPCNT, cnt)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    elif mode != "retrans":
        sock.setsockopt(tcp, socket.TCP_USER_TIMEOUT, 3000)
    local = "%s:%d" % sock.getsockname()[:2]
    print(f"ready pid={os.getpid()} local={local}", flush=True)
    try:
        if mode in ("keepalive", "reset"):
            while sock.recv(4096):
                pass
            print("died: the peer closed", flush=True)
            return 1
        if mode in ("busy", "retrans"):
            while True:
                sock.sendall(b"x" * 1024)
                time.sleep(0.05)
        # stalled: blocks once the peer's window and our send buffer are full
        chunk = b"y" * 65536
        while True:
            sock.sendall(chunk)
    except OSError as e:
        print(f"died: {e.strerror}", flush=True)
        return 0


def main():
    if sys.argv[1] == "server":
        return server(int(sys.argv[2]), sys.argv[3], *sys.argv[4:5])
    return client(sys.argv[2], sys.argv[3], sys.argv[4])


if __name__ == "__main__":
    sys.exit(main())
