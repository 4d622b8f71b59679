"""A worker killed in the middle of an action: restarted, the action has run once in effect."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from slipway._backend import Backend
from slipway.automation import RunMonitor, RunStatus, Webhook
from slipway.automation._tables import automation_runs

TESTS = Path(__file__).resolve().parents[1]
WORKER = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from _automation import make_backend
backend = make_backend(Path({home!r}))
print(len(backend.automation.dispatch_pending()), flush=True)
"""


class StallingReceiver:
    """A webhook receiver that keeps every delivery and leaves the first request unanswered."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.first = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 -- the name http.server calls
                receiver.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                if len(receiver.bodies) == 1:
                    receiver.first.set()
                    receiver.release.wait(30)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stalling() -> Iterator[StallingReceiver]:
    receiver = StallingReceiver()
    yield receiver
    receiver.close()


def _worker(home: Path) -> subprocess.Popen[str]:
    code = WORKER.format(tests=str(TESTS), home=str(home))
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def test_a_worker_killed_mid_action_is_taken_over_and_the_delivery_is_not_doubled(
    backend: Backend, package: Path, stalling: StallingReceiver
) -> None:
    auto = backend.automation
    auto.create_rule("notify", "model_version.registered", Webhook(stalling.url))
    backend.registry.register_model("line", package)

    worker = _worker(backend.settings.home)
    assert stalling.first.wait(60), "the worker never called the webhook"
    os.kill(worker.pid, signal.SIGKILL)  # dies with the request sent and its outcome unrecorded
    worker.wait(10)
    stalling.release.set()
    [run] = auto.rule_history("notify")
    assert run.status is RunStatus.RUNNING and run.attempts == 1

    restarted = _worker(backend.settings.home)  # its claimer is gone from this host: taken over at once
    out, _ = restarted.communicate(timeout=60)
    assert out.strip() == "1"
    [run] = auto.rule_history("notify")
    assert run.status is RunStatus.SUCCEEDED and run.attempts == 2
    # Delivered at least once, the same delivery id each time: the receiver keeps one.
    assert len(stalling.bodies) == 2
    assert {b["delivery"] for b in stalling.bodies} == {run.id}
    assert auto.dispatch_pending() == []  # nothing left, nothing run again


def test_a_retaken_run_finds_the_effect_of_its_first_attempt(backend: Backend, tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("x\n1\n2\n3\n")
    backend.monitoring.create_baseline("ref", data)
    backend.monitoring.create_monitor("quality", baseline="ref")
    auto = backend.automation
    auto.create_rule("check", "dataset_version.registered", RunMonitor("quality"))
    backend.datasets.register("sales", data)
    auto._match_events()  # noqa: SLF001 -- the match is recorded; now its first attempt "dies" mid-action
    started = int(time.time() * 1000) - 1000
    with backend.db.write() as conn:
        conn.execute(update(automation_runs).values(status="Running", attempts=1, started_at=started,
                                                    claimed_by="gone-host:1", claimed_until=started))
    first = backend.monitoring.run_monitor("quality")  # what the dead attempt did before dying

    [run] = auto.dispatch_pending()
    assert run.status is RunStatus.SUCCEEDED and run.attempts == 2
    assert run.result == {"execution": first.id, "status": str(first.status), "reused": True}
    assert [e.id for e in backend.monitoring.list_executions("quality")] == [first.id]
