"""Bad requests of every kind get a 4xx with the JSON error body; nothing a client sends is a 500."""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _server import LiveServer, running_server, server_settings


def assert_error(resp: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = resp.json()["error"]
    assert error["code"] and error["message"]
    if field is not None:
        assert error.get("field") == field
    return error


def test_malformed_json_is_400(api: httpx.Client) -> None:
    for raw in (b'{"name": "x"', b"{'name': 'x'}", b'{"name": "x"} trailing', b"\xff\xfe"):
        resp = api.post("/experiments", content=raw, headers={"content-type": "application/json"})
        error = assert_error(resp, 400)
        assert error["code"] == "INVALID_INPUT"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/experiments", {}, "name"),
        ("/experiments", {"name": 5}, "name"),
        ("/experiments", {"name": "x", "tags": ["a"]}, "tags"),
        ("/experiments", {"name": "x", "unknown": 1}, "unknown"),
        ("/experiments", None, "body"),
        ("/experiments", [], "body"),
        ("/runs/search", {"max_results": "ten"}, "max_results"),
        ("/runs/search", {"max_results": 10**30}, "max_results"),
        ("/runs/search", {"experiment_ids": "one"}, "experiment_ids"),
        ("/runs/compare", {"run_ids": []}, "run_ids"),
        ("/runs", {"status": "DONE"}, "status"),
        ("/runs", {"start_time": "yesterday"}, "start_time"),
    ],
)
def test_wrong_shapes_are_422_naming_the_field(api: httpx.Client, path: str, body: Any, field: str) -> None:
    resp = api.post(path, content=json.dumps(body), headers={"content-type": "application/json"})
    assert assert_error(resp, 422, field)["code"] == "INVALID_INPUT"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"key": "loss"}, 422, "value"),
        ({"key": "loss", "value": "high"}, 422, "value"),
        ({"key": "loss", "value": 10**400}, 422, "value"),
        ({"key": "loss", "value": 1, "step": 1.5}, 422, "step"),
        ({"key": "loss", "value": 1, "step": 10**30}, 400, "metric.loss.step"),
        ({"key": "loss", "value": 1, "timestamp": 10**30}, 400, "metric.loss.timestamp"),
        ({"key": "a*b", "value": 1}, 400, "metric.key"),
    ],
)
def test_bad_metrics(api: httpx.Client, run_id: str, body: dict[str, Any], status: int, field: str) -> None:
    assert_error(api.post(f"/runs/{run_id}/metrics", json=body), status, field)


@pytest.mark.parametrize(
    "point",
    [{"key": "loss"}, {"key": "loss", "value": "high"}, {"key": "loss", "value": 1, "step": 1.5},
     {"key": "loss", "value": 1, "unit": "s"}],
)
def test_a_bad_point_in_a_batch_is_422_naming_it(api: httpx.Client, run_id: str, point: dict[str, Any]) -> None:
    points = [{"key": "loss", "value": 0.5, "step": i} for i in range(999)] + [point]
    error = assert_error(api.post(f"/runs/{run_id}/batch", json={"metrics": points}), 422)
    assert error["field"].startswith("metrics.999.")
    assert api.get(f"/runs/{run_id}/metrics/history", params={"key": "loss"}).json() == []  # none stored


@pytest.mark.parametrize(
    "raw",
    [
        b'{"key": "loss", "value": 1' + b"9" * 5000 + b"}",  # past Python's digit limit for int()
        b"[" * 100_000 + b"]" * 100_000,  # past the JSON parser's recursion limit
    ],
)
def test_pathological_json_is_400(api: httpx.Client, run_id: str, raw: bytes) -> None:
    resp = api.post(f"/runs/{run_id}/metrics", content=raw, headers={"content-type": "application/json"})
    assert_error(resp, 400)


def test_lone_surrogates_are_400(api: httpx.Client, run_id: str) -> None:
    resp = api.post(f"/runs/{run_id}/params", content=rb'{"key": "p", "value": "\ud800"}',
                    headers={"content-type": "application/json"})
    assert_error(resp, 400)


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


@pytest.mark.parametrize(
    "body",
    [
        {"filter": "(" * 5000 + "metrics.a > 1" + ")" * 5000},
        {"filter": "not " * 5000 + "metrics.a > 1"},
        {"filter": " or ".join(["metrics.a > 1"] * 5000)},
        {"filter": "params.a IN (" + ", ".join(["'x'"] * 40_000) + ")"},
        {"filter": "start_time > 99999999999999999999999"},
        {"filter": "end_time < 1e999"},
        {"order_by": ["metrics.a"] * 500},
        {"page_token": _token(10**30)},
        {"page_token": _token(-1)},
        {"page_token": "%%%"},
    ],
)
def test_hostile_searches_are_400(api: httpx.Client, body: dict[str, Any]) -> None:
    assert_error(api.post("/runs/search", json=body), 400)


