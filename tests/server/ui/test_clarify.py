"""Bias and explainability reports in the web UI: on the model version's page (in its model card), on the
dataset version's page, a page of their own, their files; bias and attribution-drift monitors' pages."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import numpy as np
import pandas as pd
import pytest
from _ui import UIServer
from sklearn.linear_model import LinearRegression

from slipway.clarify import ClarifyReport

GROUP = "ui-clarify"


@pytest.fixture(scope="module")
def reports(ui_server: UIServer) -> tuple[ClarifyReport, ClarifyReport]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"length": rng.uniform(0.1, 0.8, 200), "sex": rng.choice(["F", "M", "<b>I</b>"], 200)})
    frame["rings"] = (frame["length"] * 20).round()
    model = LinearRegression().fit(frame[["length"]], frame["rings"])
    backend = ui_server.backend
    version = backend.registry.register_model(GROUP, model, input_example=frame[["length"]].head(2))
    backend.datasets.register("ui-clarify-data", frame)
    ref = f"{GROUP}/{version.version}"
    bias = backend.clarify.run_bias({"label": "rings", "label_threshold": 10, "facet": "sex"},
                                    dataset="ui-clarify-data", model=ref)
    document = {"version": "1.0", "explanations": {"kernel_shap": {"label0": {
        "global_shap_values": {"length": 3.5, "<i>width</i>": 0.5}, "expected_value": 9.0}}}}
    explained = backend.clarify.store_report(json.dumps(document).encode(), model=ref)
    backend.monitoring.create_monitor("ui-bias-drift", kind="ModelBias", report=bias.id, tolerance=0.05)
    scored = frame.assign(prediction=frame["rings"] + np.where(frame["sex"] == "F", 3, 0))
    backend.monitoring.run_monitor("ui-bias-drift", scored)
    return bias, explained


@pytest.fixture(scope="module")
def viewer(ui_server: UIServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ui_server.url, cookies={"slipway_token": ui_server.tokens["viewer"]}, timeout=30) as c:
        yield c


def test_the_version_page_lists_its_reports_in_the_model_card(
    viewer: httpx.Client, reports: tuple[ClarifyReport, ClarifyReport]
) -> None:
    bias, explained = reports
    page = viewer.get(f"/models/{GROUP}/versions/1")
    assert page.status_code == 200
    card = page.text.split('id="model-card"')[1].split("</section>")[0]
    assert "Bias and explainability" in card and 'id="clarify-reports"' in card
    assert f'/clarify/reports/{bias.id}"' in card and f'/clarify/reports/{explained.id}"' in card
    assert "top features: length, &lt;i&gt;width&lt;/i&gt;" in card
    data = viewer.get("/datasets/ui-clarify-data/versions/1")
    assert f'/clarify/reports/{bias.id}"' in data.text and explained.id not in data.text


def test_a_report_page_and_its_offline_files(
    viewer: httpx.Client, reports: tuple[ClarifyReport, ClarifyReport]
) -> None:
    bias, explained = reports
    page = viewer.get(f"/clarify/reports/{bias.id}")
    assert page.status_code == 200 and "Post-training bias" in page.text and "<svg" in page.text
    assert "sex=&lt;b&gt;I&lt;/b&gt;/DPPL" in page.text and "<b>I</b>" not in page.text
    html = viewer.get(f"/clarify/reports/{bias.id}/files/report.html")
    assert html.headers["content-type"].startswith("text/html") and "<script" not in html.text
    assert "&lt;b&gt;I&lt;/b&gt;" in html.text
    analysis = viewer.get(f"/clarify/reports/{explained.id}/files/analysis.json").json()
    assert analysis["explanations"]["kernel_shap"]["label0"]["expected_value"] == 9.0
    assert viewer.get(f"/clarify/reports/{bias.id}/files/../../etc/passwd").status_code == 404
    assert viewer.get("/clarify/reports/nope").status_code == 404


def test_a_bias_drift_monitors_pages(viewer: httpx.Client, reports: tuple[ClarifyReport, ClarifyReport]) -> None:
    bias, _ = reports
    listed = viewer.get("/monitoring")
    assert f'report <a href="/clarify/reports/{bias.id}">' in listed.text
    page = viewer.get("/monitoring/ui-bias-drift")
    assert "ModelBias" in page.text and f'/clarify/reports/{bias.id}"' in page.text and "Tolerance" in page.text
    execution = page.text.split("/monitoring/ui-bias-drift/executions/")[1].split('"')[0]
    report = viewer.get(f"/monitoring/ui-bias-drift/executions/{execution}")
    assert "Post-training bias metrics" in report.text and "bias_drift_check" in report.text
    assert 'class="chart clarify-chart"><svg' in report.text
