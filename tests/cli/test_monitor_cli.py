"""``slipway monitor baseline`` and ``check`` on files: the files written, the table printed, exit code 0."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pandas as pd
from typer.testing import Result


def _abalone(tmp_path: Path) -> tuple[Path, Path]:
    with resources.files("slipway._data").joinpath("abalone.csv").open("rb") as handle:
        frame = pd.read_csv(handle)
    train = tmp_path / "train.csv"
    frame.to_csv(train, index=False)
    frame["height"] = frame["height"] * 1.5
    frame.loc[::4, "sex"] = "X"
    current = tmp_path / "current.parquet"
    frame.to_parquet(current)
    return train, current


def test_baseline_then_check(cli: Callable[..., Result], tmp_path: Path) -> None:
    train, current = _abalone(tmp_path)
    made = cli("monitor", "baseline", str(train), "--output", str(tmp_path / "baseline"))
    assert made.exit_code == 0, made.output
    assert "4,177 rows" in made.stdout
    assert {p.name for p in (tmp_path / "baseline").iterdir()} == {"statistics.json", "constraints.json"}

    baseline, out = str(tmp_path / "baseline"), str(tmp_path / "out")
    checked = cli("monitor", "check", str(current), "--baseline", baseline, "-o", out)
    assert checked.exit_code == 0, checked.output
    assert "categorical_values_check" in checked.stdout and "height" in checked.stdout
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "constraint_violations.json", "drift.json", "statistics.json", "report.html"}

    as_json = cli("monitor", "check", str(current), "-b", str(tmp_path / "baseline"), "-o", str(tmp_path / "out"),
                  "--json")
    assert {(v["feature_name"], v["constraint_check_type"]) for v in json.loads(as_json.stdout)["violations"]} == {
        ("sex", "categorical_values_check"), ("sex", "baseline_drift_check"), ("height", "baseline_drift_check")}


def test_check_without_a_baseline_folder(cli: Callable[..., Result], tmp_path: Path) -> None:
    train, _ = _abalone(tmp_path)
    result = cli("monitor", "check", str(train), "--baseline", str(tmp_path / "nothing"), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "no statistics.json" in result.stderr


def test_monitors_executions_reports_and_alarms(cli: Callable[..., Result], tmp_path: Path) -> None:
    train, current = _abalone(tmp_path)
    assert "none yet" in cli("monitor", "list").stdout
    made = cli("monitor", "create", "abalone-dq", "--baseline-data", str(train))
    assert made.exit_code == 0, made.output
    assert "abalone-dq:1" in made.stdout
    alarm = cli("alarms", "create", "drift", "--monitor", "abalone-dq", "--metric", "violations.baseline_drift_check",
                "--threshold", "0")
    assert alarm.exit_code == 0, alarm.output
    assert "INSUFFICIENT_DATA" in cli("alarms", "list").stdout

    run = cli("monitor", "run", "abalone-dq", str(current))
    assert run.exit_code == 0, run.output
    assert "CompletedWithViolations" in run.stdout and "categorical_values_check" in run.stdout
    executions = json.loads(cli("monitor", "executions", "abalone-dq", "--json").stdout)
    assert [e["violation_count"] for e in executions] == [3]
    assert executions[0]["window_start"] is None  # data given: no capture window
    report = cli("monitor", "report", executions[0]["id"], "--output", str(tmp_path / "report"))
    assert report.exit_code == 0, report.output
    assert (tmp_path / "report" / "report.html").is_file()

    shown = cli("alarms", "show", "drift")
    assert "ALARM" in shown.stdout and "1 of the last 1" in shown.stdout
    assert json.loads(cli("alarms", "show", "drift", "--json").stdout)["state"] == "ALARM"
    assert cli("alarms", "show", "nope").exit_code == 2
    windowed = cli("monitor", "run", "abalone-dq", "--start", "2026-01-01T09:30:00", "--json")
    assert windowed.exit_code == 0, windowed.output
    assert json.loads(windowed.stdout)["window_start"] == "2026-01-01T09:30:00Z"  # kept though it found no endpoint


def test_a_model_quality_monitor_from_the_shell(cli: Callable[..., Result], tmp_path: Path) -> None:
    pd.DataFrame({"inference_id": ["a", "b", "c"], "prediction": [1.0, 2.0, 3.0]}).to_csv(tmp_path / "p.csv",
                                                                                          index=False)
    pd.DataFrame({"inference_id": ["a", "b", "c"], "label": [1.0, 2.0, 5.0]}).to_csv(tmp_path / "l.csv", index=False)
    made = cli("monitor", "create", "quality", "--problem-type", "Regression", "--threshold", "mae=0.5")
    assert made.exit_code == 0, made.output
    run = cli("monitor", "run", "quality", str(tmp_path / "p.csv"), "--labels", str(tmp_path / "l.csv"), "--json")
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["metrics"]["mae"] == 2 / 3
    assert cli("monitor", "create", "bad", "--problem-type", "Regression", "--threshold", "mae").exit_code == 2
