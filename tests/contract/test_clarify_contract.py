"""Bias and explainability reports, embedded and remote: the same calls, records and errors.

Remote: a report on a table is computed on the caller's machine (with the model version downloaded
from the server's registry) and only analysis.json travels; one on a registered dataset is computed
by the server.
"""

from __future__ import annotations

import uuid
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
from _clarify import register_rings_model
from _optional import require

from slipway import Client
from slipway.clarify import ReportKind
from slipway.errors import InvalidInput, NotFound
from slipway.monitoring import ExecutionStatus

pytest.importorskip("sklearn")
require("shap", extra="clarify")

BIAS = {"label": "rings", "label_threshold": 10, "facet": "sex"}


@pytest.fixture(scope="module")
def abalone() -> pd.DataFrame:
    with resources.files("slipway._data").joinpath("abalone.csv").open("rb") as handle:
        return pd.read_csv(handle).head(1500)


def test_bias_and_explanation_reports_and_a_bias_drift_monitor(
    client: Client, abalone: pd.DataFrame, tmp_path: Path
) -> None:
    group = f"clarify-{uuid.uuid4().hex[:8]}"
    model = register_rings_model(client, abalone, tmp_path / "m", group=group)
    clarify = client.clarify
    on_table = clarify.run_bias(BIAS, abalone, model=model, methods=["CI", "DPL", "DPPL", "DI"])
    assert on_table.kind is ReportKind.BIAS and on_table.model == model
    assert on_table.summary["pre_training"]["sex=M/CI"] == pytest.approx(0.27, abs=0.03)
    assert set(on_table.summary["post_training"]) == {f"sex={s}/{m}" for s in "MFI" for m in ("DPPL", "DI")}

    dataset = f"clarify-{uuid.uuid4().hex[:8]}"
    client.datasets.register(dataset, abalone)
    on_dataset = clarify.run_bias(BIAS, dataset=dataset, model=model, methods=["CI", "DPL", "DPPL", "DI"])
    assert on_dataset.dataset == f"{dataset}:1"
    assert on_dataset.summary == on_table.summary  # the same data gives the same numbers, wherever computed

    explained = clarify.run_explain(model, abalone, max_rows=30, baseline_rows=10, pdp_features=1)
    assert explained.kind is ReportKind.EXPLAINABILITY and len(explained.summary["top_features"]) == 7
    assert clarify.get_analysis(explained.id).global_shap().keys() == set(explained.config["features"])
    assert {r.id for r in clarify.list_reports(model=model)} == {on_table.id, on_dataset.id, explained.id}
    assert "report.html" in clarify.report_files(on_table.id)
    assert clarify.read_report(on_table.id, "report.html").startswith(b"<!doctype html>")

    monitor = f"bias-{uuid.uuid4().hex[:8]}"
    client.monitoring.create_monitor(monitor, kind="ModelBias", report=on_table.id, tolerance=0.05)
    assert client.monitoring.get_monitor(monitor).bias_config == BIAS | {"predicted_label": "prediction"}
    scored = abalone.assign(prediction=abalone["rings"].where(abalone["sex"] != "F", 5))
    run = client.monitoring.run_monitor(monitor, scored)
    assert run.status is ExecutionStatus.COMPLETED_WITH_VIOLATIONS
    assert "bias.sex=F/DPPL" in run.metrics

    with pytest.raises(NotFound):
        clarify.get_report("01nosuchreport0000000000000")
    with pytest.raises(InvalidInput) as caught:
        clarify.run_bias({"label": "rings", "facet": "sex"}, abalone)
    assert caught.value.field == "label_values"
    with pytest.raises(InvalidInput, match="analysis.json"):
        clarify.store_report(b'{"not": "a report"}')
