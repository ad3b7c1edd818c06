"""curl, which sets its own keepalive (60 s idle and interval), under
`keepalive-run -D D` with and without --enforce, against a server whose host
is then cut off. Run inside a network namespace of its own (`unshare -n`):
it brings up lo, serves on 127.0.0.1, and cuts with an nftables rule that
drops every TCP packet in that namespace only.

usage: unshare -n python3 cut_off.py KEEPALIVE_RUN DEADLINE WAIT

Prints one line per curl, after both requests reached the server and the cut:
  enforce exit=RC after=SECONDS err=...        (SECONDS from the cut to its exit)
  own exit=RC|running after=SECONDS err=...    (still running WAIT s after the cut)
Exit status 0 when it could run the experiment, 1 otherwise (with why).
"""

import socket
import subprocess
import sys
import threading
import time


def main():
    run, deadline, wait = sys.argv[1], sys.argv[2], float(sys.argv[3])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    requests = []
    arrived = threading.Condition()

    def serve():
        while True:
            conn, _ = listener.accept()
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            with arrived:
                requests.append(conn)  # kept open, never answered
                arrived.notify_all()

    threading.Thread(target=serve, daemon=True).start()
    url = f"http://127.0.0.1:{port}/"
    curl = ["curl", "-sS", "-o", "/dev/null", url]
    procs = {
        "enforce": subprocess.Popen([run, "-D", deadline, "--enforce", "--", *curl],
                                    stderr=subprocess.PIPE, text=True),
        "own": subprocess.Popen([run, "-D", deadline, "--", *curl],
                                stderr=subprocess.PIPE, text=True),
    }
    with arrived:
        if not arrived.wait_for(lambda: len(requests) == 2, timeout=30):
            print(f"only {len(requests)} of 2 requests reached the server", file=sys.stderr)
            for p in procs.values():
                p.kill()
            return 1
    for rule in (["add", "table", "inet", "kacut"],
                 ["add", "chain", "inet", "kacut", "input",
                  "{ type filter hook input priority 0; policy accept; }"],
                 ["add", "rule", "inet", "kacut", "input", "meta", "l4proto", "tcp", "drop"]):
        subprocess.run(["nft", *rule], check=True)
    cut = time.monotonic()
    ended = {}
    while time.monotonic() - cut < wait and len(ended) < 2:
        for name, p in procs.items():
            if name not in ended and p.poll() is not None:
                ended[name] = time.monotonic() - cut
        time.sleep(0.05)
    for name, p in procs.items():
        if name not in ended:
            p.kill()
        err = p.communicate()[1].strip().replace("\n", " | ")
        status = p.returncode if name in ended else "running"
        after = ended.get(name, time.monotonic() - cut)
        print(f"{name} exit={status} after={after:.1f} err={err}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
