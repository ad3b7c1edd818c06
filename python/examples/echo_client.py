#!/usr/bin/env python3
"""An asyncio client that notices a dead server, with TCP keepalive.

The Python twin of c-examples' tcp_keepalive_client:

    python3 echo_client.py [-c CNT] [-d IDLE] [-i INTVL] [-u USER_TIMEOUT_MS]
                           [-m MESSAGE] HOST:PORT

HOST is an IPv4 address, a bracketed IPv6 address (``[::1]:5050``) or a name.
It prints where it connects and the values it sets, a timestamped
``connected`` line, sends MESSAGE if given, prints a timestamped line for each
read, and when the connection ends, one line with the reason and the seconds
since data was last received. Exit status: 0 when the peer closes cleanly, 1
when the connection fails or dies, 2 with a usage message on bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import keepalive
from echo_common import integer, keepalive_parser, reason, stamp


def host_port(text: str) -> tuple[str, int]:
    """Splits ``HOST:PORT`` or ``[V6ADDR]:PORT``."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise argparse.ArgumentTypeError(f"put an IPv6 address in brackets: [{host}]:{port}")
    return host, int(port)


def shown(value: int | None) -> str:
    """A value as given, or that the system's default is kept."""
    return "system default" if value is None else str(value)


async def run(args: argparse.Namespace) -> int:
    host, port = args.address
    print(f"connecting to {host} port {port}")
    print(
        f"TCP_KEEPIDLE {shown(args.idle)}, TCP_KEEPINTVL {shown(args.interval)}, "
        f"TCP_KEEPCNT {shown(args.count)}, TCP_USER_TIMEOUT {shown(args.user_timeout)}",
        flush=True,
    )
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as e:
        print(f"{stamp()} connect failed: {reason(e)}", flush=True)
        return 1
    sock = writer.get_extra_info("socket")
    try:
        keepalive.enable(sock, idle=args.idle, interval=args.interval, count=args.count)
        if args.user_timeout is not None:
            keepalive.set_user_timeout(sock, args.user_timeout)
    except ValueError as e:
        print(f"echo_client: {e}", file=sys.stderr)
        writer.close()
        return 2
    s = keepalive.get(sock)
    print(
        f"{stamp()} connected; keepalive {'on' if s.enabled else 'off'}, idle {s.idle} s, "
        f"interval {s.interval} s, count {s.count}, user timeout {s.user_timeout_ms} ms",
        flush=True,
    )
    if args.message is not None:
        writer.write(args.message.encode() + b"\n")
        await writer.drain()

    last = time.monotonic()
    try:
        while data := await reader.read(4096):
            last = time.monotonic()
            print(f"{stamp()} read {len(data)} bytes: {data!r}", flush=True)
    except OSError as e:
        print(f"{stamp()} {reason(e)}, {time.monotonic() - last:.1f} s since last data", flush=True)
        writer.close()
        return 1
    print(f"{stamp()} closed by peer, {time.monotonic() - last:.1f} s since last data", flush=True)
    writer.close()
    return 0


if __name__ == "__main__":
    parser = keepalive_parser(__doc__.splitlines()[0])
    parser.add_argument("-u", dest="user_timeout", type=integer, help="TCP_USER_TIMEOUT: ms")
    parser.add_argument("-m", dest="message", help="a line to send once connected")
    parser.add_argument("address", type=host_port, metavar="HOST:PORT")
    sys.exit(asyncio.run(run(parser.parse_args())))
