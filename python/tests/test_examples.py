"""The example programs, run as real processes on loopback.

Every step waits on a line the program prints or on a socket; the queue
timeout only keeps a broken program from hanging the suite.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import skips  # type: ignore[import-not-found]  # (conftest.py)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HANG = 60  # seconds before a missing line is reported instead of waited on forever


class Program:
    """A running example whose stdout is read line by line."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, pattern: str) -> re.Match[str]:
        """Waits for the next line matching `pattern`; fails at end of output."""
        while True:
            try:
                line = self.lines.get(timeout=HANG)
            except queue.Empty:
                pytest.fail(f"no line matching {pattern!r} after {HANG} s; saw {self.seen}")
            if line is None:
                pytest.fail(f"output ended before {pattern!r}; saw {self.seen}")
            self.seen.append(line)
            m = re.search(pattern, line)
            if m:
                return m

    def wait(self) -> int:
        return self.proc.wait(timeout=HANG)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def server() -> Iterator[tuple[Program, int]]:
    p = Program(str(EXAMPLES / "echo_server.py"), "-d", "30", "-i", "7", "-c", "4", "0")
    try:
        p.expect(r"^SO_KEEPALIVE default is OFF$")
        p.expect(r"^SO_KEEPALIVE set on socket$")
        p.expect(r"^TCP_KEEPIDLE is 30$")
        p.expect(r"^TCP_KEEPCNT is 4$")
        p.expect(r"^TCP_KEEPINTVL is 7$")
        port = int(p.expect(r"^listening on port (\d+)$")[1])
        yield p, port
    finally:
        p.stop()


def test_server_echoes_and_reports_clients(server: tuple[Program, int]) -> None:
    p, port = server
    with socket.create_connection(("127.0.0.1", port)) as c:
        name = f"127.0.0.1:{c.getsockname()[1]}"
        p.expect(rf"client {re.escape(name)} connected$")
        c.sendall(b"hello\n")
        assert c.recv(100) == b"hello\n"
    p.expect(rf"client {re.escape(name)} lost: closed by peer after \d+\.\d s connected$")


def test_server_listens_on_ipv6_too(server: tuple[Program, int]) -> None:
    if not socket.has_dualstack_ipv6():
        pytest.skip("no dual-stack IPv6 here")
    p, port = server
    with socket.create_connection(("::1", port)) as c:
        p.expect(rf"client \[::1\]:{c.getsockname()[1]} connected$")
        c.sendall(b"six")
        assert c.recv(100) == b"six"


def test_client_against_server_then_server_stops(server: tuple[Program, int]) -> None:
    p, port = server
    client = Program(
        str(EXAMPLES / "echo_client.py"),
        "-d", "5", "-i", "2", "-c", "3", "-u", "4000", "-m", "hello",
        f"127.0.0.1:{port}",
    )  # fmt: skip
    try:
        client.expect(rf"^connecting to 127\.0\.0\.1 port {port}$")
        client.expect(r"^TCP_KEEPIDLE 5, TCP_KEEPINTVL 2, TCP_KEEPCNT 3, TCP_USER_TIMEOUT 4000$")
        client.expect(
            r"connected; keepalive on, idle 5 s, interval 2 s, count 3, user timeout 4000 ms$"
        )
        p.expect(r"client 127\.0\.0\.1:\d+ connected$")
        client.expect(r"read 6 bytes: b'hello\\n'$")

        p.proc.send_signal(signal.SIGTERM)
        p.expect(r"lost: server shutting down after \d+\.\d s connected$")
        p.expect(r"stopped$")
        assert p.wait() == 0
        client.expect(r"closed by peer, \d+\.\d s since last data$")
        assert client.wait() == 0
    finally:
        client.stop()


def test_server_refuses_bad_values() -> None:
    p = Program(str(EXAMPLES / "echo_server.py"), "-d", "0", "0")
    assert p.wait() == 2
    assert p.proc.stderr is not None
    assert "idle must be 1..32767 seconds, got 0" in p.proc.stderr.read()


@pytest.mark.parametrize(
    ("port", "message"),
    [
        ("70000", "port must be 0..65535, got 70000"),
        ("65536", "port must be 0..65535, got 65536"),
        ("-1", "port must be 0..65535, got -1"),
        ("http", "not an integer: 'http'"),
    ],
)
def test_server_bad_port_is_a_usage_error(port: str, message: str) -> None:
    p = Program(str(EXAMPLES / "echo_server.py"), port)
    assert p.wait() == 2
    assert p.proc.stderr is not None
    err = p.proc.stderr.read()
    assert "usage: echo_server.py" in err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "500", "127.0.0.1:1"], None),
        (["nowhere"], "expected HOST:PORT"),
        (["::1:80"], "brackets"),
        (["-d", "x", "127.0.0.1:1"], "not an integer"),
    ],
)
def test_client_usage_errors(args: list[str], message: str | None) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        if args[-1] == "127.0.0.1:1":
            args = [*args[:-1], f"127.0.0.1:{listener.getsockname()[1]}"]
        p = Program(str(EXAMPLES / "echo_client.py"), *args)
        assert p.wait() == 2
        assert p.proc.stderr is not None
        err = p.proc.stderr.read()
        assert (message or "count must be 1..127 probes, got 500") in err


def test_client_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connect is refused
        p = Program(str(EXAMPLES / "echo_client.py"), f"127.0.0.1:{port}")
        p.expect(r"connect failed: Connection refused$")
        assert p.wait() == 1


def netns_missing() -> str | None:
    """Why the vanished-client test cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (a network namespace and an nftables rule)"
    for tool in ("unshare", "nft", "ip"):
        if shutil.which(tool) is None:
            return f"needs {tool} (make test-py installs it when run as root)"
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"`unshare --net` does not work here: {probe.stderr.strip()}"
    return None


def test_server_detects_a_vanished_client() -> None:
    skips.require(netns_missing())
    helper = Path(__file__).resolve().parent / "dead_client_netns.py"
    run = subprocess.run(
        ["unshare", "--net", "--", sys.executable, str(helper), str(EXAMPLES)],
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"lost: Connection timed out after \d+\.\d s connected$", run.stdout, re.M)
