#!/usr/bin/env python3
"""asyncio streams with a dead-peer deadline, on both ends.

asyncio gives access to the socket it made (``get_extra_info("socket")``),
so the library's calls work on it directly:

    reader, writer = await asyncio.open_connection(host, port)
    keepalive.set_deadline(writer.get_extra_info("socket"), 60)

    server = await asyncio.start_server(handle, host, port)
    keepalive.set_deadline(server.sockets[0], 60)   # accepted connections inherit it

Usage: python3 asyncio_keepalive.py   (talks to a server of its own on loopback)
"""

from __future__ import annotations

import asyncio
import sys

import keepalive


async def open_with_deadline(
    host: str, port: int, deadline: int = 60
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``asyncio.open_connection`` whose peer is declared dead ``deadline``
    seconds after it was last heard from, idle or busy."""
    reader, writer = await asyncio.open_connection(host, port)
    keepalive.set_deadline(writer.get_extra_info("socket"), deadline)
    return reader, writer


async def demo() -> tuple[keepalive.Settings, keepalive.Settings, bytes]:
    """An echo server whose listener has a 90 s deadline and a client with a
    60 s one; returns what each end's connection has, and the echo."""
    accepted: asyncio.Queue[keepalive.Settings] = asyncio.Queue()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put(keepalive.get(writer.get_extra_info("socket")))
        writer.write(await reader.read(100))
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        keepalive.set_deadline(server.sockets[0], 90)
        reader, writer = await open_with_deadline("127.0.0.1", server.sockets[0].getsockname()[1])
        client = keepalive.get(writer.get_extra_info("socket"))
        writer.write(b"hello")
        await writer.drain()
        echo = await reader.read(100)
        writer.close()
        await writer.wait_closed()
        return client, await accepted.get(), echo


def main(argv: list[str]) -> int:
    if argv:
        print("usage: asyncio_keepalive.py", file=sys.stderr)
        return 2
    client, server, echo = asyncio.run(demo())
    print(f"echo {echo!r}")
    print(f"client connection: {client}")
    print(f"accepted connection: {server}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
