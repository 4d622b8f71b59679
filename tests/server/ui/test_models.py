"""Model registry pages: groups, a group's versions, a version with its approval control, versions compared."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import numpy as np
import pandas as pd
import pytest
from _ui import Browse, UIServer
from sklearn.linear_model import LinearRegression

from slipway.models import ModelCard
from slipway.registry import ModelVersion
from slipway.server.ui import _models as models_pages

XSS = "<script>alert(1)</script>"
GROUP = "ui-abalone"


@pytest.fixture(scope="module")
def versions(ui_server: UIServer) -> list[ModelVersion]:
    """Three versions (registered by the local user, so the UI's approver is a second pair of eyes)."""
    frame = pd.DataFrame({"length": np.linspace(0.1, 0.8, 20), "rings": np.arange(20, dtype=float)})
    model = LinearRegression().fit(frame[["length"]], frame["rings"])
    registry = ui_server.backend.registry
    made = [
        registry.register_model(
            GROUP, model, input_example=frame[["length"]].head(2), metrics={"rmse": {"value": 2.25, "std": 0.125}},
            description=f"{XSS} first line\nsecond line",
            model_card=ModelCard(intended_use=XSS, evaluation={"rmse": 2.25}),
        ),
        registry.register_model(GROUP, model, metrics={"rmse": 2.5}, description="rejected one"),
        registry.register_model(GROUP, model, metrics={"rmse": 2.0}, description="the candidate"),
    ]
    registry.reject(GROUP, 2, comment="worse")
    return made


@pytest.fixture(scope="module")
def viewer(ui_server: UIServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ui_server.url, cookies={"slipway_token": ui_server.tokens["viewer"]}, timeout=30) as c:
        yield c


def test_the_groups_list(viewer: httpx.Client, versions: list[ModelVersion]) -> None:
    page = viewer.get("/models")
    assert f'<a href="/models/{GROUP}">{GROUP}</a>' in page.text
    assert viewer.get("/models", params={"name": "no-such"}).text.count(f"/models/{GROUP}") == 0


def test_a_groups_versions_table(viewer: httpx.Client, versions: list[ModelVersion]) -> None:
    page = viewer.get(f"/models/{GROUP}")
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", page.text.split('id="versions"')[1])
    assert headers == ["", "Version", "Stage", "Status", "Short description", "Modified by", "Last modified"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; first line" in page.text and "second line" not in page.text
    statuses = re.findall(r'<td><span class="badge [^"]+">([^<]+)</span></td>', page.text)
    assert statuses == ["PendingManualApproval", "Rejected", "PendingManualApproval"]
    filtered = viewer.get(f"/models/{GROUP}", params={"filter": "metrics.rmse < 2.1"})
    assert re.findall(r'/versions/(\d+)">', filtered.text) == ["3"]
    bad = viewer.get(f"/models/{GROUP}", params={"filter": "rmse <<"})
    assert 'id="filter-error"' in bad.text


def test_versions_page_by_version_number(
    viewer: httpx.Client, versions: list[ModelVersion], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models_pages, "VERSIONS_PER_PAGE", 2)
    first = viewer.get(f"/models/{GROUP}")
    assert re.findall(r'/versions/(\d+)">', first.text) == ["3", "2"]
    older = re.search(r'<a href="([^"]+)" id="older-page">', first.text)
    assert older and "before=2" in older.group(1)
    second = viewer.get(f"/models/{GROUP}" + older.group(1).replace("&amp;", "&"))
    assert re.findall(r'/versions/(\d+)">', second.text) == ["1"]
    assert 'id="older-page"' not in second.text and 'id="newest-page"' in second.text


def test_a_version_page_has_its_status_bar_metrics_card_signature_and_history(
    viewer: httpx.Client, versions: list[ModelVersion]
) -> None:
    page = viewer.get(f"/models/{GROUP}/versions/1").text
    bar = page.split('id="statusbar"')[1].split("</div>\n</div>")[0]
    for label in ("Status", "Pipeline", "Execution", "Stage", "Group"):
        assert f"<small>{label}</small>" in bar
    assert re.search(r"<td>rmse</td><td class=\"num\">2.25</td><td class=\"num\">0.125</td>", page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.split('id="model-card"')[1]
    assert "<td>length</td><td>double</td>" in page.split('id="signature"')[1]
    assert "/lineage/model_version/" in page
    assert 'id="update-status"' not in page  # a viewer gets no control
    rejected = viewer.get(f"/models/{GROUP}/versions/2").text
    assert "worse" in rejected.split('id="history"')[1]


def test_unknown_versions_and_bad_numbers_are_html_errors(viewer: httpx.Client, versions: list[ModelVersion]) -> None:
    assert viewer.get(f"/models/{GROUP}/versions/99").status_code == 404
    assert viewer.get(f"/models/{GROUP}/versions/one").status_code == 400
    assert viewer.get("/models/nothing-here").status_code == 404


def test_a_viewer_cannot_post_a_decision_even_with_a_valid_form(
    viewer: httpx.Client, versions: list[ModelVersion]
) -> None:
    viewer.get(f"/models/{GROUP}/versions/3")
    form = {"csrf_token": viewer.cookies["slipway_csrf"], "decision": "approve",
            "expected_status": "PendingManualApproval"}
    refused = viewer.post(f"/models/{GROUP}/versions/3/status", data=form)
    assert refused.status_code == 403
    assert viewer.get(f"/models/{GROUP}/versions/3").text.count("PendingManualApproval") >= 1


def test_a_decision_without_the_csrf_token_is_refused(ui_server: UIServer, versions: list[ModelVersion]) -> None:
    with httpx.Client(base_url=ui_server.url, cookies={"slipway_token": ui_server.tokens["approver"]}) as client:
        answer = client.post(f"/models/{GROUP}/versions/3/status",
                             data={"decision": "approve", "expected_status": "PendingManualApproval"})
    assert answer.status_code == 403 and "CSRF" in answer.text
    assert ui_server.backend.registry.get_version(GROUP, 3).status == "PendingManualApproval"


def test_compare_versions(viewer: httpx.Client, versions: list[ModelVersion]) -> None:
    page = viewer.get(f"/models/{GROUP}/compare", params={"version": [1, 3]})
    assert page.status_code == 200
    assert "2.25 ± 0.12" in page.text and ">2</td>" in page.text
    assert viewer.get(f"/models/{GROUP}/compare", params={"version": [1]}).status_code == 400


def test_an_approver_approves_the_pending_version_and_sees_it(browse: Browse, versions: list[ModelVersion]) -> None:
    page = browse.visit(browse.page("approver"), "/")
    page.locator("#pending").get_by_role("link", name=f"{GROUP} v3").click()
    assert page.locator("#status").inner_text() == "PendingManualApproval"
    page.fill("#update-status textarea[name=comment]", f"fine by me {XSS}")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state()
    assert page.locator("#status").inner_text() == "Approved"
    assert page.locator("#history tr:nth-child(2) td:nth-child(5)").inner_text() == f"fine by me {XSS}"
    assert page.locator("#history tr:nth-child(2) td:nth-child(4)").inner_text() == "ui-approver"
    browse.screenshot(page, "approved")


def test_a_viewer_sees_no_update_status_control(browse: Browse, versions: list[ModelVersion]) -> None:
    page = browse.visit(browse.page("viewer"), f"/models/{GROUP}/versions/1")
    assert page.locator("#statusbar").is_visible()
    assert page.locator("#update-status").count() == 0
    assert page.get_by_role("button", name="Approve").count() == 0
