"""Stored bias and explainability reports, attached to model and dataset versions."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from _clarify import register_rings_model

from slipway import Client
from slipway.clarify import Analysis, BiasConfig, ReportKind, bias_metrics
from slipway.errors import InvalidInput, NotFound

pytest.importorskip("sklearn")

ABALONE_BIAS = {"label": "rings", "label_threshold": 10, "facet": "sex"}


def test_a_bias_report_with_a_models_predictions_is_attached_to_the_version(
    client: Client, abalone_data: pd.DataFrame, tmp_path: Path
) -> None:
    model = register_rings_model(client, abalone_data, tmp_path / "m")
    report = client.clarify.run_bias(ABALONE_BIAS, abalone_data, model=model)
    assert report.kind is ReportKind.BIAS and report.model == model and report.dataset is None
    assert report.config["predicted_label"] == "prediction" and report.config["rows"] == len(abalone_data)
    # the stored numbers are those of the metrics on the same data with the same predictions
    scored = abalone_data.assign(prediction=client.registry.load_model(f"models:/{model}").predict(abalone_data))
    expected = bias_metrics(scored, BiasConfig(**ABALONE_BIAS, predicted_label="prediction"))
    stored = json.loads(client.clarify.read_report(report.id))
    assert stored["pre_training_bias_metrics"] == expected["pre_training_bias_metrics"]
    assert stored["post_training_bias_metrics"] == expected["post_training_bias_metrics"]
    assert report.summary["post_training"]["sex=F/DPPL"] == pytest.approx(
        Analysis(expected).bias_values()["sex=F/DPPL"])
    assert client.clarify.read_report(report.id, "report.html").startswith(b"<!doctype html>")
    assert [r.id for r in client.clarify.list_reports(model=model)] == [report.id]
    graph = client.backend.lineage.downstream("model_version", client.registry.get_version("abalone", 1).id, depth=1)
    assert ("clarify_report", report.id) in {n.key for n in graph.nodes}


def test_an_explanation_of_a_registered_dataset(client: Client, abalone_data: pd.DataFrame, tmp_path: Path) -> None:
    pytest.importorskip("shap")
    model = register_rings_model(client, abalone_data, tmp_path / "m")
    client.datasets.register("abalone", abalone_data)
    report = client.clarify.run_explain(model, dataset="abalone", max_rows=40, baseline_rows=10, pdp_features=2)
    assert report.kind is ReportKind.EXPLAINABILITY and report.dataset == "abalone:1"
    assert set(client.clarify.report_files(report.id)) == {"analysis.json", "report.html",
                                                           "explanations_shap/out.csv"}
    analysis = client.clarify.get_analysis(report.id)
    assert len(analysis.global_shap()) == 7 and report.summary["top_features"][0] in analysis.global_shap()
    local = pd.read_csv(pd.io.common.BytesIO(client.clarify.read_report(report.id, "explanations_shap/out.csv")))
    assert local.shape == (40, 7)
    assert [r.id for r in client.clarify.list_reports(dataset="abalone:1")] == [report.id]


def test_bad_requests_name_what_is_wrong(client: Client, abalone_data: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput) as caught:
        client.clarify.run_bias({"label": "rings", "facet": "sex"}, abalone_data)
    assert caught.value.field == "label_values"
    with pytest.raises(InvalidInput, match="either data or a dataset"):
        client.clarify.run_bias(ABALONE_BIAS)
    with pytest.raises(InvalidInput) as caught:
        client.clarify.run_bias(ABALONE_BIAS, abalone_data, model="no-version")
    assert caught.value.field == "model"
    with pytest.raises(NotFound):
        client.clarify.run_bias(ABALONE_BIAS, abalone_data, model="missing/1")
    with pytest.raises(NotFound):
        client.clarify.get_report("nope")
    with pytest.raises(InvalidInput, match="analysis.json"):
        client.clarify.store_report(b'{"hello": 1}')
