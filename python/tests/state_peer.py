"""One end of the every-state tests (test_states_netns.py), run inside a
network namespace. Prints one line per event, each starting with the event's
name and this process's CLOCK_MONOTONIC time (shared with the test):

    client HOST PORT [--deadline D | --knobs IDLE,INTVL,CNT] [--busy]
           [--write-after S] [--close-after S] [--sample SECONDS]
        sets the deadline (before connecting: a connect that fails counts
        too), or keepalive alone (no user timeout), connects, then: --busy writes all the time; --write-after
        writes one request once the peer has been silent S seconds;
        --close-after shuts the sending side down (FIN) once the peer has
        been silent S seconds; with --sample, prints keepalive.status()
        every SECONDS (and right after a write). Runs until the connection
        fails.
    server PORT [--half-close] [--no-read]
        accepts connections; --half-close shuts its sending side at once
        (the client is then half-closed, CLOSE_WAIT); --no-read never reads
        (the client's window closes); otherwise reads and discards.

Lines: "connecting M", "connected M", "sample M PHASE PROBES DEAD_IN_MS|None
SILENT_MS", "wrote M SILENT_MS", "closed M SILENT_MS", "eof M", "dead M
ERRNO SILENT_MS", "listening M PORT".
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


def silent_ms(sock: socket.socket) -> int:
    """Since the peer was last heard from: its last ACK or data."""
    st = keepalive.status(sock)
    return min(st.last_ack_ms, st.last_data_ms)


def sample(sock: socket.socket) -> None:
    st = keepalive.status(sock)
    say("sample", st.phase, st.probes_out, st.dead_in_ms, min(st.last_ack_ms, st.last_data_ms))


def client(args: argparse.Namespace) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ask_keepalive(sock, args)
    say("connecting")
    try:
        sock.connect((args.host, args.port))
    except OSError as e:
        say("dead", e.errno, "-")
        return 1
    say("connected")
    sock.setblocking(False)
    chunk = b"x" * 16384
    next_sample = time.monotonic()
    wrote = closed = eof = False
    while True:
        now = time.monotonic()
        if args.sample is not None and now >= next_sample:
            sample(sock)
            next_sample += args.sample
        try:
            if args.write_after is not None and not wrote:
                silent = silent_ms(sock)
                if silent >= args.write_after * 1000:
                    sock.send(b"GET / HTTP/1.1\r\nHost: pool\r\n\r\n")
                    wrote = True
                    say("wrote", silent)
                    sample(sock)
            if args.close_after is not None and not closed:
                silent = silent_ms(sock)
                if silent >= args.close_after * 1000:
                    sock.shutdown(socket.SHUT_WR)
                    closed = True
                    say("closed", silent)
            readers = [] if eof else [sock]
            writers = [sock] if args.busy else []
            readable, writable, _ = select.select(readers, writers, [], 0.02)
            if readable:
                if not sock.recv(65536):
                    eof = True
                    say("eof")
            if writable:
                sock.send(chunk)
        except BlockingIOError:
            pass
        except OSError as e:
            say("dead", e.errno or errno.EIO, silent_ms(sock))
            return 1
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            say("dead", err, silent_ms(sock))
            return 1


def server(args: argparse.Namespace) -> int:
    listener = socket.create_server(("0.0.0.0", args.port))
    if args.no_read:
        # A small buffer: the window closes after a few segments.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    say("listening", listener.getsockname()[1])
    conns: list[socket.socket] = []
    while True:
        readers = [listener] + ([] if args.no_read else conns)
        for s in select.select(readers, [], [])[0]:
            if s is listener:
                conn, _ = listener.accept()
                if args.half_close:
                    conn.shutdown(socket.SHUT_WR)
                conns.append(conn)
                say("accepted")
            else:
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    conns.remove(s)


def main() -> int:
    top, c, s = parser()
    c.add_argument("--write-after", type=float)
    c.add_argument("--close-after", type=float)
    s.add_argument("--half-close", action="store_true")
    s.add_argument("--no-read", action="store_true")
    args = top.parse_args()
    return client(args) if args.role == "client" else server(args)


if __name__ == "__main__":
    sys.exit(main())
