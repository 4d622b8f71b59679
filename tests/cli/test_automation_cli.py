"""``slipway schedules|rules|hooks|gc`` and ``slipway monitor create --schedule``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _webhook import Hook
from typer.testing import Result

from slipway import Client

Cli = Callable[..., Result]


@pytest.fixture
def receiver() -> Iterator[Hook]:
    hook = Hook()
    yield hook
    hook.close()


def test_schedules_commands(cli: Cli) -> None:
    made = cli("schedules", "create", "weekly", "--cron", "0 2 * * 1", "--action", "start_pipeline",
               "--set", "pipeline=train", "--set", "parameters.epochs=10", "--missed", "skip")
    assert made.exit_code == 0, made.output
    assert "weekly" in made.output and "'0 2 * * 1' UTC" in made.output
    listed = json.loads(cli("schedules", "list", "--json").stdout)
    assert listed[0]["action"] == {"kind": "start_pipeline", "pipeline": "train", "parameters": {"epochs": 10},
                                   "version": None}
    assert listed[0]["missed"] == "skip"
    assert cli("schedules", "pause", "weekly").exit_code == 0
    assert "paused" in cli("schedules", "list").stdout
    assert "resumed" in cli("schedules", "resume", "weekly").stdout
    assert "none yet" in cli("schedules", "history", "weekly").stdout
    bad = cli("schedules", "create", "x", "--cron", "0 2 * *", "--action", "run_monitor", "--set", "monitor=m")
    assert bad.exit_code == 2 and "5 fields" in bad.stderr
    bad = cli("schedules", "create", "x", "--cron", "0 2 * * *", "--action", "run_monitor", "--set", "monitor")
    assert bad.exit_code == 2 and "FIELD=VALUE" in bad.stderr
    assert cli("schedules", "delete", "weekly").exit_code == 0
    missing = cli("schedules", "delete", "weekly")
    assert missing.exit_code == 2 and "no schedule 'weekly'" in missing.stderr


def test_rules_and_their_history(cli: Cli, client: Client, receiver: Hook, tmp_path: Path) -> None:
    made = cli("rules", "create", "new-data", "--event", "dataset_version.registered", "--filter", "dataset=sales",
               "--action", "webhook", "--set", f"url={receiver.url}", "--set", "text=new {event.dataset} data")
    assert made.exit_code == 0, made.output
    assert "on dataset_version.registered where {'dataset': 'sales'}" in made.stdout
    assert "new-data" in cli("rules", "list").stdout
    data = tmp_path / "sales.csv"
    data.write_text("a,b\n1,2\n")
    client.datasets.register("sales", data)
    client.automation.dispatch_pending()
    assert receiver.received[0]["text"] == "new sales data"
    history = cli("rules", "history", "new-data", "--json")
    assert [r["status"] for r in json.loads(history.stdout)] == ["Succeeded"]
    assert "Succeeded" in cli("rules", "history", "new-data").stdout
    unknown = cli("rules", "create", "x", "--event", "nothing.happened", "--action", "run_monitor",
                  "--set", "monitor=m")
    assert unknown.exit_code == 2 and "rules can listen to" in unknown.stderr
    assert cli("rules", "delete", "new-data").exit_code == 0
    assert "none yet" in cli("rules", "list").stdout


def test_hooks_show_their_secret_once(cli: Cli) -> None:
    made = cli("hooks", "create", "on-push", "--action", "start_pipeline", "--set", "pipeline=build",
               "--set", "parameters.commit={event.commit}", "--json")
    assert made.exit_code == 0, made.output
    secret = json.loads(made.stdout)["secret"]
    assert secret and len(secret) >= 32
    listed = cli("hooks", "list")
    assert "/hooks/on-push" in listed.stdout and secret not in listed.stdout
    assert cli("hooks", "delete", "on-push").exit_code == 0


def test_gc_dry_run_then_for_real(cli: Cli, client: Client) -> None:
    from slipway.store.artifacts import Owner

    store = client.backend.artifacts
    store.put_bytes(Owner("scratch", "s"), "f.bin", b"z" * 2048)
    store.delete(Owner("scratch", "s"), "")
    dry = cli("gc", "--dry-run", "--grace", "0", "--keep-executions", "5")
    assert dry.exit_code == 0, dry.output
    assert "Would delete 1 item(s)" in " ".join(dry.stdout.split()) and "2.0 KiB" in dry.stdout
    assert "keep 5 executions per pipeline" in dry.stdout
    real = json.loads(cli("gc", "--grace", "0", "--json").stdout)
    assert real["dry_run"] is False and [i["kind"] for i in real["items"]] == ["blob"] and real["freed_bytes"] == 2048
    assert json.loads(cli("gc", "--grace", "0", "--json").stdout)["items"] == []


def test_monitor_create_with_a_schedule(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    data.write_text("x,y\n1,2\n3,4\n5,6\n")
    bad = cli("monitor", "create", "quality", "--baseline-data", str(data), "--schedule", "hourly")
    assert bad.exit_code == 2 and "cron" in bad.stderr
    assert "quality" not in cli("monitor", "list").stdout  # refused before anything was created
    made = cli("monitor", "create", "quality", "--baseline-data", str(data), "--schedule", "0 * * * *")
    assert made.exit_code == 0, made.output
    assert "schedule monitor-quality" in made.stdout
    [schedule] = json.loads(cli("schedules", "list", "--json").stdout)
    assert (schedule["name"], schedule["cron"], schedule["action"]) == (
        "monitor-quality", "0 * * * *", {"kind": "run_monitor", "monitor": "quality"})
