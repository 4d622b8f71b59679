"""Bounded cost before authorization (issue 15, item 8), against a live server.

A caller without the right is refused before its body is read (a viewer's three 61 MB batches once
took the server to 4.2 GB before the 403); JSON nested deeper than the limit is a 400 on every
route that parses JSON (10,000 levels were a 500 on the MLflow routes and on inference).
"""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import httpx
import pytest
from _server import LiveServer

from slipway import load_settings
from slipway._backend import Backend
from slipway._limits import MAX_COMMENT, MAX_DESCRIPTION, MAX_JSON_DEPTH
from slipway.pipelines import Pipeline
from slipway.pipelines.steps import WaitStep
from slipway.security import Permission
from slipway.server import create_app
from slipway.server._guard import RouteIndex, RoutePolicy

TIMEOUT = 30
ANSWER_WITHIN_S = 20  # the refusal must come while most of the body is still unsent


@pytest.fixture(scope="module")
def viewer_token(hardened: LiveServer) -> str:
    with httpx.Client(base_url=f"{hardened.url}/api/v1", headers=hardened.headers, timeout=TIMEOUT) as admin:
        name = f"viewer-{uuid.uuid4().hex[:8]}"
        admin.post("/users", json={"name": name, "roles": ["viewer"]}).raise_for_status()
        return str(admin.post("/tokens", json={"user": name}).raise_for_status().json()["secret"])


def _status_before_the_body_is_sent(server: LiveServer, token: str, method: str, path: str, declared: int) -> int:
    """Send the headers of a ``declared``-byte body and its first 1 KiB only; return the status answered.

    A server that reads the body before checking the caller waits for bytes that never come, and
    the read times out: the refusal must come first.
    """
    host, port = server.url.removeprefix("http://").split(":")
    head = (f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n")
    with socket.create_connection((host, int(port)), timeout=ANSWER_WITHIN_S) as conn:
        conn.sendall(head.encode() + b'{"metrics": [' + b" " * 1024)
        status_line = conn.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


@pytest.mark.parametrize(("method", "path", "declared"), [
    ("POST", "/api/v1/runs/{run}/batch", 60_000),
    ("POST", "/api/2.0/mlflow/runs/log-batch", 60_000),
    ("POST", "/ajax-api/2.0/mlflow/runs/log-batch", 60_000),
    ("PUT", "/api/v1/runs/{run}/artifacts/big.bin", 250_000),  # an upload: streamed, yet not for a viewer
    ("POST", "/api/v1/users", 60_000),
])
def test_a_refused_caller_is_answered_before_its_body_is_read(
    hardened: LiveServer, viewer_token: str, run_id: str, method: str, path: str, declared: int
) -> None:
    status = _status_before_the_body_is_sent(hardened, viewer_token, method, path.format(run=run_id), declared)
    assert status == 403


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/runs", '{"tags": {"a": %s}}'),
    ("/api/v1/pipelines", '{"definition": %s}'),
    ("/api/2.0/mlflow/runs/log-batch", '{"run_id": "x", "metrics": %s}'),
    ("/ajax-api/2.0/mlflow/experiments/create", '{"name": %s}'),
])
def test_deeply_nested_json_is_a_400_naming_the_limit(hardened: LiveServer, path: str, body: str) -> None:
    resp = httpx.post(f"{hardened.url}{path}", content=body % _deep(10_000), timeout=TIMEOUT,
                      headers={**hardened.headers, "Content-Type": "application/json"})
    assert resp.status_code == 400, resp.text
    assert f"{MAX_JSON_DEPTH} levels" in resp.text


def test_nesting_up_to_the_limit_is_served(hardened: LiveServer) -> None:
    resp = httpx.post(f"{hardened.url}/api/2.0/mlflow/experiments/search", timeout=TIMEOUT, headers=hardened.headers,
                      json={"max_results": 10, "unused": [[[[1]]]]})
    assert resp.status_code == 200, resp.text


def test_deeply_nested_json_to_an_endpoint_is_a_400(hardened: LiveServer) -> None:
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    with hardened.client() as client:
        version = client.registry.register_model("deep", model)
        client.serving.create_endpoint("deep", [{"model": f"deep/{version.version}"}], force=True)
    url = f"{hardened.url}/endpoints/deep/invocations"
    ok = httpx.post(url, json={"inputs": [[0.5]]}, headers=hardened.headers, timeout=TIMEOUT)
    assert ok.status_code == 200, ok.text
    resp = httpx.post(url, content=f'{{"inputs": {_deep(10_000)}}}', timeout=TIMEOUT,
                      headers={**hardened.headers, "Content-Type": "application/json"})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "INVALID_INPUT"


# ------------------------------------------------------------------------------ free-text limits

TOO_LONG = "d" * (MAX_DESCRIPTION + 1)  # well under the body limit: the service, not the size, refuses


