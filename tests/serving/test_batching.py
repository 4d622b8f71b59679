"""Micro-batching on a real HTTP server: concurrent requests share model calls, each gets its own answer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from _registry_workers import make_registry
from _server import serving as serving_app
from _serving_models import register

from slipway.models import LoadedModel
from slipway.serving import ServingHost, ServingService, create_inference_app
from slipway.store import Database


def test_concurrent_requests_are_batched_and_answered_apart(
    sqlite_db: Database, tmp_path: Path, package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    predict = LoadedModel.predict
    monkeypatch.setattr(LoadedModel, "predict", lambda self, data: calls.append(len(data)) or predict(self, data))
    registry = make_registry(sqlite_db, tmp_path)
    service = ServingService(sqlite_db, registry)
    service.create_endpoint("e", [{"model": register(registry, package)}])
    host = ServingHost(service, registry, registry._artifacts, max_batch_size=8, max_wait_ms=20)
    bodies = [{"inputs": {"a": [float(i)], "b": [1.0]}} for i in range(40)]
    bodies[7] = {"inputs": {"a": [1.0]}}  # missing b: only this one fails
    bodies[9] = {"inputs": {"a": [1.0, 2.0], "b": [0.0, 0.0]}}  # two rows in one request
    with serving_app(create_inference_app(host, "e")) as url, httpx.Client(base_url=url) as http:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda body: http.post("/invocations", json=body), bodies))
        metrics = http.get("/metrics").text
    host.close()
    assert answers[7].status_code == 400 and answers[7].json()["error"]["field"] == "b"
    assert answers[9].json()["predictions"] == pytest.approx([2.5, 4.5])
    for i, resp in enumerate(answers):
        if i not in (7, 9):
            assert resp.status_code == 200 and resp.json()["predictions"] == pytest.approx([2 * i - 0.5]), i
    assert len({resp.headers.get("x-slipway-inference-id") for resp in answers}) == 40
    assert 'slipway_requests_total{endpoint="e",variant="line-v1"} 39.0' in metrics
    assert sum(calls) == 41 and len(calls) < 30  # 41 rows; most calls answered several requests
