"""Schedules: CRUD, firing when due, the missed-run policies, pause and resume, one fire across schedulers."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from _automation import make_backend
from _webhook import Hook

from slipway._backend import Backend
from slipway.automation import MissedRuns, RunMonitor, RunStatus, Webhook
from slipway.errors import AlreadyExists, InvalidInput, NotFound

T0 = dt.datetime(2026, 3, 1, 1, 30, tzinfo=dt.UTC)  # the schedules below fire daily at 02:00


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def test_a_schedule_fires_its_action_when_due_and_not_before(backend: Backend, receiver: Hook) -> None:
    auto = backend.automation
    made = auto.create_schedule("nightly", "0 2 * * *", Webhook(receiver.url, text="nightly"), now=T0)
    assert made.next_run_at == at(0.5) and not made.paused and made.missed == "catch_up_one"
    assert auto.run_due_schedules(now=at(0.4)) == []
    runs = auto.run_due_schedules(now=at(0.5))
    assert [r.status for r in runs] == [RunStatus.SUCCEEDED]
    assert receiver.received[0]["text"] == "nightly"
    assert receiver.received[0]["event"]["schedule"] == "nightly"
    assert auto.run_due_schedules(now=at(0.6)) == []  # fired once for 02:00
    assert auto.get_schedule("nightly").next_run_at == at(24.5)
    assert [r.id for r in auto.schedule_history("nightly")] == [runs[0].id]


@pytest.mark.parametrize(("policy", "fired"), [(MissedRuns.SKIP, 0), (MissedRuns.CATCH_UP_ONE, 1)])
def test_after_downtime_missed_runs_follow_the_policy(
    backend: Backend, receiver: Hook, policy: MissedRuns, fired: int
) -> None:
    auto = backend.automation
    auto.create_schedule("daily", "0 2 * * *", Webhook(receiver.url), missed=policy, now=T0)
    back = at(24 * 3 + 10)  # three days later, at 11:30
    assert len(auto.run_due_schedules(now=back)) == fired
    assert len(receiver.received) == fired
    assert auto.get_schedule("daily").next_run_at == at(24 * 4 + 0.5)  # the next occurrence after now
    assert auto.run_due_schedules(now=back) == []


def test_pause_and_resume(backend: Backend, receiver: Hook) -> None:
    auto = backend.automation
    auto.create_schedule("daily", "0 2 * * *", Webhook(receiver.url), now=T0)
    assert auto.pause_schedule("daily").paused
    assert auto.run_due_schedules(now=at(30)) == []
    resumed = auto.resume_schedule("daily", now=at(30))
    assert not resumed.paused and resumed.next_run_at == at(48.5)  # nothing caught up from the pause
    assert len(auto.run_due_schedules(now=at(48.5))) == 1


def test_bad_input_and_unknown_names(backend: Backend, receiver: Hook) -> None:
    auto = backend.automation
    with pytest.raises(InvalidInput) as err:
        auto.create_schedule("x", "every day", Webhook(receiver.url))
    assert err.value.field == "cron"
    with pytest.raises(InvalidInput) as err:
        auto.create_schedule("x", "0 2 * * *", Webhook(receiver.url), missed="twice")
    assert err.value.field == "missed"
    with pytest.raises(InvalidInput) as err:
        auto.create_schedule("x", "0 2 * * *", {"kind": "reboot"})
    assert "unknown action kind" in err.value.message
    with pytest.raises(InvalidInput) as err:
        auto.create_schedule("bad name!", "0 2 * * *", Webhook(receiver.url))
    assert err.value.field == "name"
    with pytest.raises(InvalidInput) as err:
        auto.create_schedule("meta", "0 2 * * *", Webhook("http://169.254.169.254/latest"))
    assert err.value.field == "url"
    auto.create_schedule("x", "0 2 * * *", Webhook(receiver.url))
    with pytest.raises(AlreadyExists):
        auto.create_schedule("x", "0 3 * * *", Webhook(receiver.url))
    auto.delete_schedule("x")
    assert auto.list_schedules() == []
    for call in (auto.get_schedule, auto.pause_schedule, auto.delete_schedule):
        with pytest.raises(NotFound):
            call("x")


def test_two_schedulers_on_one_postgres_fire_each_occurrence_once(pg_url: str, tmp_path: Path, receiver: Hook) -> None:
    servers = [make_backend(tmp_path / f"server-{i}", pg_url) for i in range(2)]
    try:
        servers[0].automation.create_schedule("every-minute", "* * * * *", Webhook(receiver.url), now=T0)
        fired: list[int] = []
        for minute in range(1, 6):
            start = threading.Barrier(2)

            def tick(
                backend: Backend, start: threading.Barrier = start, now: dt.datetime = T0 + dt.timedelta(minutes=minute)
            ) -> None:
                start.wait()
                fired.append(len(backend.automation.run_due_schedules(now=now)))

            threads = [threading.Thread(target=tick, args=(b,)) for b in servers]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert sum(fired) == 5  # five occurrences, each fired by one of the two
        assert len(receiver.received) == 5
        assert len({r["delivery"] for r in receiver.received}) == 5
    finally:
        for b in servers:
            b.close()


def test_two_dispatchers_on_one_postgres_run_each_rule_event_once(
    pg_url: str, tmp_path: Path, receiver: Hook, package: Path
) -> None:
    servers = [make_backend(tmp_path / f"server-{i}", pg_url) for i in range(2)]
    try:
        servers[0].automation.create_rule("notify", "model_version.registered", Webhook(receiver.url))
        for _ in range(3):
            servers[0].registry.register_model("line", package)
        start = threading.Barrier(2)
        ran: list[int] = []

        def dispatch(backend: Backend) -> None:
            start.wait()
            ran.append(len(backend.automation.dispatch_pending()))

        threads = [threading.Thread(target=dispatch, args=(b,)) for b in servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(ran) == 3
        assert sorted(r["event"]["version"] for r in receiver.received) == [1, 2, 3]
        assert all(b.automation.dispatch_pending() == [] for b in servers)
    finally:
        for b in servers:
            b.close()


def test_a_monitor_schedule_is_named_for_its_monitor_within_the_name_limit(backend: Backend) -> None:
    """``slipway monitor create --schedule`` names the schedule by the domain's rule, not the CLI's."""
    long_name = "m" * 100
    made = backend.automation.create_schedule(RunMonitor(long_name).schedule_name, "0 * * * *", RunMonitor(long_name))
    assert made.name == ("monitor-" + long_name)[:64] and len(made.name) == 64
    assert RunMonitor("churn").schedule_name == "monitor-churn"
