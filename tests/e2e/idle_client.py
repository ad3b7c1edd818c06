#!/usr/bin/env python3
"""A client that goes quiet, then asks again: what a pooled connection does.

    idle_client.py HOST:PORT SILENCE [WAIT]

Connects, sends one line and reads its echo, prints `connected` and
`ready` (the moment the silence starts), says nothing for SILENCE seconds
(that is the scenario, not a synchronisation), sends a second line and
waits up to WAIT seconds (default 3) for its echo. Prints one of
`answered after X s`, `no answer within X s` (the path forgot the flow and
drops its packets) or `reset: STRERROR` (the path answered with a reset),
and exits 0, 1 or 2 accordingly. Keepalive is whatever the environment
gives it (LD_PRELOAD through keepalive-run, `keepalive set` on its pid): it
sets none itself.
"""

import socket
import sys
import time


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    silence = float(sys.argv[2])
    wait = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(b"hello\n")
    got = b""
    while not got.endswith(b"\n"):
        got += sock.recv(100)
    print(f"connected fd {sock.fileno()} from {sock.getsockname()[0]}:{sock.getsockname()[1]}",
          flush=True)
    print("ready", flush=True)
    time.sleep(silence)
    start = time.monotonic()
    try:
        sock.sendall(b"again\n")
        sock.settimeout(wait)
        data = sock.recv(100)
    except socket.timeout:
        print(f"no answer within {wait:g} s", flush=True)
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
