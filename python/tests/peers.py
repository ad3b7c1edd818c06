"""What the two peer programs of the namespace tests share (deadline_peer.py,
state_peer.py): the event line, the keepalive a client asks for, and the
command line both start from."""

from __future__ import annotations

import argparse
import socket
import time

import keepalive


def say(event: str, *fields: object) -> None:
    """One event line: its name, this process's CLOCK_MONOTONIC time, fields."""
    print(event, f"{time.monotonic():.6f}", *fields, flush=True)


def ask_keepalive(sock: socket.socket, args: argparse.Namespace) -> None:
    """--deadline D, or --knobs IDLE,INTVL,CNT (keepalive alone), on sock."""
    if args.deadline is not None:
        keepalive.set_deadline(sock, args.deadline)
    if args.knobs is not None:
        idle, interval, count = (int(v) for v in args.knobs.split(","))
        keepalive.enable(sock, idle=idle, interval=interval, count=count)


def parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser, argparse.ArgumentParser]:
    """(the parser, its `client` subcommand, its `server` subcommand), with
    the options both peers take; each adds its own."""
    top = argparse.ArgumentParser()
    sub = top.add_subparsers(dest="role", required=True)
    client = sub.add_parser("client")
    client.add_argument("host")
    client.add_argument("port", type=int)
    client.add_argument("--deadline", type=int)
    client.add_argument("--knobs")
    client.add_argument("--busy", action="store_true")
    client.add_argument("--sample", type=float)
    server = sub.add_parser("server")
    server.add_argument("port", type=int)
    return top, client, server
