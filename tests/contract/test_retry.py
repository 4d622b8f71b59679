"""A remote client survives a blip: calls that may be repeated are retried, the others never.

A real loopback proxy stands between the client and the session's server and fails the requests
it is told to (a 503, a 429, a connection closed without an answer); the port it will listen on
refuses connections until it starts.
"""

from __future__ import annotations

import contextlib
import http.server
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from _server import LiveServer

from slipway import Client
from slipway.errors import ServiceUnavailable


@dataclass
class Faults:
    """What the proxy does to the next requests: a status to answer, or "drop" to close the connection."""

    planned: list[int | str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)


def _handler(upstream: str, faults: Faults) -> type[http.server.BaseHTTPRequestHandler]:
    class Proxy(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            faults.seen.append(f"{self.command} {self.path.split('?')[0]}")
            fault = faults.planned.pop(0) if faults.planned else None
            if fault == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault is not None:
                self.send_response(int(fault))
                self.send_header("Retry-After", "0")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            answer = httpx.request(self.command, upstream + self.path, content=body, headers=headers)
            self.send_response(answer.status_code)
            for name in ("Content-Type",):
                if name in answer.headers:
                    self.send_header(name, answer.headers[name])
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay

    return Proxy


@contextlib.contextmanager
def proxy(upstream: str, faults: Faults, port: int = 0) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _handler(upstream, faults))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short waits, set as a user would: through the environment."""
    monkeypatch.setenv("SLIPWAY_RETRIES", "3")
    monkeypatch.setenv("SLIPWAY_RETRY_BACKOFF", "0.01")


def test_reads_and_declared_idempotent_calls_are_retried(live_server: LiveServer, quick: None) -> None:
    with live_server.client() as direct:
        exp = direct.tracking.create_experiment(f"retry-{time.time_ns()}")
        direct.tracking.create_run(exp.id, name="r")
    faults = Faults(planned=[503, "drop", 429])
    with proxy(live_server.url, faults) as url, Client(server_url=url, token=live_server.token) as client:
        assert client.tracking.get_experiment(exp.id).name == exp.name
        assert faults.seen == [f"GET /api/v1/experiments/{exp.id}"] * 4

        faults.planned, faults.seen = [502, 504], []  # a search goes by POST, declared idempotent
        assert [r.name for r in client.tracking.search_runs([exp.id]).runs] == ["r"]
        assert faults.seen == ["POST /api/v1/runs/search"] * 3

        faults.planned, faults.seen = [503] * 5, []  # the server stays down: the call fails after 3 retries
        with pytest.raises(ServiceUnavailable):
            client.tracking.get_experiment(exp.id)
        assert len(faults.seen) == 4


def test_calls_that_change_something_are_sent_once(live_server: LiveServer, quick: None) -> None:
    name = f"once-{time.time_ns()}"
    faults = Faults(planned=[503])
    with proxy(live_server.url, faults) as url, Client(server_url=url, token=live_server.token) as client:
        with pytest.raises(ServiceUnavailable):
            client.tracking.create_experiment(name)
        assert faults.seen == ["POST /api/v1/experiments"]

        faults.planned, faults.seen = ["drop"], []
        with pytest.raises(ServiceUnavailable, match="cannot reach"):
            client.tracking.create_experiment(name)
        assert faults.seen == ["POST /api/v1/experiments"]
        assert name not in {e.name for e in client.tracking.list_experiments()}


def test_retries_can_be_turned_off(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_RETRIES", "0")
    faults = Faults(planned=[503])
    with proxy(live_server.url, faults) as url, Client(server_url=url, token=live_server.token) as client:
        with pytest.raises(ServiceUnavailable):
            client.tracking.list_experiments()
        assert len(faults.seen) == 1


def test_a_server_that_comes_back_is_reached(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Connections refused at first (nothing listens yet); the call goes through once the server is up."""
    monkeypatch.setenv("SLIPWAY_RETRIES", "6")
    monkeypatch.setenv("SLIPWAY_RETRY_BACKOFF", "0.05")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    refused = threading.Event()

    class Seen(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "ConnectError" in record.getMessage():
                refused.set()

    caplog.set_level(logging.INFO, logger="slipway.client")  # each retry is told at INFO
    seen = Seen()
    logging.getLogger("slipway.client").addHandler(seen)
    answers: list[object] = []
    try:
        with Client(server_url=f"http://127.0.0.1:{port}", token=live_server.token) as client:
            call = threading.Thread(target=lambda: answers.append(client.tracking.list_experiments()))
            call.start()
            assert refused.wait(10), "the client never retried a refused connection"
            with proxy(live_server.url, Faults(), port=port):
                call.join(10)
    finally:
        logging.getLogger("slipway.client").removeHandler(seen)
    assert answers and isinstance(answers[0], list)
