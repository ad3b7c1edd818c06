"""Plain Python programs that know nothing of libkeepalive: the targets that
`keepalive set` retunes from outside. Standard library only.

    prog.py hold HOST PORT   connects, then blocks in recv() until it fails
    prog.py serve HOST       listens on HOST, port 0; accepts and holds connections
    prog.py pair             a loopback listener, a client and its accepted end,
                             and an IPv6 listener when ::1 exists
    prog.py mptcp            the same as pair, IPv4 only, over MPTCP (exits 3 where the
                             kernel has none)
    prog.py zoo              a pipe, a UDP socket, a Unix socket pair, a TCP
                             listener, and a second thread
    prog.py none             no socket at all
    prog.py stalled          a loopback pair whose accepted end never reads: the
                             client writes until its peer's window is closed
    prog.py many N           a loopback listener and N connections to it, both ends
                             held: 2N+1 TCP sockets (the descriptor limit raised)

KAT_COMM=NAME names the program NAME (prctl PR_SET_NAME, as /proc/PID/comm
and ps show it) before it sets up.

Each prints one `ready pid=N ...` line when set up. On SIGUSR1 each prints,
for each TCP socket it holds, `sockopts fd=N {json}` with what its own
getsockopt says (keepalive, idle, interval, count, user_timeout_ms: null
where the socket has none, as MPTCP); `serve`
prints the same for each connection it accepts. `hold` prints
`read failed errno=NAME mono=T` when recv fails (T is CLOCK_MONOTONIC) and
exits 1, or `peer closed` and exits 0.
"""

import errno
import json
import os
import signal
import socket
import sys
import threading
import time

SOCKS = []  # the TCP sockets whose options SIGUSR1 prints


def say(text):
    print(text, flush=True)


def own_options(sock):
    """What the program itself reads back: the kernel's values for its socket."""
    tcp = socket.IPPROTO_TCP
    try:
        user_timeout = sock.getsockopt(tcp, socket.TCP_USER_TIMEOUT)
    except OSError:
        user_timeout = None  # MPTCP has no TCP_USER_TIMEOUT
    return {
        "keepalive": sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        "idle": sock.getsockopt(tcp, socket.TCP_KEEPIDLE),
        "interval": sock.getsockopt(tcp, socket.TCP_KEEPINTVL),
        "count": sock.getsockopt(tcp, socket.TCP_KEEPCNT),
        "user_timeout_ms": user_timeout,
    }


def print_options(*_):
    for s in SOCKS:
        say(f"sockopts fd={s.fileno()} {json.dumps(own_options(s), sort_keys=True)}")
    say("sockopts done")


def addr(sock, peer=False):
    a = sock.getpeername() if peer else sock.getsockname()
    host = f"[{a[0]}]" if ":" in a[0] else a[0]
    return f"{host}:{a[1]}"


def hold(host, port):
    sock = socket.create_connection((host, int(port)))
    SOCKS.append(sock)
    say(f"ready pid={os.getpid()} fd={sock.fileno()} local={addr(sock)} "
        f"remote={addr(sock, peer=True)}")
    while True:
        try:
            data = sock.recv(4096)  # PEP 475: SIGUSR1 runs its handler and recv resumes
        except OSError as e:
            say(f"read failed errno={errno.errorcode.get(e.errno, e.errno)} "
                f"mono={time.monotonic():.6f} ({e.strerror})")
            sys.exit(1)
        if not data:
            say("peer closed")
            return


def serve(host):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, 0), family=family)
    SOCKS.append(listener)
    say(f"ready pid={os.getpid()} fd={listener.fileno()} port={listener.getsockname()[1]}")
    while True:
        conn, _ = listener.accept()
        SOCKS.append(conn)
        say(f"accepted fd={conn.fileno()} peer={addr(conn, peer=True)} "
            f"sockopts {json.dumps(own_options(conn), sort_keys=True)}")


def pair(proto=0):
    try:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    except OSError as e:
        say(f"unsupported: {e}")
        sys.exit(3)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    client.connect(listener.getsockname())
    accepted, _ = listener.accept()
    SOCKS.extend([listener, client, accepted])
    six = ""
    try:
        if proto == 0:
            listener6 = socket.create_server(("::1", 0), family=socket.AF_INET6)
            SOCKS.append(listener6)
            six = f" listener6={listener6.fileno()} port6={listener6.getsockname()[1]}"
    except OSError:
        pass
    say(f"ready pid={os.getpid()} listener={listener.fileno()} client={client.fileno()} "
        f"accepted={accepted.fileno()} port={listener.getsockname()[1]}{six}")
    while True:
        signal.pause()


def mptcp():
    pair(getattr(socket, "IPPROTO_MPTCP", 262))


def unacked(sock):
    """tcpi_unacked of the socket's TCP_INFO (struct tcp_info: 8 bytes of u8
    fields, then rto, ato, snd_mss, rcv_mss, unacked as u32)."""
    import struct
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return struct.unpack_from("I", info, 24)[0]


def stalled():
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    SOCKS.extend([client, accepted])
    client.setblocking(False)
    try:
        while True:
            client.send(b"x" * 65536)
    except BlockingIOError:
        pass  # the send buffer is full: the rest waits behind the window
    # Ready once everything sent is acknowledged (the peer's last ACK, which
    # closes the window, may be delayed): from then on the client is in the
    # zero-window state, with nothing in flight.
    deadline = time.monotonic() + 10
    while unacked(client) and time.monotonic() < deadline:
        time.sleep(0.01)
    say(f"ready pid={os.getpid()} client={client.fileno()} accepted={accepted.fileno()}")
    while True:
        signal.pause()


def many(n):
    import resource
    n = int(n)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    held = [listener]
    for _ in range(n):
        client = socket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
        held.extend([client, accepted])
    say(f"ready pid={os.getpid()} sockets={len(held)} listener={listener.fileno()}")
    while True:
        signal.pause()


def zoo():
    r, w = os.pipe()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    unix, _other = socket.socketpair()
    listener = socket.create_server(("127.0.0.1", 0))
    SOCKS.append(listener)
    started = threading.Event()
    tid = []

    def thread():
        tid.append(threading.get_native_id())
        started.set()
        threading.Event().wait()

    threading.Thread(target=thread, daemon=True).start()
    started.wait()
    say(f"ready pid={os.getpid()} pipe={r} udp={udp.fileno()} unix={unix.fileno()} "
        f"tcp={listener.fileno()} thread={tid[0]}")
    while True:
        signal.pause()


def none():
    say(f"ready pid={os.getpid()}")
    while True:
        signal.pause()


def main():
    signal.signal(signal.SIGUSR1, print_options)
    if os.environ.get("KAT_COMM"):
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, os.environ["KAT_COMM"].encode(), 0, 0, 0)  # PR_SET_NAME
    mode, *args = sys.argv[1:]
    {"hold": hold, "serve": serve, "pair": pair, "mptcp": mptcp, "zoo": zoo,
     "none": none, "stalled": stalled, "many": many}[mode](*args)


if __name__ == "__main__":
    main()
