"""Baselines: suggested constraints in the cloud monitor's layout, written, edited and read back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slipway.errors import InvalidInput, NotFound
from slipway.monitoring import CONSTRAINTS_FILE, STATISTICS_FILE, Baseline, DriftMethod, compute_baseline


def test_suggested_constraints_describe_the_data(abalone: pd.DataFrame) -> None:
    baseline = compute_baseline(abalone)
    constraints = baseline.constraints
    assert [f.name for f in constraints.features] == list(abalone.columns)
    sex = constraints.feature("sex")
    assert sex is not None and sex.string_constraints is not None
    assert sex.string_constraints.domains == ["F", "I", "M"]
    rings = constraints.feature("rings")
    assert rings is not None and rings.inferred_type == "Integral" and rings.completeness == 1.0
    assert rings.num_constraints is not None and rings.num_constraints.is_non_negative
    comparison = rings.monitoring_config.distribution_constraints
    assert comparison.comparison_method is DriftMethod.KOLMOGOROV_SMIRNOV and comparison.comparison_threshold == 0.1


def test_missing_values_free_text_and_negative_numbers() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "score": np.where(np.arange(1000) % 4 == 0, np.nan, rng.normal(size=1000)),
        "comment": [f"text {i}" for i in range(1000)],
    })
    constraints = compute_baseline(frame).constraints
    score, comment = constraints.feature("score"), constraints.feature("comment")
    assert score is not None and score.completeness == 0.75
    assert score.num_constraints is not None and not score.num_constraints.is_non_negative
    assert comment is not None and comment.string_constraints is None  # free text has no domain


def test_the_files_use_the_cloud_layout_and_read_back(abalone: pd.DataFrame, tmp_path: Path) -> None:
    folder = compute_baseline(abalone).write(tmp_path / "baseline")
    document = json.loads((folder / CONSTRAINTS_FILE).read_text())
    length = next(f for f in document["features"] if f["name"] == "length")
    assert set(length) == {"name", "inferred_type", "completeness", "num_constraints", "monitoring_config"}
    assert set(length["monitoring_config"]["distribution_constraints"]) == {
        "perform_comparison", "comparison_threshold", "comparison_method"}
    statistics = json.loads((folder / STATISTICS_FILE).read_text())
    assert statistics["dataset"]["item_count"] == len(abalone)
    back = Baseline.read(folder)
    assert back.constraints == compute_baseline(abalone).constraints
    assert back.statistics["rings"].mean == pytest.approx(abalone["rings"].mean())


def test_an_edited_file_is_validated(abalone: pd.DataFrame, tmp_path: Path) -> None:
    folder = compute_baseline(abalone).write(tmp_path)
    document = json.loads((folder / CONSTRAINTS_FILE).read_text())
    document["features"][1]["monitoring_config"]["distribution_constraints"]["comparison_method"] = "ChiSquare"
    (folder / CONSTRAINTS_FILE).write_text(json.dumps(document))
    with pytest.raises(InvalidInput, match="cannot compare Fractional") as caught:
        Baseline.read(folder)
    assert caught.value.field == CONSTRAINTS_FILE
    document["features"][1]["completness"] = 1.0  # a typo is refused, not ignored
    (folder / CONSTRAINTS_FILE).write_text(json.dumps(document))
    with pytest.raises(InvalidInput, match="completness"):
        Baseline.read(folder)
    with pytest.raises(NotFound, match="no statistics.json"):
        Baseline.read(tmp_path / "elsewhere")


def test_a_baseline_from_a_csv_file_equals_one_from_its_frame(abalone: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    abalone.to_csv(path, index=False)
    assert compute_baseline(path).constraints == compute_baseline(abalone).constraints
