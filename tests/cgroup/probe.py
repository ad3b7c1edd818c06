"""The Python probe of the cgroup tests: connects to HOST:PORT with the
standard library and prints the keepalive settings read back from its own
socket: "settings ENABLED IDLE INTERVAL COUNT USER_TIMEOUT_MS"."""

import socket
import sys

TCP_USER_TIMEOUT = getattr(socket, "TCP_USER_TIMEOUT", 18)


def settings(sock):
    get = sock.getsockopt
    values = (get(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
              get(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
              get(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
              get(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
              get(socket.IPPROTO_TCP, TCP_USER_TIMEOUT))
    return "settings " + " ".join(str(v) for v in values)


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        print("connected")
        print(settings(sock), flush=True)


if __name__ == "__main__":
    main()
