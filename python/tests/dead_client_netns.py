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
import sys
import time
from pathlib import Path

# The repository's test helpers (tests/support), by path, as conftest.py does.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from support.netlab import vanish  # type: ignore[import-not-found]  # noqa: E402
from support.proc import Proc, sh  # type: ignore[import-not-found]  # noqa: E402

IDLE, INTERVAL, COUNT = 1, 1, 2


def main() -> int:
    examples = Path(sys.argv[1])
    sh("ip", "link", "set", "lo", "up")
    server = Proc("server", [sys.executable, str(examples / "echo_server.py"),
                             "-d", str(IDLE), "-i", str(INTERVAL), "-c", str(COUNT), "0"],
                  echo=lambda _name, line: print(line, flush=True))  # fmt: skip
    try:
        m, _ = server.expect(r"^listening on port (\d+)")
        client = socket.create_connection(("127.0.0.1", int(m.group(1))))
        cport = client.getsockname()[1]
        server.expect("connected")
        vanish(cport)
        cut = time.monotonic()
        print(f"client port {cport} now drops everything it sends", flush=True)
        m, lost = server.expect("lost:", timeout=60)
        print(f"detected {lost - cut:.1f} s after the cut; "
              f"idle + interval x count = {IDLE + INTERVAL * COUNT} s", flush=True)  # fmt: skip
        client.close()
        return 0 if "Connection timed out" in m.string else 1
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