@pytest.mark.parametrize(
    "body",
    [
        {"filter": "params.a = " + "9" * 5000},
        {"filter": "metrics.a > 99999999999999999999999"},
        {"filter": "metrics.a > 1e999 or metrics.b < -1e999"},
        {"filter": "run_id = '\x00'"},
    ],
)
def test_extreme_but_valid_searches_answer(api: httpx.Client, body: dict[str, Any]) -> None:
    resp = api.post("/runs/search", json=body)
    assert resp.status_code == 200, resp.text


def test_times_out_of_range_are_400(api: httpx.Client, run_id: str) -> None:
    assert_error(api.post("/runs", json={"start_time": 10**30}), 400, "start_time")
    assert_error(api.patch(f"/runs/{run_id}", json={"end_time": "0001-01-01T00:00:00+14:00"}), 400, "end_time")
    assert api.get(f"/runs/{run_id}").status_code == 200  # nothing unreadable was stored


def test_unknown_route_is_404_json(api: httpx.Client, live_server: LiveServer) -> None:
    assert assert_error(api.get("/nothing/here"), 404)["code"] == "NOT_FOUND"
    assert_error(httpx.get(f"{live_server.url}/nothing", headers=live_server.headers), 404)
    assert_error(api.get("/runs/no-such-run"), 404, "run_id")


def test_wrong_method_is_405_json(api: httpx.Client) -> None:
    resp = api.put("/experiments", json={})
    assert assert_error(resp, 405)["code"] == "METHOD_NOT_ALLOWED"
    assert "POST" in resp.headers["allow"]


# ---------------------------------------------------------------------------------- path traversal


def _raw_request(server: LiveServer, method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, Any]]:
    """Send ``path`` byte for byte: httpx would resolve ``..`` segments before sending."""
    parts = urllib.parse.urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"content-type": "application/octet-stream", **server.headers})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


@pytest.mark.parametrize(
    "tail",
    ["../../../etc/passwd", "a/../../x", "%2e%2e/x", "%2E%2E%2Fx", "..%2f..%2fx", "a%2f..%2f..%2fx",
     "%2fetc%2fpasswd", "/etc/passwd", "a%5c..%5cx", "x%00y"],
)
@pytest.mark.parametrize("method", ["PUT", "GET"])
def test_artifact_path_traversal_is_400(live_server: LiveServer, run_id: str, tail: str, method: str) -> None:
    status, body = _raw_request(
        live_server, method, f"/api/v1/runs/{run_id}/artifacts/{tail}", b"evil" if method == "PUT" else None
    )
    assert status == 400, body
    assert body["error"]["code"] == "INVALID_INPUT"
    assert body["error"]["field"] == "path"


def test_listing_outside_the_run_is_400(api: httpx.Client, run_id: str) -> None:
    assert_error(api.get(f"/runs/{run_id}/artifacts", params={"path": "../other"}), 400, "prefix")


# ------------------------------------------------------------------------------------------ fuzz

