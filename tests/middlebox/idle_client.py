#!/usr/bin/env python3
"""A client that goes quiet, then asks again: what a pooled connection does.

    idle_client.py HOST:PORT SILENCE [WAIT] [--lib LIBKEEPALIVE -D SECONDS --max-idle T]

Connects, sends one line and reads its echo, prints `connected` and
`ready` (the moment the silence starts), says nothing for SILENCE seconds
(that is the scenario, not a synchronisation), sends a second line and
waits up to WAIT seconds (default 3) for its echo. Prints one of
`answered after X s`, `no answer within X s` (the path forgot the flow and
drops its packets) or `reset: STRERROR` (the path answered with a reset),
and exits 0, 1 or 2 accordingly.

Keepalive is whatever the environment gives it (LD_PRELOAD through
keepalive-run, `keepalive set` on its pid), or, with --lib, a deadline set
through the C library's keepalive_set_deadline_ex() (ctypes) before it
connects, with -D and --max-idle; it prints the split read back.
"""

import argparse
import ctypes
import socket
import sys
import time


class Deadline(ctypes.Structure):
    """keepalive_deadline, as include/keepalive.h declares it."""
    _fields_ = [("size", ctypes.c_uint32), ("seconds", ctypes.c_uint32),
                ("probes", ctypes.c_uint32), ("max_idle", ctypes.c_uint32)]


def set_deadline(lib_path, sock, seconds, max_idle):
    """keepalive_set_deadline_ex through the C library; returns the split."""
    lib = ctypes.CDLL(lib_path, use_errno=True)
    lib.keepalive_last_error.restype = ctypes.c_char_p
    d = Deadline(ctypes.sizeof(Deadline), seconds, 0, max_idle)
    if lib.keepalive_set_deadline_ex(sock.fileno(), ctypes.byref(d)) != 0:
        sys.exit(f"keepalive_set_deadline_ex: {lib.keepalive_last_error().decode()}")
    tcp = socket.IPPROTO_TCP
    return (sock.getsockopt(tcp, socket.TCP_KEEPIDLE), sock.getsockopt(tcp, socket.TCP_KEEPINTVL),
            sock.getsockopt(tcp, socket.TCP_KEEPCNT))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("target")
    p.add_argument("silence", type=float)
    p.add_argument("wait", type=float, nargs="?", default=3.0)
    p.add_argument("--lib")
    p.add_argument("-D", type=int)
    p.add_argument("--max-idle", type=int, default=0)
    args = p.parse_args()
    host, port = args.target.rsplit(":", 1)
    sock = socket.socket()
    if args.lib:
        idle, interval, count = set_deadline(args.lib, sock, args.D, args.max_idle)
        print(f"keepalive_set_deadline_ex(D={args.D}, max_idle={args.max_idle}): "
              f"idle {idle} s, interval {interval} s, count {count}", flush=True)
    sock.settimeout(10)
    sock.connect((host, int(port)))
    sock.sendall(b"hello\n")
    got = b""
    while not got.endswith(b"\n"):
        got += sock.recv(100)
    print(f"connected fd {sock.fileno()} from {sock.getsockname()[0]}:{sock.getsockname()[1]}",
          flush=True)
    print("ready", flush=True)
    time.sleep(args.silence)
    start = time.monotonic()
    try:
        sock.sendall(b"again\n")
        sock.settimeout(args.wait)
        data = sock.recv(100)
    except socket.timeout:
        print(f"no answer within {args.wait:g} s", flush=True)
        return 1
    except OSError as e:
        print(f"reset: {e.strerror}", flush=True)
        return 2
    if not data:
        print("reset: closed by the peer", flush=True)
        return 2
    print(f"answered after {time.monotonic() - start:.3f} s", flush=True)
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
