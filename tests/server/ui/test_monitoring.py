"""Monitoring pages without a browser: monitors, schedules, executions, a report's charts, alarms."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from _ui import Browse, UIServer
from _ui_pages import own_backend, page_client
from fastapi.testclient import TestClient

from slipway._backend import Backend
from slipway.automation import RunMonitor
from slipway.monitoring import MonitorExecution

XSS = "<script>alert(1)</script>"


def _frame(seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "length": rng.normal(0.5 + shift, 0.1, 400),
        "sex": rng.choice(["M", "F", "I"] if not shift else ["M", XSS], 400),
    })


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with own_backend(tmp_path_factory.mktemp("ui-monitoring")) as made:
        _seed(made, "")
        yield made


def _seed(backend: Backend, prefix: str) -> MonitorExecution:
    """A baseline, a monitor with an alarm and an hourly schedule, a clean run then a drifted one."""
    backend.monitoring.create_baseline(f"{prefix}shells", _frame(1, 0.0))
    backend.monitoring.create_monitor(f"{prefix}shells-dq", baseline=f"{prefix}shells")
    backend.monitoring.create_alarm(f"{prefix}drifting", monitor=f"{prefix}shells-dq", metric="violations.total",
                                    threshold=0)
    backend.automation.create_schedule(f"{prefix}hourly-shells", "0 * * * *", RunMonitor(f"{prefix}shells-dq"))
    backend.monitoring.run_monitor(f"{prefix}shells-dq", _frame(2, 0.0))
    return backend.monitoring.run_monitor(f"{prefix}shells-dq", _frame(3, 0.4))


@pytest.fixture(scope="module")
def client(backend: Backend) -> Iterator[TestClient]:
    with page_client(backend) as test_client:
        yield test_client


def _executions(backend: Backend) -> list[MonitorExecution]:
    return backend.monitoring.list_executions("shells-dq")  # newest first


def test_the_monitoring_overview(client: TestClient, backend: Backend) -> None:
    page = client.get("/monitoring")
    assert page.status_code == 200
    monitors = page.text.split('id="monitors"')[1].split("</table>")[0]
    newest = _executions(backend)[0]
    assert f'href="/monitoring/shells-dq/executions/{newest.id}"' in monitors
    assert "CompletedWithViolations" in monitors
    assert "hourly-shells" in page.text.split('id="schedules"')[1] and "<code>0 * * * *</code>" in page.text
    alarms = page.text.split('id="alarms"')[1].split("</table>")[0]
    assert "drifting" in alarms and "ALARM" in alarms
    assert "shells:1" in page.text.split('id="baselines"')[1]


def test_a_monitor_with_executions_and_its_alarm_history(client: TestClient, backend: Backend) -> None:
    page = client.get("/monitoring/shells-dq")
    assert page.status_code == 200
    executions = page.text.split('id="executions"')[1].split("</table>")[0]
    assert executions.count("<tr>") == 1 + 2
    counts = [int(c) for c in re.findall(r'<span class="error">(\d+)</span>', executions)]
    assert counts == [_executions(backend)[0].violation_count] and counts[0] > 0
    alarm = page.text.split('id="alarm-drifting"')[1].split("</section>")[0]
    assert "ALARM" in alarm
    assert alarm.count("<polyline") == 2  # the metric at each execution, and the threshold
    assert "violations.total" in alarm and "threshold" in alarm
    changes = alarm.split("state-changes")[1].split("</table>")[0]  # the audit trail, read as admin, newest first
    assert re.findall(r'<span class="badge (\w+)">', changes) == ["OK", "ALARM", "INSUFFICIENT_DATA", "OK"]


def test_a_report_draws_each_feature_baseline_against_current(client: TestClient, backend: Backend) -> None:
    newest = _executions(backend)[0]
    page = client.get(f"/monitoring/shells-dq/executions/{newest.id}")
    assert page.status_code == 200
    violations = page.text.split('id="violations"')[1].split("</table>")[0]
    assert violations.count("<tr>") == 1 + newest.violation_count
    charts = page.text.split('id="feature-charts"')[1]
    for feature in ("length", "sex"):
        card = charts.split(f'data-feature="{feature}"')[1].split('<div class="chart"')[0]
        assert card.count("<svg") == 1 and card.count("<path fill=") == 2  # baseline and current bars
    assert "drifted" in charts.split('data-feature="length"')[1]
    assert "&lt;script&gt;" in page.text and "<script>alert" not in page.text
    report = client.get(f"/monitoring/shells-dq/executions/{newest.id}/files/report.html")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert client.get(f"/monitoring/shells-dq/executions/{newest.id}/files/nope.txt").status_code == 404


@pytest.mark.parametrize(
    "url",
    ["/monitoring/nope", "/monitoring/shells-dq/executions/01nosuchexecution00000000", "/monitoring/x/executions/{id}"],
)
def test_unknown_monitors_and_executions_are_404_pages(client: TestClient, backend: Backend, url: str) -> None:
    answer = client.get(url.format(id=_executions(backend)[0].id))
    assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")


# ------------------------------------------------------------------------------------------ in a browser


@pytest.fixture(scope="module")
def live_report(ui_server: UIServer) -> MonitorExecution:
    """A drifted execution of a monitor on the live server, with an alarm and a schedule."""
    return _seed(ui_server.backend, "ui-mon-")


def test_a_report_page_shows_its_charts(browse: Browse, live_report: MonitorExecution) -> None:
    page = browse.visit(browse.page("viewer"), f"/monitoring/ui-mon-shells-dq/executions/{live_report.id}")
    charts = page.locator("#feature-charts .chart svg")
    assert charts.count() == 2
    for index in range(2):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100
        bars = charts.nth(index).locator("path")
        assert bars.count() == 2 and all(bars.nth(i).bounding_box() for i in range(2))  # baseline and current
    assert page.locator("#violations tr").count() == 1 + live_report.violation_count
    assert "<script…" in page.locator("#feature-charts").inner_text()  # the drifted value, shortened, literal
    monitor = browse.visit(page, "/monitoring/ui-mon-shells-dq")
    assert monitor.locator("#alarm-ui-mon-drifting svg polyline").count() == 2
    assert monitor.locator("#alarm-ui-mon-drifting .state-changes").count() == 0  # a viewer reads no audit trail
    assert "approvers and admins" in monitor.locator("#alarm-ui-mon-drifting").inner_text()
    browse.visit(page, "/monitoring")
