"""The write-after-a-silence probe of the cgroup tests: a python3 program
that sets no socket option of its own (the cgroup's policy gives it
keepalive), and reads its socket only with getsockopt.

    writer.py HOST:PORT SECONDS|busy|connect

Connects, prints "connected", waits until the peer has been silent SECONDS
(tcpi_last_ack_recv), then writes one request and waits for the connection
to end; `busy` writes all the time instead, from the start; `connect`
only connects, with no timeout of its own ("connecting M", then "connected
M" or "failed M ERRNO_NAME -"). Lines, each with this process's CLOCK_MONOTONIC time:

    connected M
    wrote M SILENT_MS
    user_timeout M MS          whenever TCP_USER_TIMEOUT changes
    acked M                    the request was acknowledged
    failed M ERRNO_NAME LAST_ACK_MS
"""

import errno
import select
import socket
import struct
import sys
import time

TCP_USER_TIMEOUT = getattr(socket, "TCP_USER_TIMEOUT", 18)


def say(*fields):
    print(fields[0], f"{time.monotonic():.6f}", *fields[1:], flush=True)


def tcp_info(sock):
    """(unacked, ms since the peer's last ACK) from TCP_INFO."""
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    unacked, = struct.unpack_from("I", raw, 24)
    last_ack, = struct.unpack_from("I", raw, 56)
    return unacked, last_ack


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    busy = sys.argv[2] == "busy"
    if sys.argv[2] == "connect":
        say("connecting")
        try:
            socket.create_connection((host, int(port)), timeout=None).close()
        except OSError as e:
            say("failed", errno.errorcode.get(e.errno or 0, str(e.errno)), "-")
            return 1
        say("connected")
        return 0
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.setblocking(False)
    say("connected")
    if not busy:
        while tcp_info(sock)[1] < float(sys.argv[2]) * 1000:
            time.sleep(0.005)
        sock.send(b"GET / HTTP/1.1\r\nHost: pool\r\n\r\n")
        say("wrote", tcp_info(sock)[1])
    ut = None
    acked = False
    while True:
        now = sock.getsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT)
        if now != ut:
            ut = now
            say("user_timeout", ut)
        unacked, _ = tcp_info(sock)
        if unacked == 0 and not acked and not busy:
            acked = True
            say("acked")
        readable, writable, _ = select.select([sock], [sock] if busy else [], [], 0.02)
        err = 0
        if writable:
            try:
                sock.send(b"x" * 16384)
            except BlockingIOError:
                pass
            except OSError as e:
                err = e.errno
        err = err or sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if not err and readable:
            try:
                if not sock.recv(4096):
                    err = errno.ECONNRESET
            except OSError as e:
                err = e.errno
        if err:
            say("failed", errno.errorcode.get(err, str(err)), tcp_info(sock)[1])
            return 1


if __name__ == "__main__":
    sys.exit(main())
