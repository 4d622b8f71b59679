"""The inference app in process: input shapes, signature errors, traffic split, headers, shadows,
metrics and capture (the endpoints run on SQLite here; the control plane suite covers PostgreSQL)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from _registry_workers import make_registry
from _serving_models import register, write_scaled
from starlette.applications import Starlette
from starlette.testclient import TestClient

from slipway.registry import RegistryService
from slipway.serving import EndpointStatus, ServingHost, ServingService, create_inference_app
from slipway.serving._capture import CAPTURE_PREFIX
from slipway.store import Database
from slipway.store.artifacts import ArtifactStore, Owner

ROW = {"a": 1.0, "b": 2.0}  # y = 2a - b + 0.5 = 0.5


@pytest.fixture
def registry(sqlite_db: Database, tmp_path: Path) -> RegistryService:
    return make_registry(sqlite_db, tmp_path)


@pytest.fixture
def serving(sqlite_db: Database, registry: RegistryService) -> ServingService:
    return ServingService(sqlite_db, registry)


@pytest.fixture
def artifacts(registry: RegistryService) -> ArtifactStore:
    return registry._artifacts


@pytest.fixture
def app_for(serving: ServingService, registry: RegistryService, artifacts: ArtifactStore) -> Callable[[str], Starlette]:
    """The app of ``slipway serve NAME``; leaving ``with TestClient(app)`` shuts it down, flushing capture."""
    return lambda name: create_inference_app(ServingHost(serving, registry, artifacts, poll_seconds=0.05), name)


def _captured(artifacts: ArtifactStore, endpoint_id: str) -> list[dict]:
    owner = Owner("endpoint", endpoint_id)
    lines = []
    for info in artifacts.list(owner, CAPTURE_PREFIX, recursive=True):
        if not info.is_dir:
            lines += artifacts.read_bytes(owner, info.path).decode().splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}},
        {"dataframe_records": [ROW]},
        {"instances": [ROW]},
        {"inputs": {"a": [1.0], "b": [2.0]}},
        {"inputs": [{"b": 2, "a": 1}]},
    ],
)
def test_every_json_shape(app_for, serving, registry, package, body) -> None:
    serving.create_endpoint("e", [{"model": register(registry, package)}])
    with TestClient(app_for("e")) as client:
        resp = client.post("/invocations", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["predictions"] == pytest.approx([0.5])
    assert resp.headers["x-slipway-variant"] == "line-v1" and len(resp.headers["x-slipway-inference-id"]) == 26


def test_csv_health_ready_and_status(app_for, serving, registry, package) -> None:
    serving.create_endpoint("e", [{"model": register(registry, package)}])
    with TestClient(app_for("e")) as client:
        csv = b"a,b\n1,2\n3,1\n"
        resp = client.post("/endpoints/e/invocations", content=csv, headers={"content-type": "text/csv"})
        assert resp.json()["predictions"] == pytest.approx([0.5, 5.5])
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/ready").status_code == 200
        # The cloud stack's container contract: GET /ping, and CSV rows without a header (its CSV serializer's).
        assert client.get("/ping").status_code == 200
        for headerless in ({"content-type": "text/csv"}, {"content-type": "text/csv; header=absent"}):
            resp = client.post("/invocations", content=b"1,2\n3,1\n", headers=headerless)
            assert resp.json()["predictions"] == pytest.approx([0.5, 5.5]), resp.text
    assert serving.get_endpoint("e").status is EndpointStatus.IN_SERVICE


def test_params_reach_a_model_that_takes_them(app_for, serving, registry, package, tmp_path) -> None:
    scaled = registry.register_model("scaled", write_scaled(tmp_path / "scaled"))
    registry.approve("scaled", scaled.version)
    registry.trust_version("scaled", scaled.version, comment="our own pyfunc model")  # it is a cloudpickle
    serving.create_endpoint("e", [{"model": f"scaled/{scaled.version}"}])
    serving.create_endpoint("plain", [{"model": register(registry, package)}])
    rows = {"dataframe_split": {"columns": ["a", "b"], "data": [[2.0, 0.0]]}}
    with TestClient(app_for("e")) as client:
        assert client.post("/invocations", json=rows).json()["predictions"] == [2.0]  # the defaults
        given = client.post("/invocations", json={**rows, "params": {"scale": 3, "offset": 1}})
        assert given.json()["predictions"] == [7.0]
        wrong = client.post("/invocations", json={**rows, "params": {"offset": "one"}})
        assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "params.offset"
        unknown = client.post("/invocations", json={**rows, "params": {"temperature": 0.1}})
        assert unknown.status_code == 400 and "it takes: scale, offset" in unknown.json()["error"]["message"]
        not_an_object = client.post("/invocations", json={**rows, "params": [1]})
        assert not_an_object.status_code == 400 and not_an_object.json()["error"]["field"] == "params"
    with TestClient(app_for("plain")) as client:
        refused = client.post("/invocations", json={**rows, "params": {"scale": 3}})
        assert refused.status_code == 400 and refused.json()["error"]["field"] == "params"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dataframe_records": [{"a": 1.0}]}, "b"),
        ({"dataframe_records": [{"a": 1.0, "b": "x"}]}, "b"),
        ({"rows": [ROW]}, "data"),
        ({"dataframe_split": {"data": [[1]]}}, "dataframe_split"),
    ],
)
def test_bad_input_is_a_400_naming_the_column(app_for, serving, registry, package, body, field) -> None:
    serving.create_endpoint("e", [{"model": register(registry, package)}])
    with TestClient(app_for("e")) as client:
        resp = client.post("/invocations", json=body)
    assert resp.status_code == 400 and resp.json()["error"]["field"] == field


def test_weights_headers_sticky_keys_and_metrics(app_for, serving, registry, package) -> None:
    v1, v2 = register(registry, package), register(registry, package)
    serving.create_endpoint("e", [{"model": v1, "weight": 9}, {"model": v2, "weight": 1}])
    body = {"dataframe_records": [ROW]}
    with TestClient(app_for("e")) as client:
        seen = Counter(client.post("/invocations", json=body).headers["x-slipway-variant"] for _ in range(400))
        pinned = client.post("/invocations", json=body, headers={"X-Slipway-Variant": "line-v2"})
        unknown = client.post("/invocations", json=body, headers={"X-Slipway-Variant": "nope"})
        keyed = {
            client.post("/invocations", json=body, headers={"X-Slipway-Request-Key": "user-7"}).headers[
                "x-slipway-variant"
            ]
            for _ in range(20)
        }
        metrics = client.get("/metrics").text
    assert set(seen) == {"line-v1", "line-v2"} and 0.8 < seen["line-v1"] / 400 < 0.97
    assert pinned.headers["x-slipway-variant"] == "line-v2"
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "x-slipway-variant"
    assert len(keyed) == 1
    assert 'slipway_requests_total{endpoint="e",variant="line-v1"}' in metrics
    assert 'slipway_request_latency_seconds_bucket{endpoint="e",le="+Inf",variant="line-v2"}' in metrics
    assert 'slipway_errors_total{endpoint="e",variant="line-v1"} 0.0' in metrics


def test_shadow_answers_are_captured_not_returned(
    app_for, serving, registry, package, broken_package, artifacts
) -> None:
    live, shadow = register(registry, package), register(registry, broken_package, "broken")
    ep = serving.create_endpoint(
        "e",
        [{"model": live}, {"model": shadow, "shadow": True}],
        capture={"sampling_percent": 100, "max_records_per_file": 3},
    )
    body = {"dataframe_records": [{**ROW, "c": 0.0}]}
    with TestClient(app_for("e")) as client:
        ids = [client.post("/invocations", json=body).headers["x-slipway-inference-id"] for _ in range(5)]
    records = _captured(artifacts, ep.id)
    assert sorted(r["inference_id"] for r in records if not r["shadow"]) == sorted(ids)
    shadows = [r for r in records if r["shadow"]]
    assert len(shadows) == 5 and all("error" in r["response"] for r in shadows)
    first = next(r for r in records if not r["shadow"])
    assert first["request"]["columns"] == ["a", "b", "c"] and first["response"] == pytest.approx([0.5])


def test_sampling_captures_a_share(app_for, serving, registry, package, artifacts) -> None:
    ep = serving.create_endpoint("e", [{"model": register(registry, package)}], capture={"sampling_percent": 30})
    with TestClient(app_for("e")) as client:
        for _ in range(200):
            client.post("/invocations", json={"dataframe_records": [ROW]})
    assert 30 < len(_captured(artifacts, ep.id)) < 95


def test_an_endpoint_created_again_captures_under_its_new_id(app_for, serving, registry, package, artifacts) -> None:
    model = register(registry, package)
    first = serving.create_endpoint("e", [{"model": model}], capture={"sampling_percent": 100})
    with TestClient(app_for("e")) as client:
        client.post("/invocations", json={"dataframe_records": [ROW]})
        serving.delete_endpoint("e")
        second = serving.create_endpoint("e", [{"model": model}], capture={"sampling_percent": 100})
        deadline = time.monotonic() + 10
        while serving.get_endpoint("e").status is not EndpointStatus.IN_SERVICE:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        client.post("/invocations", json={"dataframe_records": [ROW]})
    assert len(_captured(artifacts, first.id)) == 1 and len(_captured(artifacts, second.id)) == 1