_JUNK: list[Any] = [None, -1, 10**30, 1e308, "", "x" * 10_000, "../..", [], {}, True, "\x00", {"a": [1]}]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of its own: the fuzz deletes and renames whatever it finds."""
    with running_server(server_settings(tmp_path_factory.mktemp("fuzz"))) as server:
        yield server


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, list[str]]]:
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            refs = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            name = refs.get("$ref", "").rsplit("/", 1)[-1]
            props = list(spec["components"]["schemas"].get(name, {}).get("properties", {}))
            yield method.upper(), path, props


def _bodies(props: list[str]) -> Iterator[Any]:
    yield from (None, {}, [], "text", 1)
    for junk in _JUNK:
        yield {p: junk for p in props}
    for prop, junk in itertools.product(props, _JUNK[:4]):
        yield {prop: junk}


# Routes that revoke the token they are called with: each call gets a token of its own to lose.
_SPENDS_THE_TOKEN = {"/api/v1/logout"}


def _spare_token(http: httpx.Client) -> dict[str, str]:
    secret = http.post("/api/v1/tokens", json={"name": "spare"}).raise_for_status().json()["secret"]
    return {"Authorization": f"Bearer {secret}"}


def test_no_request_is_a_500(fuzz_server: LiveServer) -> None:
    with httpx.Client(base_url=fuzz_server.url, headers=fuzz_server.headers, timeout=30) as http:
        spec = http.get("/openapi.json").json()
        run = http.post("/api/v1/runs", json={}).json()
        ids = {"run_id": [run["id"], "nope", "%2e%2e"], "experiment_id": [run["experiment_id"], "nope"],
               "path": ["a.txt", "%2e%2e/x", "", "a/b/"]}
        sent = 0
        for method, template, props in _operations(spec):
            names = [n for n in ids if "{" + n + "}" in template]
            for values in itertools.product(*(ids[n] for n in names)):
                path = template
                for name, value in zip(names, values, strict=True):
                    path = path.replace("{" + name + "}", value)
                for body in _bodies(props):
                    headers = _spare_token(http) if template in _SPENDS_THE_TOKEN else None
                    resp = http.request(method, path, json=body, params={"key": "x", "name": "x", "path": ".."},
                                        headers=headers)
                    sent += 1
                    if resp.status_code == 501:  # MLflow's own status for a call Slipway does not offer
                        assert resp.json()["error_code"] == "NOT_IMPLEMENTED", (method, path, body, resp.text)
                        continue
                    assert resp.status_code < 500, (method, path, body, resp.text)
                    if resp.status_code >= 400:
                        error = resp.json()  # MLflow's routes answer in MLflow's shape, the others in Slipway's
                        code = error.get("error_code") if path.startswith("/api/2.0/") else error["error"]["code"]
                        assert code, (method, path, body, resp.text)
        assert sent > 1000


def test_openapi_spec_is_valid_and_complete(api: httpx.Client, live_server: LiveServer, tmp_path: Path) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    spec = httpx.get(f"{live_server.url}/openapi.json").json()
    validator.validate(spec)
    routes = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    for method, path in [
        ("GET", "/health"), ("GET", "/api/v1/version"),
        ("POST", "/api/v1/experiments"), ("GET", "/api/v1/experiments"), ("GET", "/api/v1/experiments/by-name"),
        ("POST", "/api/v1/experiments/get-or-create"), ("GET", "/api/v1/experiments/{experiment_id}"),
        ("PATCH", "/api/v1/experiments/{experiment_id}"), ("DELETE", "/api/v1/experiments/{experiment_id}"),
        ("POST", "/api/v1/experiments/{experiment_id}/restore"), ("POST", "/api/v1/experiments/{experiment_id}/tags"),
        ("POST", "/api/v1/runs"), ("GET", "/api/v1/runs/{run_id}"), ("PATCH", "/api/v1/runs/{run_id}"),
        ("DELETE", "/api/v1/runs/{run_id}"), ("POST", "/api/v1/runs/{run_id}/end"),
        ("POST", "/api/v1/runs/{run_id}/restore"), ("POST", "/api/v1/runs/{run_id}/metrics"),
        ("GET", "/api/v1/runs/{run_id}/metrics/history"), ("POST", "/api/v1/runs/{run_id}/batch"),
        ("POST", "/api/v1/runs/{run_id}/params"), ("POST", "/api/v1/runs/{run_id}/tags"),
        ("DELETE", "/api/v1/runs/{run_id}/tags"), ("POST", "/api/v1/runs/search"), ("POST", "/api/v1/runs/compare"),
        ("PUT", "/api/v1/runs/{run_id}/artifacts/{path}"), ("GET", "/api/v1/runs/{run_id}/artifacts/{path}"),
        ("GET", "/api/v1/runs/{run_id}/artifacts"),
    ]:
        assert (method, path) in routes
    upload = spec["paths"]["/api/v1/runs/{run_id}/artifacts/{path}"]["put"]
    assert "application/octet-stream" in upload["requestBody"]["content"]
    search = spec["paths"]["/api/v1/runs/search"]["post"]
    assert search["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/RunPage")
    error_ref = search["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
    assert error_ref.endswith("/ErrorBody")


def test_oversized_json_body_is_413(api: httpx.Client, run_id: str) -> None:
    """JSON bodies are parsed in memory, so they are capped; artifact uploads are streamed and are not."""
    point = b'{"key": "a", "value": 1},'
    raw = b'{"metrics": [' + point * ((65 << 20) // len(point)) + b'{"key": "a", "value": 1}]}'
    resp = api.post(f"/runs/{run_id}/batch", content=raw, headers={"content-type": "application/json"})
    assert resp.status_code == 413  # answered by FastAPI's body limit, in plain text
