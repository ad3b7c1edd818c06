"""Runs inside a fresh network namespace (``unshare --net``), as root.

Starts the core crate's tokio example (examples/tokio_server.rs) with a 3 s
deadline, connects a client and checks the echo, then makes the client vanish:
an nftables rule drops every packet the client's port sends, so its kernel no
longer answers the server's probes (no FIN, no RST: a pulled cable). Prints
the server's lines; exits 0 once the server reports the client lost with
``Connection timed out`` about the deadline after the cut, having reported
the probes through keepalive::status on the way. Used by `make test-rust`.

Usage: tokio_dead_client.py PATH/TO/tokio_server
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from support.netlab import vanish  # noqa: E402
from support.proc import Proc, sh  # noqa: E402

DEADLINE = 3
# The kernel's timers fire late by up to a tick of their wheel (256 ms at
# HZ=250 for these), and the server polls once a second: generous on a
# loaded 2-core VM, still far below what keepalive without a deadline takes.
TOLERANCE = 1.5
HANG = 30


def main():
    sh("ip", "link", "set", "lo", "up")
    server = Proc("server", [sys.argv[1], "--deadline", str(DEADLINE), "0"],
                  echo=lambda name, line: print(f"{name}: {line}", flush=True))
    try:
        m, _ = server.expect(r"^listening on port (\d+), deadline 3 s: idle 1 s, interval 1 s, "
                             r"count 2, user timeout 3000 ms$", timeout=HANG)
        port = int(m.group(1))
        client = socket.create_connection(("127.0.0.1", port))
        cport = client.getsockname()[1]
        server.expect(rf"^client 127\.0\.0\.1:{cport} connected \(inherited: dead 3000 ms after",
                      timeout=HANG)
        client.sendall(b"hello")
        assert client.recv(100) == b"hello", "no echo"
        vanish(cport)
        cut = time.monotonic()
        print(f"client port {cport} now drops everything it sends", flush=True)
        server.expect(rf"^client 127\.0\.0\.1:{cport}: \d probe\(s\) unanswered, last ACK \d+ ms "
                      r"ago, dead in \d+ ms$", timeout=HANG)
        m, lost = server.expect(rf"^client 127\.0\.0\.1:{cport} lost: (.*) after [\d.]+ s connected",
                                timeout=HANG)
        took = lost - cut
        print(f"declared dead {took:.2f} s after the cut; deadline {DEADLINE} s", flush=True)
        client.close()
        if not m.group(1).startswith("Connection timed out"):
            raise SystemExit(f"lost for another reason: {m.group(1)}")
        if not DEADLINE - 0.5 <= took <= DEADLINE + TOLERANCE:
            raise SystemExit(f"{took:.2f} s is not {DEADLINE} s (-0.5, +{TOLERANCE})")
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
