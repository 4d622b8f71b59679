"""QualityCheck: data checked against a registered baseline inside a pipeline, failing or warning."""

from __future__ import annotations

import json
from pathlib import Path

import _pipeline_steps as lib
import numpy as np
import pandas as pd
import pytest

from slipway._backend import Backend
from slipway.errors import InvalidInput
from slipway.pipelines import (
    ExecutionStatus,
    FileInput,
    Parameter,
    Pipeline,
    PipelineService,
    ProcessingStep,
    QualityCheckStep,
)
from slipway.store.artifacts import Owner


def _rows(n: int, shift: float = 0.0) -> pd.DataFrame:
    x = np.arange(n, dtype=float) + shift
    return pd.DataFrame({"x": x, "y": 2.0 * x + 1.0})


def test_clean_data_passes_and_drifted_data_fails_or_warns(
    service: PipelineService, backend: Backend, tmp_path: Path
) -> None:
    backend.monitoring.create_baseline("rows-base", _rows(30))
    rows = ProcessingStep("Rows", lib.write_rows, inputs={"n": 30}, outputs=["rows"])
    check = QualityCheckStep("Check", data=rows.outputs["rows"], baseline=Parameter("baseline", str, "rows-base"))
    clean = service.run(Pipeline("quality", [check]))
    assert clean.status is ExecutionStatus.SUCCEEDED, clean.failure_reason
    properties = clean.step("Check").properties
    assert properties["baseline"] == "rows-base:1" and properties["rows"] == 30 and properties["violations"] == 0
    [report] = clean.step("Check").outputs
    names = {i.path.rsplit("/", 1)[-1] for i in backend.artifacts.list(Owner(report.owner_kind, report.owner_id),
                                                                        report.path)}
    assert {"constraint_violations.json", "report.html"} <= names

    drifted = tmp_path / "drifted.csv"
    _rows(30, shift=25.0).assign(extra="z").to_csv(drifted, index=False)
    failing = service.run(Pipeline("quality-fail", [
        QualityCheckStep("Check", data=FileInput(drifted), baseline="rows-base:1")]))
    assert failing.status is ExecutionStatus.FAILED
    step = failing.step("Check")
    assert "violation(s) of baseline rows-base:1" in (step.error or "")
    assert "x: baseline_drift_check" in (step.error or "") and "extra_column_check" in (step.error or "")

    warning = service.run(Pipeline("quality-warn", [
        QualityCheckStep("Check", data=FileInput(drifted), baseline="rows-base", on_violation="warn")]))
    assert warning.status is ExecutionStatus.SUCCEEDED, warning.failure_reason
    warned = warning.step("Check").properties
    assert warned["violations"] > 0 and {"x", "y"} <= set(warned["drifted"])
    assert warned["violation_types"]["extra_column_check"] == 1 and warned["drift"]["x"] > 0.5

    missing = service.run(Pipeline("quality-missing", [
        QualityCheckStep("Check", data=FileInput(drifted), baseline="nope")]))
    assert missing.status is ExecutionStatus.FAILED and "no baseline 'nope'" in (missing.step("Check").error or "")


def test_the_step_round_trips_through_the_json_definition() -> None:
    check = QualityCheckStep("Check", data=FileInput("data.csv"), baseline=Parameter("baseline", str, "b:2"),
                             on_violation="warn")
    pipeline = Pipeline("quality", [check])
    again = Pipeline.from_definition(json.loads(json.dumps(pipeline.definition())))
    assert again.definition() == pipeline.definition()
    [step] = again.definition()["steps"]
    assert (step["type"], step["baseline"], step["on_violation"]) == ("QualityCheck", {"parameter": "baseline"}, "warn")
    with pytest.raises(InvalidInput) as refused:
        Pipeline("bad", [QualityCheckStep("Check", data=FileInput("data.csv"), baseline="b", on_violation="maybe")])
    assert refused.value.field == "steps.Check.on_violation"
