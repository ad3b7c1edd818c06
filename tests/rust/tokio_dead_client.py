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

import re
import socket
import subprocess
import sys
import threading
import queue
import time

DEADLINE = 3
# The kernel's timers fire late by up to a tick of their wheel (256 ms at
# HZ=250 for these), and the server polls once a second: generous on a
# loaded 2-core VM, still far below what keepalive without a deadline takes.
TOLERANCE = 1.5
HANG = 30


def sh(*argv):
    subprocess.run(argv, check=True)


def main():
    server_bin = sys.argv[1]
    sh("ip", "link", "set", "lo", "up")
    server = subprocess.Popen([server_bin, "--deadline", str(DEADLINE), "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = queue.Queue()

    def pump():
        for line in server.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()

    def expect(pattern):
        while True:
            line = lines.get(timeout=HANG)
            if line is None:
                raise SystemExit(f"server output ended before {pattern!r}")
            print(f"server: {line}", flush=True)
            m = re.search(pattern, line)
            if m:
                return m, time.monotonic()

    try:
        m, _ = expect(r"^listening on port (\d+), deadline 3 s: idle 1 s, interval 1 s, count 2, "
                      r"user timeout 3000 ms$")
        port = int(m.group(1))
        client = socket.create_connection(("127.0.0.1", port))
        cport = client.getsockname()[1]
        expect(rf"^client 127\.0\.0\.1:{cport} connected \(inherited: dead 3000 ms after")
        client.sendall(b"hello")
        assert client.recv(100) == b"hello", "no echo"
        sh("nft", "add", "table", "inet", "vanish")
        sh("nft", "add", "chain", "inet", "vanish", "out",
           "{ type filter hook output priority 0; policy accept; }")
        sh("nft", "add", "rule", "inet", "vanish", "out", "tcp", "sport", str(cport), "drop")
        cut = time.monotonic()
        print(f"client port {cport} now drops everything it sends", flush=True)
        expect(rf"^client 127\.0\.0\.1:{cport}: \d probe\(s\) unanswered, last ACK \d+ ms ago, "
               r"dead in \d+ ms$")
        m, lost = expect(rf"^client 127\.0\.0\.1:{cport} lost: (.*) after [\d.]+ s connected")
        took = lost - cut
        print(f"declared dead {took:.2f} s after the cut; deadline {DEADLINE} s", flush=True)
        client.close()
        if not m.group(1).startswith("Connection timed out"):
            raise SystemExit(f"lost for another reason: {m.group(1)}")
        if not DEADLINE - 0.5 <= took <= DEADLINE + TOLERANCE:
            raise SystemExit(f"{took:.2f} s is not {DEADLINE} s (-0.5, +{TOLERANCE})")
        return 0
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
