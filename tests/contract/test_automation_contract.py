"""Automation through the SDK, embedded and remote: the same records and the same errors."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from slipway import Client
from slipway.automation import GcReport, MoveAlias, RunMonitor, StartPipeline
from slipway.errors import AlreadyExists, InvalidInput, NotFound


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_schedules(client: Client) -> None:
    auto = client.automation
    name = _name("nightly")
    made = auto.create_schedule(name, "0 2 * * *", StartPipeline("train", {"epochs": 3}), missed="skip")
    assert (made.cron, made.missed, made.action) == (
        "0 2 * * *", "skip", {"kind": "start_pipeline", "pipeline": "train", "parameters": {"epochs": 3},
                              "version": None})
    assert made.next_run_at.hour == 2 and made.next_run_at.minute == 0
    assert name in [s.name for s in auto.list_schedules()]
    assert auto.pause_schedule(name).paused
    assert not auto.resume_schedule(name).paused
    assert auto.schedule_history(name) == []
    with pytest.raises(AlreadyExists):
        auto.create_schedule(name, "0 3 * * *", RunMonitor("m"))
    with pytest.raises(InvalidInput) as err:
        auto.create_schedule(_name("bad"), "0 25 * * *", RunMonitor("m"))
    assert err.value.field == "cron"
    auto.delete_schedule(name)
    with pytest.raises(NotFound):
        auto.get_schedule(name)


def test_rules_and_hooks(client: Client) -> None:
    auto = client.automation
    name = _name("stage")
    stage = MoveAlias("{event.group}", "staging", "{event.version}")
    filters = {"to": "Approved", "group": ["a", "b"]}
    rule = auto.create_rule(name, "model_version.status_changed", stage, filters=filters)
    assert rule.filters == {"to": "Approved", "group": ["a", "b"]}
    assert rule.action["kind"] == "move_alias" and rule.action["version"] == "{event.version}"
    assert auto.get_rule(name).id == rule.id
    assert auto.rule_history(name) == []
    with pytest.raises(InvalidInput) as err:
        auto.create_rule(_name("x"), "model.exploded", RunMonitor("m"))
    assert err.value.field == "event"
    with pytest.raises(InvalidInput):
        auto.create_rule(_name("x"), "model_version.registered", {"kind": "launch_rockets"})
    auto.delete_rule(name)
    with pytest.raises(NotFound):
        auto.rule_history(name)

    hook = auto.create_hook(_name("ci"), StartPipeline("build", {"commit": "{event.commit}"}))
    assert hook.secret
    listed = {h.name: h for h in auto.list_hooks()}
    assert listed[hook.name].secret is None
    auto.delete_hook(hook.name)
    with pytest.raises(NotFound):
        auto.delete_hook(hook.name)


def test_retention_and_a_dry_collection(client: Client) -> None:
    auto = client.automation
    before = auto.get_retention()
    try:
        policy = auto.set_retention(keep_executions=50, capture_days=30)
        assert (policy.keep_executions, policy.capture_days) == (50, 30)
        with pytest.raises(InvalidInput):
            auto.set_retention(keep_executions=-1)
        report = auto.collect_garbage(dry_run=True)
        assert isinstance(report, GcReport) and report.dry_run
    finally:
        auto.set_retention(keep_executions=before.keep_executions or 0, capture_days=before.capture_days or 0)


def test_the_clock_and_the_batch_size_reach_the_server(client: Client) -> None:
    """``now=`` and ``limit`` work remotely as embedded (RemoteAutomation used to drop them)."""
    auto = client.automation
    name = _name("clock")
    then = dt.datetime(2031, 5, 4, 10, 30, tzinfo=dt.UTC)
    made = auto.create_schedule(name, "0 2 * * *", RunMonitor("m"), now=then, paused=True)
    assert made.next_run_at == dt.datetime(2031, 5, 5, 2, 0, tzinfo=dt.UTC)
    later = dt.datetime(2031, 6, 1, 3, 0, tzinfo=dt.UTC)
    assert auto.resume_schedule(name, now=later).next_run_at == dt.datetime(2031, 6, 2, 2, 0, tzinfo=dt.UTC)
    assert auto.run_due_schedules(now=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)) == []  # nothing was due in 2020
    assert len(auto.dispatch_pending(limit=1)) <= 1
    auto.delete_schedule(name)
