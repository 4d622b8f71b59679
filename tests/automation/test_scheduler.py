"""The scheduler thread: rounds run by themselves, and the server starts and stops it with its lifespan."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

from _webhook import Hook
from fastapi.testclient import TestClient

from slipway._backend import Backend
from slipway.automation import RunStatus, Scheduler, Webhook
from slipway.server import create_app


def _wait_for(condition: object, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_the_thread_dispatches_rule_actions_until_stopped(backend: Backend, package: Path, receiver: Hook) -> None:
    backend.automation.create_rule("notify", "model_version.registered", Webhook(receiver.url))
    scheduler = Scheduler(backend.automation, interval=0.1)
    scheduler.start()
    try:
        backend.registry.register_model("line", package)
        assert _wait_for(lambda: len(receiver.received) == 1)
    finally:
        scheduler.stop()
    assert not scheduler.running
    assert [r.status for r in backend.automation.rule_history("notify")] == [RunStatus.SUCCEEDED]


def test_the_server_runs_the_scheduler_while_it_serves_unless_turned_off(backend: Backend) -> None:
    def threads() -> int:
        return sum(t.name == "slipway-scheduler" for t in threading.enumerate())

    before = threads()
    with TestClient(create_app(backend), base_url="http://localhost"):  # the context runs the app's lifespan
        assert threads() == before + 1
    assert _wait_for(lambda: threads() == before)
    backend.settings = dataclasses.replace(backend.settings, scheduler_interval=0.0)
    with TestClient(create_app(backend), base_url="http://localhost"):
        assert threads() == before
