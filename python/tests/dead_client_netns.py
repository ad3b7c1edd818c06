"""Runs inside a fresh network namespace (``unshare --net``), as root.

Starts examples/echo_server.py with short keepalive settings, connects a
client, then makes the client vanish: an nftables rule drops every packet the
client's port sends, so the client's kernel no longer answers the server's
probes (no FIN, no RST, as with a pulled cable). Prints the server's lines;
exits 0 once the server reports the client lost with ``Connection timed
out``. Used by test_examples.test_server_detects_a_vanished_client.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

IDLE, INTERVAL, COUNT = 1, 1, 2


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True)


def main() -> int:
    examples = Path(sys.argv[1])
    sh("ip", "link", "set", "lo", "up")
    server = subprocess.Popen(
        [sys.executable, str(examples / "echo_server.py"),
         "-d", str(IDLE), "-i", str(INTERVAL), "-c", str(COUNT), "0"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert server.stdout is not None
    try:
        port = None
        for line in server.stdout:
            print(line, end="", flush=True)
            if line.startswith("listening on port "):
                port = int(line.split()[-1])
                break
        if port is None:
            return 1
        client = socket.create_connection(("127.0.0.1", port))
        cport = client.getsockname()[1]
        for line in server.stdout:
            print(line, end="", flush=True)
            if "connected" in line:
                break
        sh("nft", "add", "table", "inet", "vanish")
        sh("nft", "add", "chain", "inet", "vanish", "out",
           "{ type filter hook output priority 0; policy accept; }")  # fmt: skip
        sh("nft", "add", "rule", "inet", "vanish", "out", "tcp", "sport", str(cport), "drop")
        cut = time.monotonic()
        print(f"client port {cport} now drops everything it sends", flush=True)
        for line in server.stdout:
            print(line, end="", flush=True)
            if "lost:" in line:
                took = time.monotonic() - cut
                print(
                    f"detected {took:.1f} s after the cut; "
                    f"idle + interval x count = {IDLE + INTERVAL * COUNT} s",
                    flush=True,
                )
                client.close()
                return 0 if "Connection timed out" in line else 1
        return 1
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