def _description_calls(api: httpx.Client, hardened: LiveServer) -> dict[str, httpx.Response]:
    """Every face that takes a description, sent one a character too long."""
    name = f"long-{uuid.uuid4().hex[:8]}"
    experiment = api.post("/experiments", json={"name": f"{name}-e"}).json()["id"]
    api.post("/model-groups", json={"name": f"{name}-g"}).raise_for_status()
    (Path(hardened.settings.dataset_roots[0]) / f"{name}.csv").write_text("a,b\n1,2\n")  # type: ignore[index]
    definition = {**Pipeline(f"{name}-p", [WaitStep("Wait")], description="short").definition(),
                  "description": TOO_LONG}
    mlflow = f"{hardened.url}/api/2.0/mlflow/registered-models/create"
    return {
        "POST /experiments": api.post("/experiments", json={"name": name, "description": TOO_LONG}),
        "PATCH /experiments/{id}": api.patch(f"/experiments/{experiment}", json={"description": TOO_LONG}),
        "POST /model-groups": api.post("/model-groups", json={"name": name, "description": TOO_LONG}),
        "PATCH /model-groups/{name}": api.patch(f"/model-groups/{name}-g", json={"description": TOO_LONG}),
        "POST /pipelines": api.post("/pipelines", json={"definition": definition}),
        "POST /datasets/{name}/versions/from-uri": api.post(
            f"/datasets/{name}/versions/from-uri",
            json={"uri": str(Path(hardened.settings.dataset_roots[0]) / f"{name}.csv"),  # type: ignore[index]
                  "format": "csv", "description": TOO_LONG}),
        "MLflow registered-models/create": httpx.post(mlflow, json={"name": name, "description": TOO_LONG},
                                                      headers=hardened.headers, timeout=TIMEOUT),
    }


def test_a_description_over_the_limit_is_refused_by_every_face(api: httpx.Client, hardened: LiveServer) -> None:
    answers = _description_calls(api, hardened)
    wrong = {call: f"{r.status_code} {r.text[:200]}" for call, r in answers.items()
             if r.status_code != 400 or f"{MAX_DESCRIPTION:,}" not in r.text}
    assert not wrong
    audit = api.get("/audit", params={"limit": 200}).text
    assert TOO_LONG not in audit  # nothing of it reached the audit trail


def test_a_rollback_reason_over_the_limit_is_refused(api: httpx.Client) -> None:
    resp = api.post("/endpoints/none-such/rollback", json={"reason": "r" * (MAX_COMMENT + 1)})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["field"] == "reason"


def test_a_description_at_the_limit_is_kept(api: httpx.Client) -> None:
    resp = api.post("/experiments", json={"name": f"long-{uuid.uuid4().hex[:8]}", "description": TOO_LONG[:-1]})
    assert resp.status_code == 201, resp.text
    assert resp.json()["description"] == TOO_LONG[:-1]


def test_the_sdk_is_held_to_the_same_limit(tmp_path: Path) -> None:
    from slipway import InvalidInput

    backend = Backend(load_settings(env={}, cwd=tmp_path, home=str(tmp_path)))
    try:
        with pytest.raises(InvalidInput, match="description") as refused:
            backend.tracking.create_experiment("embedded", description=TOO_LONG)
        assert refused.value.field == "description"
    finally:
        backend.close()


# ------------------------------------------------------------------------- what routes declare


@pytest.fixture(scope="module")
def declared(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[frozenset[str], RoutePolicy]]:
    home = tmp_path_factory.mktemp("declared")
    backend = Backend(load_settings(env={}, cwd=home, home=str(home)))
    try:
        app = create_app(backend)
        return RouteIndex().policies(app.routes)
    finally:
        backend.close()


def _needs_declaration(methods: frozenset[str], path: str) -> bool:
    """API routes, MLflow's, inference, and every route that takes a body."""
    api = path.startswith(("/api/", "/ajax-api/")) or path.endswith("/invocations") or path == "/metrics"
    return api or bool(methods - {"GET", "HEAD", "OPTIONS"})


def test_every_route_declares_what_it_needs_before_its_body_is_read(
    declared: list[tuple[frozenset[str], RoutePolicy]],
) -> None:
    missing = [f"{sorted(m)} {p.path}" for m, p in declared if _needs_declaration(m, p.path) and not p.declared]
    assert not missing, "declare dependencies=[needs(...)] on these routes (slipway.server._guard)"


def test_a_declaration_is_checked_even_without_the_guard() -> None:
    """``needs`` is also a dependency: an app built without the middleware still checks it."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from slipway._principal import Principal, acting_as
    from slipway.server._errors import install_error_handlers
    from slipway.server._guard import needs

    app = FastAPI()
    install_error_handlers(app)

    @app.post("/w", dependencies=[needs(Permission.WRITE)])
    def write() -> dict[str, bool]:
        return {"ok": True}

    with acting_as(Principal("v", frozenset({"viewer"}))), TestClient(app) as http:
        assert http.post("/w").status_code == 403
