#!/usr/bin/env python3
"""An asyncio echo server that notices dead clients, with TCP keepalive.

The Python twin of c-examples' tcp_keepalive_server:

    python3 echo_server.py [-c CNT] [-d IDLE] [-i INTVL] PORT

It prints whether SO_KEEPALIVE is on by default, turns it on for the
listening socket (accepted connections inherit it), prints the effective
TCP_KEEPIDLE, TCP_KEEPCNT and TCP_KEEPINTVL, listens on every IPv4 and IPv6
address (PORT 0 picks a free port; it prints ``listening on port N``), echoes
what each client sends, and prints a line per client that connects and per
client lost, with the reason and the seconds it was connected. A client that
vanishes without a word (power lost, cable pulled) is reported as
``Connection timed out`` about IDLE + INTVL x CNT seconds after it was last
heard from. SIGINT or SIGTERM closes every connection and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys
import time

import keepalive
from echo_common import integer, keepalive_parser, reason, stamp


def port_number(text: str) -> int:
    """The PORT argument: 0..65535 (0 picks a free port), else a usage error."""
    port = integer(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535, got {port}")
    return port


def listen(port: int) -> socket.socket:
    """One socket for every IPv4 and IPv6 address where the system allows it."""
    if socket.has_dualstack_ipv6():
        return socket.create_server(("::", port), family=socket.AF_INET6, dualstack_ipv6=True)
    return socket.create_server(("0.0.0.0", port))


def peer_name(sock: socket.socket) -> str:
    host, port = sock.getpeername()[:2]
    host = host.removeprefix("::ffff:")  # an IPv4 client of a dual-stack socket
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Server:
    """The clients being served, so that a signal can close them all."""

    def __init__(self) -> None:
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.stopping = False

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Echoes one client until it leaves, then says why and after how long."""
        sock = writer.get_extra_info("socket")
        name = peer_name(sock)
        started = time.monotonic()
        print(f"{stamp()} client {name} connected", flush=True)
        self.writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        why = "closed by peer"
        try:
            while data := await reader.read(4096):
                writer.write(data)
                await writer.drain()
        except OSError as e:
            # ETIMEDOUT when keepalive declared the client dead, ECONNRESET...
            why = reason(e)
        finally:
            if self.stopping:
                why = "server shutting down"
            self.writers.discard(writer)
            if task is not None:
                self.tasks.discard(task)
            writer.close()
        print(
            f"{stamp()} client {name} lost: {why} "
            f"after {time.monotonic() - started:.1f} s connected",
            flush=True,
        )


async def main(args: argparse.Namespace) -> int:
    sock = listen(args.port)
    default = keepalive.get(sock)
    print(f"SO_KEEPALIVE default is {'ON' if default.enabled else 'OFF'}", flush=True)
    try:
        keepalive.enable(sock, idle=args.idle, interval=args.interval, count=args.count)
    except ValueError as e:
        print(f"echo_server: {e}", file=sys.stderr)
        sock.close()
        return 2
    print("SO_KEEPALIVE set on socket")
    s = keepalive.get(sock)
    print(f"TCP_KEEPIDLE is {s.idle}")
    print(f"TCP_KEEPCNT is {s.count}")
    print(f"TCP_KEEPINTVL is {s.interval}", flush=True)

    clients = Server()
    server = await asyncio.start_server(clients.serve, sock=sock)
    print(f"listening on port {sock.getsockname()[1]}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

    clients.stopping = True
    server.close()
    for writer in list(clients.writers):
        writer.close()
    # Let each handler see its connection end and print its line.
    await asyncio.gather(*clients.tasks, return_exceptions=True)
    await server.wait_closed()
    print(f"{stamp()} stopped", flush=True)
    return 0


if __name__ == "__main__":
    parser = keepalive_parser(__doc__.splitlines()[0])
    parser.add_argument("port", type=port_number, help="port to listen on, 0..65535 (0: any free port)")
    try:
        sys.exit(asyncio.run(main(parser.parse_args())))
    except OSError as e:
        print(f"echo_server: {e}", file=sys.stderr)
        sys.exit(1)
