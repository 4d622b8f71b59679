"""BiasCheck and ExplainabilityCheck gate the abalone pipeline: registered when the checks pass, failed when not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _optional import require

from slipway._backend import Backend
from slipway.errors import InvalidInput
from slipway.pipelines import (
    BiasCheckStep,
    ExecutionStatus,
    ExplainabilityCheckStep,
    Pipeline,
    PipelineService,
    StepStatus,
)
from slipway.store.artifacts import Owner

require("shap", extra="clarify")
pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parents[2]


def test_both_checks_gate_the_abalone_pipeline(
    service: PipelineService, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # `examples` is imported from the repository's root, as a user would
    monkeypatch.syspath_prepend(str(ROOT))
    from examples.abalone.checked import checked_pipeline

    passed = service.run(checked_pipeline())
    assert passed.status is ExecutionStatus.SUCCEEDED, passed.failure_reason
    bias = passed.step("CheckAbaloneBias").properties
    assert bias["violations"] == 0 and 0.3 < bias["metrics"]["sex_I=1/DPPL"] < 0.75
    assert bias["metrics"]["sex_I=1/DPL"] > 0.2  # infants rarely have more than ten rings
    attributions = passed.step("CheckAbaloneAttributions").properties
    assert attributions["ndcg"] is None and len(attributions["top_features"]) == 10
    [report] = passed.step("CheckAbaloneBias").outputs
    files = {i.path.rsplit("/", 1)[-1] for i in backend.artifacts.list(Owner(report.owner_kind, report.owner_id),
                                                                         report.path, recursive=True)}
    assert {"analysis.json", "report.html", "constraint_violations.json"} <= files
    version = passed.step("RegisterAbaloneModel").properties["version"]

    # a bound the model breaks: the bias check fails and nothing more is registered
    strict = service.run(checked_pipeline(dppl_bound=0.3))
    assert strict.status is ExecutionStatus.FAILED
    assert "DPPL" in (strict.step("CheckAbaloneBias").error or "")
    assert strict.step("RegisterAbaloneModel").status is not StepStatus.SUCCEEDED

    # a baseline whose ranking the model does not keep: the attribution check fails
    reversed_ranking = {"version": "1.0", "explanations": {"kernel_shap": {"label0": {
        "global_shap_values": {f: float(i) for i, f in enumerate(attributions["top_features"])},
        "expected_value": 0.0}}}}
    baseline = backend.clarify.store_report(json.dumps(reversed_ranking).encode(), model=f"abalone/{version}")
    drifted = service.run(checked_pipeline(attribution_baseline=f"abalone/{version}"))
    assert drifted.status is ExecutionStatus.FAILED
    assert "nDCG" in (drifted.step("CheckAbaloneAttributions").error or "")
    assert baseline.model == f"abalone/{version}"
    kept = service.run(checked_pipeline(attribution_baseline=_same(backend, attributions)))
    assert kept.status is ExecutionStatus.SUCCEEDED, kept.failure_reason
    assert kept.step("CheckAbaloneAttributions").properties["ndcg"] == pytest.approx(1.0)


def _same(backend: Backend, attributions: dict) -> str:
    """A stored report holding the ranking the pipeline's model has."""
    document = {"version": "1.0", "explanations": {"kernel_shap": {"label0": {
        "global_shap_values": attributions["global_shap_values"], "expected_value": 0.0}}}}
    return backend.clarify.store_report(json.dumps(document).encode()).id


def test_bad_check_steps_are_refused_when_defined() -> None:
    with pytest.raises(InvalidInput) as caught:
        BiasCheckStep("B", data="x.csv", config={"label": "y", "facet": "f"}).check()
    assert caught.value.field == "steps.B.config"
    with pytest.raises(InvalidInput) as caught:
        BiasCheckStep("B", data="x.csv", config={"label": "y", "label_values": [1], "facet": "f"},
                      on_violation="ignore").check()
    assert caught.value.field == "steps.B.on_violation"
    with pytest.raises(InvalidInput) as caught:
        ExplainabilityCheckStep("E", data="x.csv", model=None).check()
    assert caught.value.field == "steps.E.model"


def test_the_checks_survive_their_stored_definition(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    from examples.abalone.checked import checked_pipeline

    original = checked_pipeline(dppl_bound=0.4, attribution_baseline="abalone/2")
    again = Pipeline.from_definition(original.definition())
    assert again.definition() == original.definition()
    steps = {s["name"]: s for s in again.definition()["steps"]}
    assert steps["CheckAbaloneBias"]["bounds"] == {"DPPL": 0.4}
    assert steps["CheckAbaloneAttributions"]["baseline"] == {"value": "abalone/2"}
