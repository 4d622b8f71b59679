"""Data-quality checks: each violation type on purpose, and drift found on exactly the drifted columns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slipway.monitoring import (
    Baseline,
    CheckType,
    DriftMethod,
    check_data,
    compute_baseline,
    render_report,
    write_report,
)


def _kinds(violations: list) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {(v.feature_name, str(v.constraint_check_type)) for v in violations}


def test_drift_is_found_on_exactly_the_drifted_columns(abalone: pd.DataFrame, drifted: pd.DataFrame,
    drifted_columns: set[str]) -> None:
    result = check_data(drifted, compute_baseline(abalone))
    assert _kinds(result.violations) == {(name, "baseline_drift_check") for name in drifted_columns}
    assert {d.feature_name for d in result.drift if d.drifted} == drifted_columns
    assert len(result.drift) == len(abalone.columns)


def test_a_sample_of_the_same_data_passes(abalone: pd.DataFrame) -> None:
    result = check_data(abalone.sample(frac=0.5, random_state=1), compute_baseline(abalone))
    assert result.violations == []


@pytest.mark.parametrize("method", [DriftMethod.PSI, DriftMethod.JENSEN_SHANNON, DriftMethod.WASSERSTEIN])
def test_every_numeric_method_names_the_same_columns(
    abalone: pd.DataFrame, drifted: pd.DataFrame,
    drifted_columns: set[str], method: DriftMethod, tmp_path: Path
) -> None:
    folder = compute_baseline(abalone).write(tmp_path)
    document = json.loads((folder / "constraints.json").read_text())
    for feature in document["features"]:
        if feature["inferred_type"] != "String":
            feature["monitoring_config"]["distribution_constraints"]["comparison_method"] = str(method)
    (folder / "constraints.json").write_text(json.dumps(document))
    result = check_data(drifted, Baseline.read(folder))
    assert {v.feature_name for v in result.violations} == drifted_columns
    assert {d.method for d in result.drift if d.feature_name != "sex"} == {method}


def test_each_constraint_check(abalone: pd.DataFrame) -> None:
    current = abalone.drop(columns=["rings"]).copy()
    current["height"] = current["height"].astype(str)                  # numbers became text
    current.loc[current.index[:100], "diameter"] = np.nan               # some values missing
    current["whole weight"] = current["whole weight"] - 0.2             # negative values
    current.loc[current.index[::2], "sex"] = "unknown"                  # a new category
    current["comment"] = "hello"                                        # a column the baseline lacks
    result = check_data(current, compute_baseline(abalone))
    found = _kinds(result.violations)
    assert {("rings", "missing_column_check"), ("comment", "extra_column_check"), ("height", "data_type_check"),
            ("diameter", "completeness_check"), ("whole weight", "non_negative_check"),
            ("sex", "categorical_values_check")} <= found
    assert ("height", "baseline_drift_check") not in found  # a column of the wrong type is not compared
    assert result.violation_counts()[CheckType.MISSING_COLUMN] == 1


def test_integers_where_fractions_were_are_fine_but_not_the_reverse() -> None:
    ints = pd.DataFrame({"x": np.arange(1000) % 7})
    floats = ints.astype(float) + 0.5
    assert not check_data(ints, compute_baseline(floats)).violation_counts().get(CheckType.DATA_TYPE)
    assert check_data(floats, compute_baseline(ints)).violation_counts()[CheckType.DATA_TYPE] == 1


def test_a_disabled_feature_is_not_checked(abalone: pd.DataFrame, drifted: pd.DataFrame,
    drifted_columns: set[str], tmp_path: Path) -> None:
    folder = compute_baseline(abalone).write(tmp_path)
    document = json.loads((folder / "constraints.json").read_text())
    for feature in document["features"]:
        if feature["name"] == "length":
            feature["monitoring_config"]["evaluate_constraints"] = "Disabled"
        if feature["name"] == "rings":
            feature["monitoring_config"]["distribution_constraints"]["perform_comparison"] = "Disabled"
    (folder / "constraints.json").write_text(json.dumps(document))
    result = check_data(drifted, Baseline.read(folder))
    assert {v.feature_name for v in result.violations} == drifted_columns - {"length", "rings"}


def test_the_report_files(abalone: pd.DataFrame, drifted: pd.DataFrame,
    drifted_columns: set[str], tmp_path: Path) -> None:
    path = tmp_path / "current.parquet"
    drifted.to_parquet(path)
    folder = write_report(check_data(path, compute_baseline(abalone)), tmp_path / "report")
    violations = json.loads((folder / "constraint_violations.json").read_text())["violations"]
    assert {v["feature_name"] for v in violations} == drifted_columns
    assert set(violations[0]) == {"feature_name", "constraint_check_type", "description"}
    drift = json.loads((folder / "drift.json").read_text())["features"]
    assert {d["feature_name"] for d in drift if d["drifted"]} == drifted_columns
    page = (folder / "report.html").read_text()
    assert page.count("<svg") == len(abalone.columns)
    assert "shell weight" in page and "baseline_drift_check" in page


def test_the_report_is_self_contained_and_small_for_a_hundred_features() -> None:
    rng = np.random.default_rng(5)
    rows = 20_000
    columns = {f"num_{i}": rng.normal(i, 1 + i % 3, rows) for i in range(80)}
    columns |= {f"cat_{i}": rng.choice([f"value-{j}" for j in range(30)], rows) for i in range(20)}
    baseline_frame = pd.DataFrame(columns)
    current = baseline_frame.copy()
    current[[f"num_{i}" for i in range(0, 80, 2)]] *= 1.5
    page = render_report(check_data(current, compute_baseline(baseline_frame)))
    assert page.count("<svg") == 100
    assert len(page.encode()) < 1_000_000
    # Nothing to fetch: no scripts, style sheets or images from elsewhere (the SVG namespace is a name, not a fetch).
    assert "<script" not in page and "<link" not in page and "src=" not in page
    assert page.replace('xmlns="http://www.w3.org/2000/svg"', "").count("http") == 0


def test_names_are_escaped_in_the_report() -> None:
    frame = pd.DataFrame({"<b>x</b>": [1.0, 2.0, 3.0], "kind": ["<script>", "a", "a"]})
    page = render_report(check_data(frame, compute_baseline(frame)))
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page and "<script>" not in page
