"""asyncio's sockets and several threads at once."""

from __future__ import annotations

import asyncio
import socket
import threading

import keepalive
from conftest import Raw, raw


def test_asyncio_client_and_server() -> None:
    async def main() -> None:
        accepted: asyncio.Queue[tuple[keepalive.Settings, Raw]] = asyncio.Queue()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            tsock = writer.get_extra_info("socket")  # asyncio's TransportSocket
            await accepted.put((keepalive.get(tsock), raw(tsock)))
            data = await reader.read(100)
            writer.write(data)
            await writer.drain()
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        async with server:
            listener = server.sockets[0]
            keepalive.enable(listener, idle=21, interval=3, count=4)
            host, port = listener.getsockname()[:2]

            reader, writer = await asyncio.open_connection(host, port)
            csock = writer.get_extra_info("socket")
            keepalive.enable(csock, idle=5, interval=2, count=2)
            keepalive.set_user_timeout(csock, 4000)
            assert raw(csock) == Raw(True, 5, 2, 2, 4000)
            assert keepalive.get(csock) == keepalive.get(csock.fileno())

            writer.write(b"hello")
            await writer.drain()
            assert await reader.read(100) == b"hello"

            # The accepted connection inherited the listener's settings.
            settings, read_back = await accepted.get()
            assert (settings.enabled, settings.idle, settings.interval, settings.count) == (
                True,
                21,
                3,
                4,
            )
            assert read_back == Raw(True, 21, 3, 4, 0)
            writer.close()
            await writer.wait_closed()

    asyncio.run(main())


def test_asyncio_protocol_transport() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        with socket.create_server(("127.0.0.1", 0)) as listener:
            transport, _ = await loop.create_connection(
                asyncio.Protocol, *listener.getsockname()
            )
            try:
                tsock = transport.get_extra_info("socket")
                keepalive.enable(tsock, count=9, interval=8)
                assert raw(tsock).count == 9 and raw(tsock).interval == 8
                keepalive.disable(tsock)
                assert raw(tsock).enabled is False
            finally:
                transport.close()

    asyncio.run(main())


def test_many_threads_at_once() -> None:
    threads = 8
    rounds = 200
    start = threading.Barrier(threads)
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with socket.socket() as s:
                start.wait()
                for i in range(rounds):
                    idle, interval, count = 1 + n, 1 + i % 50, 1 + (n + i) % 127
                    keepalive.enable(s, idle=idle, interval=interval, count=count)
                    keepalive.set_user_timeout(s, n * 1000 + i)
                    got = keepalive.get(s)
                    want = Raw(True, idle, interval, count, n * 1000 + i)
                    assert Raw(
                        got.enabled, got.idle, got.interval, got.count, got.user_timeout_ms
                    ) == want
                    assert raw(s) == want
                    keepalive.disable(s)
                    assert raw(s).enabled is False
        except BaseException as e:  # reported by the main thread
            failures.append(e)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert failures == []


def test_descriptor_closed_by_another_thread() -> None:
    # One thread closes sockets while another passes their numbers to the
    # library: every call either works (the number was reused by a new TCP
    # socket) or raises OSError; nothing crashes or hangs.
    fds: list[int] = []
    lock = threading.Lock()
    done = threading.Event()
    errors: list[BaseException] = []
    outcomes = {"ok": 0, "oserror": 0}

    def closer() -> None:
        try:
            for _ in range(2000):
                s = socket.socket()
                with lock:
                    fds.append(s.fileno())
                s.close()
        except BaseException as e:
            errors.append(e)
        finally:
            done.set()

    t = threading.Thread(target=closer)
    t.start()
    while not done.is_set() or fds:
        with lock:
            fd = fds.pop() if fds else None
        if fd is None:
            continue
        try:
            keepalive.enable(fd, idle=3)
            keepalive.get(fd)
            outcomes["ok"] += 1
        except OSError:
            outcomes["oserror"] += 1
    t.join()
    assert errors == []
    assert outcomes["ok"] + outcomes["oserror"] > 0
