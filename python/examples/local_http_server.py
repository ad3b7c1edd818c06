"""A small HTTP/1.1 server on loopback, in a thread, for the client recipes
to talk to when no URL is given (and for their tests), and the recipes'
command line. Standard library only.

    with serve() as url:          # "http://127.0.0.1:PORT/"
        ...

Every response is ``ok\\n`` with a Content-Length, so clients keep the
connection open and reuse it, as they would with a real server.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # persistent connections

    def do_GET(self) -> None:
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: the recipes print what matters


@contextmanager
def serve() -> Iterator[str]:
    """Serves on 127.0.0.1 on a free port until the block ends; yields the URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def recipe_main(fetch: Callable[[str], tuple[int, object]]) -> int:
    """An HTTP recipe's command line, ``[URL]``: GETs URL, or ``serve()``'s
    when none is given, with ``fetch`` (the recipe's), and prints the status
    and the settings of the connection used. Exit status 0, or 2 with a
    usage message."""
    args = sys.argv[1:]
    if len(args) > 1:
        print(f"usage: {os.path.basename(sys.argv[0])} [URL]", file=sys.stderr)
        return 2
    if args:
        status, settings = fetch(args[0])
    else:
        with serve() as url:
            status, settings = fetch(url)
    print(f"HTTP {status}; the connection has {settings}")
    return 0
