"""A webhook receiver for tests: an HTTP server on 127.0.0.1 that keeps every JSON body POSTed to it.

A POST to ``/bounce`` is answered with a redirect to ``/hook``, for tests that a sender follows none.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Hook:
    """Listens on a free loopback port from construction until :meth:`close`."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        paths: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 -- the name http.server calls
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                paths.append(self.path)
                self.send_response(307 if self.path == "/bounce" else 204)
                if self.path == "/bounce":
                    self.send_header("Location", "/hook")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.paths = paths  # the path of each POST, in order
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.base}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
