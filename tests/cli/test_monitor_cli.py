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
