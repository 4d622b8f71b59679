"""Endpoint pages without a browser: variants and their shares, traffic charts, deployments, capture."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _serving_models import register, write_line
from _ui import Browse, UIServer
from _ui_pages import own_backend, page_client
from fastapi.testclient import TestClient

from slipway._backend import Backend
from slipway.serving import Autoscaling, IngressReplicas, TrafficHistory

XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    home: Path = tmp_path_factory.mktemp("ui-endpoints")
    with own_backend(home) as made:
        package = write_line(home / "line")
        first, second = register(made.registry, package), register(made.registry, package)
        made.serving.create_endpoint("line", [{"model": first}], capture={"sampling_percent": 25})
        made.serving.update_endpoint("line", [{"model": first, "weight": 3}, {"model": second, "weight": 1}])
        made.serving.rollback("line", reason=f"{XSS} by hand")
        made.serving.create_endpoint("line-prod", [{"model": second}], production=True)
        yield made


@pytest.fixture(scope="module")
def client(backend: Backend) -> Iterator[TestClient]:
    with page_client(backend) as test_client:
        yield test_client


def test_the_endpoints_list(client: TestClient) -> None:
    page = client.get("/endpoints")
    assert page.status_code == 200
    assert 'href="/endpoints/line"' in page.text and 'href="/models/line/versions/1"' in page.text
    rows = {m[0]: m[1] for m in re.findall(r'<td><a href="/endpoints/([\w-]+)">[^<]*</a>(.*?)</td>', page.text)}
    assert "production" in rows["line-prod"] and "production" not in rows["line"]


def test_an_endpoint_page_shows_variants_deployments_and_capture(client: TestClient, backend: Backend) -> None:
    page = client.get("/endpoints/line")
    assert page.status_code == 200
    variants = page.text.split('id="variants"')[1].split("</table>")[0]
    assert 'href="/models/line/versions/1"' in variants  # the rollback put version 1 back alone
    deployments = page.text.split('id="deployments"')[1].split("</table>")[0]
    assert deployments.count("<tr class=") == len(backend.serving.list_deployments("line"))
    assert "RolledBack" in deployments and "&lt;script&gt;alert(1)&lt;/script&gt; by hand" in deployments
    assert "<script>alert" not in page.text
    capture = page.text.split('id="capture"')[1].split("</div>\n</div>")[0]
    assert "on</span>" in capture and "25% of requests" in capture
    assert client.get("/endpoints/nope").status_code == 404
    variant = f"{backend.serving.get_endpoint('line').id}/line-v1"
    opened = client.get(f"/lineage/endpoint_variant/{variant}/open", follow_redirects=False)
    assert opened.headers["location"] == "/endpoints/line"
    # The lineage of the endpoint: both variants, the one the rollback took out marked retired.
    graph = client.get(f"/lineage/endpoint/{backend.serving.get_endpoint('line').id}").text
    assert graph.count(">endpoint variant</text>") == 1 and graph.count(">endpoint variant · retired</text>") == 1


def test_a_canary_variant_shows_with_its_share_during_the_rollout(client: TestClient, backend: Backend) -> None:
    backend.serving.create_endpoint("rollout", [{"model": "line/1"}])
    backend.serving.update_endpoint("rollout", [{"model": "line/2"}], strategy={"kind": "canary", "share": 0.25})
    variants = client.get("/endpoints/rollout").text.split('id="variants"')[1].split("</table>")[0]
    rows = re.findall(r"<tr( class=\"canary\")?>\s*<td>([\w-]+).*?</td>.*?(\d+)%</td>", variants, re.DOTALL)
    assert rows == [("", "line-v1", "75"), (' class="canary"', "line-v2", "25")]


def test_a_variant_shows_its_replicas_on_ray_serve(client: TestClient, backend: Backend) -> None:
    scaling = {"min_replicas": 1, "max_replicas": 4, "target_ongoing": 2}
    backend.serving.create_endpoint("scaled", [{"model": "line/1", "autoscaling": scaling}])
    ingress = IngressReplicas(running=2, autoscaling=Autoscaling(min_replicas=2, max_replicas=3, target_ongoing=8))
    backend.serving.report_replicas("scaled", {"line-v1": 3}, ingress)  # what slipway serve --engine ray reports
    page = client.get("/endpoints/scaled").text
    assert "3 running; 1-4 replicas, 2 ongoing each" in page.split('id="variants"')[1].split("</table>")[0]
    assert '<span id="ingress-replicas">2 running; 2-3 replicas, 8 ongoing each</span>' in page


def test_traffic_through_the_server_is_charted(client: TestClient, backend: Backend) -> None:
    client.get("/endpoints/line")  # the first look starts the sampling
    history: TrafficHistory = client.app.state.serving_host.traffic()  # type: ignore[attr-defined]
    history.close()  # sample by hand from here on: a test cannot wait for the clock
    start = time.time() + 1000
    history.sample(start)
    body = {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 0.0]]}}
    for _ in range(8):
        assert client.post("/endpoints/line/invocations", json=body).status_code == 200
    history.sample(start + 4)
    points = history.points("line")["line-v1"]
    assert points[-1].requests_per_second == pytest.approx(2.0)
    assert points[-1].error_rate == 0.0 and points[-1].p50_ms is not None
    assert points[-1].p50_ms <= points[-1].p99_ms  # type: ignore[operator]

    traffic = client.get("/endpoints/line/traffic").json()["charts"]
    assert set(traffic) == {"requests", "errors", "latency"}
    assert all(chart.startswith("<svg") for chart in traffic.values())
    assert "<polyline" in traffic["requests"] or "<circle" in traffic["requests"]
    assert "line-v1 p99" in traffic["latency"]
    page = client.get("/endpoints/line")
    assert 'data-traffic-url="/endpoints/line/traffic"' in page.text
    row = page.text.split('id="variants"')[1].split("</table>")[0]
    assert '<td class="num">2</td>' in row  # requests per second in the latest interval
    assert client.get("/endpoints/nope/traffic").status_code == 404


def test_captured_traffic_is_counted_and_downloadable(client: TestClient, backend: Backend) -> None:
    backend.serving.create_endpoint(
        "captured", [{"model": "line/1"}], capture={"sampling_percent": 100, "flush_interval_seconds": 0.2}
    )
    body = {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 0.0]]}}
    sent = [client.post("/endpoints/captured/invocations", json=body) for _ in range(3)]
    ids = [answer.headers["x-slipway-inference-id"] for answer in sent]
    deadline = time.monotonic() + 10
    while sum(f.records or 0 for f in backend.serving.list_capture("captured")) < 3:  # the server keeps running
        assert time.monotonic() < deadline, "the capture interval passed and nothing was stored"
        time.sleep(0.02)
    page = client.get("/endpoints/captured").text
    assert "3 records in" in page.split('id="capture-count"')[1]
    links = re.findall(r'<a href="(/endpoints/captured/capture/capture/[^"]+)"', page)
    assert links
    downloaded = b"".join(client.get(link).content for link in links)
    assert {line["inference_id"] for line in map(json.loads, downloaded.splitlines())} == set(ids)
    assert client.get("/endpoints/captured/capture/model/MLmodel").status_code == 400  # only capture files


# ------------------------------------------------------------------------------------------ in a browser


def test_an_endpoint_page_in_a_browser_redraws_its_charts(browse: Browse, ui_server: UIServer) -> None:
    backend = ui_server.backend
    model = register(backend.registry, write_line(Path(backend.settings.home) / "ui-endpoint-line"), "ui-endpoint-line")
    backend.serving.create_endpoint("ui-endpoint", [{"model": model}], capture={"sampling_percent": 100})
    page = browse.page("viewer")
    with page.expect_response(lambda r: r.url.endswith("/endpoints/ui-endpoint/traffic")):  # the page's script polls
        browse.visit(page, "/endpoints/ui-endpoint")
    assert page.locator('#traffic [data-chart="requests"] svg').count() == 1
    assert page.locator("#capture").inner_text().count("100% of requests") == 1
    browse.visit(page, "/endpoints")
