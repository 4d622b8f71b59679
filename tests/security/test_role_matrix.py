"""Every REST route × every role: allowed or refused (403) exactly as the permission table says.

The table names the permission each ``/api/v1`` route needs; a role may call it if its
permissions (``slipway.security.ROLE_PERMISSIONS``) include that one. A route missing from the
table fails the test, so each new route must be classified here. Requests carry the smallest
valid body and query the OpenAPI spec describes, so the refusal, not a validation error, is what
a refused role meets; "allowed" means anything but 401 and 403 (an unknown id is a fine 404).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _secured import SecuredApp, secured
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from slipway._principal import ROLES
from slipway.pipelines import Pipeline
from slipway.pipelines.steps import WaitStep
from slipway.security import ROLE_PERMISSIONS, Permission
from slipway.server._guard import OPEN, RouteIndex

__all__ = ["secured"]

R, W, A, D, AUD, ADM, INV = (Permission.READ, Permission.WRITE, Permission.APPROVE, Permission.DEPLOY_PRODUCTION,
                             Permission.AUDIT, Permission.ADMIN, Permission.INVOKE)
SIGNED_IN = None  # any valid token, whatever its roles

MATRIX: dict[tuple[str, str], Permission | None] = {
    ("GET", "/version"): SIGNED_IN,
    # tracking
    ("POST", "/experiments"): W,
    ("GET", "/experiments"): R,
    ("POST", "/experiments/get-or-create"): W,
    ("GET", "/experiments/by-name"): R,
    ("GET", "/experiments/{experiment_id}"): R,
    ("PATCH", "/experiments/{experiment_id}"): W,
    ("DELETE", "/experiments/{experiment_id}"): W,
    ("POST", "/experiments/{experiment_id}/restore"): W,
    ("POST", "/experiments/{experiment_id}/tags"): W,
    ("POST", "/runs"): W,
    ("POST", "/runs/search"): R,
    ("POST", "/runs/compare"): R,
    ("GET", "/runs/{run_id}"): R,
    ("PATCH", "/runs/{run_id}"): W,
    ("DELETE", "/runs/{run_id}"): W,
    ("POST", "/runs/{run_id}/end"): W,
    ("POST", "/runs/{run_id}/restore"): W,
    ("POST", "/runs/{run_id}/metrics"): W,
    ("GET", "/runs/{run_id}/metrics/history"): R,
    ("POST", "/runs/{run_id}/batch"): W,
    ("POST", "/runs/{run_id}/inputs"): W,
    ("POST", "/runs/{run_id}/params"): W,
    ("POST", "/runs/{run_id}/tags"): W,
    ("DELETE", "/runs/{run_id}/tags"): W,
    ("PUT", "/runs/{run_id}/artifacts/{path}"): W,
    ("GET", "/runs/{run_id}/artifacts/{path}"): R,
    ("GET", "/runs/{run_id}/artifacts"): R,
    # registry
    ("GET", "/models/resolve"): R,
    ("POST", "/model-groups"): W,
    ("GET", "/model-groups"): R,
    ("GET", "/model-groups/{group}"): R,
    ("PATCH", "/model-groups/{group}"): W,
    ("POST", "/model-groups/{group}/rename"): W,
    ("DELETE", "/model-groups/{group}"): W,  # an approved or protected version in it needs approve too
    ("DELETE", "/model-groups/{group}/tags"): W,
    ("POST", "/model-groups/{group}/compare"): R,
    ("POST", "/model-groups/{group}/versions"): W,
    ("GET", "/model-groups/{group}/versions"): R,
    ("GET", "/model-groups/{group}/versions/latest"): R,
    ("GET", "/model-groups/{group}/versions/{version}"): R,
    ("PATCH", "/model-groups/{group}/versions/{version}"): W,
    ("DELETE", "/model-groups/{group}/versions/{version}"): W,  # an approved or protected one needs approve too
    ("DELETE", "/model-groups/{group}/versions/{version}/tags"): W,
    ("POST", "/model-groups/{group}/versions/{version}/status"): A,
    ("POST", "/model-groups/{group}/versions/{version}/trust"): ADM,
    ("DELETE", "/model-groups/{group}/versions/{version}/trust"): ADM,
    ("GET", "/model-groups/{group}/versions/{version}/status-history"): R,
    ("POST", "/model-groups/{group}/versions/{version}/archive"): W,
    ("POST", "/model-groups/{group}/versions/{version}/unarchive"): W,
    ("GET", "/model-groups/{group}/aliases/{alias}"): R,
    ("PUT", "/model-groups/{group}/aliases/{alias}"): A,  # the alias sent is "prod", a protected one
    ("DELETE", "/model-groups/{group}/aliases/{alias}"): A,
    ("GET", "/model-groups/{group}/aliases/{alias}/history"): R,
    ("GET", "/model-groups/{group}/aliases/{alias}/at"): R,
    ("POST", "/model-versions/search"): R,
    ("GET", "/model-versions/{version_id}"): R,
    ("GET", "/model-versions/{version_id}/files"): R,
    ("PUT", "/model-versions/{version_id}/files/{path}"): W,
    ("GET", "/model-versions/{version_id}/files/{path}"): R,
    # serving (the endpoint sent is not a production one)
    ("GET", "/endpoints"): R,
    ("POST", "/endpoints"): W,
    ("GET", "/endpoints/{name}"): R,
    ("PATCH", "/endpoints/{name}"): R,  # the least: what the change needs is known only once the endpoint is read
    ("DELETE", "/endpoints/{name}"): R,
    ("POST", "/endpoints/{name}/rollback"): R,
    ("GET", "/endpoints/{name}/deployments"): R,
    ("POST", "/endpoints/{name}/ground-truth"): W,
    ("GET", "/endpoints/{name}/ground-truth"): R,
    ("GET", "/endpoints/{name}/capture"): R,
    ("GET", "/endpoints/{name}/capture/{path}"): R,
    ("POST", "/transforms"): W,
    ("GET", "/jobs/{job_id}"): R,  # the caller's own jobs only (an admin's: every job)
    # datasets
    ("GET", "/datasets"): R,
    ("GET", "/datasets/{name}"): R,
    ("POST", "/datasets/{name}/versions"): W,
    ("GET", "/datasets/{name}/versions"): R,
    ("POST", "/datasets/{name}/versions/from-uri"): W,
    ("GET", "/datasets/{name}/latest"): R,
    ("GET", "/datasets/{name}/versions/{version}"): R,
    ("GET", "/datasets/{name}/versions/{version}/statistics"): R,
    ("GET", "/datasets/{name}/versions/{version}/data"): R,
    ("GET", "/datasets/{name}/diff"): R,
    ("POST", "/datasets/{name}/versions/{version}/reads"): W,
    ("POST", "/datasets/{name}/versions/{version}/writes"): W,
    ("GET", "/datasets/{name}/versions/{version}/lineage"): R,
    # features
    ("GET", "/feature-groups"): R,
    ("POST", "/feature-groups"): W,
    ("GET", "/feature-groups/{name}"): R,
    ("PATCH", "/feature-groups/{name}"): W,
    ("GET", "/feature-groups/{name}/schemas"): R,
    ("GET", "/feature-groups/{name}/freshness"): R,
    ("POST", "/feature-groups/{name}/ingest"): W,
    ("POST", "/feature-groups/{name}/records"): W,
    ("POST", "/feature-groups/{name}/materialize"): W,
    ("GET", "/feature-groups/{name}/offline"): R,
    ("POST", "/online-features"): R,
    ("POST", "/training-sets"): R,
    ("POST", "/training-sets/register"): W,
    ("POST", "/historical-features"): R,
    # monitoring
    ("GET", "/monitoring/baselines"): R,
    ("POST", "/monitoring/baselines/{name}"): W,
    ("GET", "/monitoring/baselines/{name}/latest"): R,
    ("GET", "/monitoring/baselines/{name}/versions/{version}"): R,
    ("GET", "/monitoring/baselines/{name}/versions/{version}/documents"): R,
    ("GET", "/monitoring/monitors"): R,
    ("POST", "/monitoring/monitors"): W,
    ("GET", "/monitoring/monitors/{name}"): R,
    ("POST", "/monitoring/monitors/{name}/executions"): W,
    ("GET", "/monitoring/monitors/{name}/executions"): R,
    ("GET", "/monitoring/executions/{execution_id}"): R,
    ("GET", "/monitoring/executions/{execution_id}/files"): R,
    ("GET", "/monitoring/executions/{execution_id}/files/{file_name}"): R,
    ("POST", "/monitoring/alarms"): W,
    ("GET", "/monitoring/alarms"): R,
    ("GET", "/monitoring/alarms/{name}"): R,
    # clarify
    ("POST", "/clarify/bias"): W,
    ("POST", "/clarify/explain"): W,
    ("POST", "/clarify/reports"): W,
    ("GET", "/clarify/reports"): R,
    ("GET", "/clarify/reports/{report_id}"): R,
    ("GET", "/clarify/reports/{report_id}/files"): R,
    ("GET", "/clarify/reports/{report_id}/files/{file_name}"): R,
    # lineage
    ("GET", "/lineage/{kind}/{object_id}/upstream"): R,
    ("GET", "/lineage/{kind}/{object_id}/downstream"): R,
    # pipelines
    ("GET", "/pipelines"): R,
    ("POST", "/pipelines"): W,
    ("GET", "/pipelines/{name}"): R,
    ("GET", "/pipelines/{name}/versions"): R,
    ("GET", "/pipelines/{name}/versions/latest"): R,
    ("GET", "/pipelines/{name}/versions/{version}"): R,
    ("GET", "/pipelines/{name}/diff"): R,
    ("POST", "/pipelines/{name}/executions"): W,
    ("GET", "/pipeline-executions"): R,
    ("GET", "/pipeline-executions/{execution_id}"): R,
    ("POST", "/pipeline-executions/{execution_id}/stop"): W,
    ("POST", "/pipeline-executions/{execution_id}/resume"): W,
    ("POST", "/pipeline-executions/{execution_id}/retry"): W,
    ("GET", "/pipeline-executions/{execution_id}/steps/{step}"): R,
    ("POST", "/pipeline-executions/{execution_id}/steps/{step}/signal"): W,
    ("GET", "/pipeline-executions/{execution_id}/steps/{step}/logs"): R,
    ("GET", "/pipeline-executions/{execution_id}/steps/{step}/cache"): R,
    ("GET", "/pipeline-executions/{execution_id}/steps/{step}/outputs"): R,
    ("GET", "/pipeline-executions/{execution_id}/steps/{step}/outputs/{output}/{path}"): R,
    # automation (run-due and dispatch are the scheduler's work; retention and gc are settings)
    ("GET", "/schedules"): R,
    ("POST", "/schedules"): W,
    ("GET", "/schedules/{name}"): R,
    ("DELETE", "/schedules/{name}"): W,
    ("POST", "/schedules/{name}/pause"): W,
    ("POST", "/schedules/{name}/resume"): W,
    ("GET", "/schedules/{name}/history"): R,
    ("GET", "/rules"): R,
    ("POST", "/rules"): W,
    ("GET", "/rules/{name}"): R,
    ("DELETE", "/rules/{name}"): W,
    ("GET", "/rules/{name}/history"): R,
    ("GET", "/hooks"): R,
    ("POST", "/hooks"): W,
    ("DELETE", "/hooks/{name}"): W,
    ("GET", "/hooks/{name}/history"): R,
    ("POST", "/automation/run-due"): ADM,
    ("POST", "/automation/dispatch"): ADM,
    ("GET", "/automation/runs/{run_id}"): R,
    ("GET", "/automation/retention"): R,
    ("PUT", "/automation/retention"): ADM,
    ("POST", "/automation/gc"): ADM,
    # security
    ("GET", "/me"): R,
    ("GET", "/users"): ADM,
    ("POST", "/users"): ADM,
    ("GET", "/users/{name}"): ADM,
    ("PATCH", "/users/{name}"): ADM,
    ("POST", "/tokens"): ADM,  # the body asks for another user's token
    ("GET", "/tokens"): R,  # one's own
    ("POST", "/tokens/{token_id}/revoke"): R,  # one's own, or a 404: another's token is not even named
    ("POST", "/logout"): R,  # revokes the calling token: each role calls it with a token of its own to lose
    ("POST", "/session/renew"): R,  # an API token is no session: 409, past the permission check
    ("GET", "/audit"): AUD,
    ("GET", "/audit/verify"): AUD,
}

# The data plane mounted on the server (outside /api/v1): calling an endpoint needs invoke, which a
# viewer lacks (an invocation runs the model, writes captured records and counts in a rollout's
# alarms) and the invoker role holds alone. The endpoint named does not exist: allowed is a 404.
DATA_PLANE: dict[tuple[str, str], Permission | None] = {
    ("POST", "/endpoints/{name}/invocations"): INV,
    ("GET", "/v2/models/{name}"): INV,
    ("GET", "/v2/models/{name}/versions/{version}"): INV,
    ("GET", "/v2/models/{name}/ready"): INV,
    ("GET", "/v2/models/{name}/versions/{version}/ready"): INV,
    ("POST", "/v2/models/{name}/infer"): INV,
    ("POST", "/v2/models/{name}/versions/{version}/infer"): INV,
    ("GET", "/metrics"): R,
}
DATA_PLANE_OPEN = {("GET", "/v2"), ("GET", "/v2/health/live"), ("GET", "/v2/health/ready"), ("GET", "/health")}

# Routes that revoke the token they are called with: the shared tokens of the roles must survive them.
_SPENDS_THE_TOKEN = {("POST", "/logout")}
# Values that make a request reach the permission check rather than stop at validation.
_PATH_VALUES = {"alias": "prod", "version": "1", "path": "a.txt", "file_name": "report.html", "groups": ["g"]}
_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/model-groups/{group}/versions/{version}/status"): {"status": "Approved"},
    ("POST", "/monitoring/baselines/{name}"): {"dataset": "nothing"},
    ("POST", "/pipelines"): {"definition": Pipeline("matrix", [WaitStep("Wait")]).definition()},
    ("POST", "/tokens"): {"user": "admin"},
    ("POST", "/users"): {"name": "newcomer", "roles": ["viewer"]},
    ("PATCH", "/users/{name}"): {"roles": ["admin"]},
}


def _parquet() -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table({"id": [1], "event_time": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)]}), sink)
    return sink.getvalue()


_PARQUET = _parquet()


def _api_routes(routes: list[BaseRoute]) -> Iterator[tuple[str, str]]:
    """(method, path) of every route under /api/v1, included routers unfolded."""
    for route in routes:
        nested = getattr(route, "effective_candidates", None)
        if nested is not None:
            yield from _api_routes(nested())
            continue
        path = getattr(route, "path_format", None) or getattr(route, "path", "")
        if isinstance(route, APIRoute) or path.startswith("/api/v1/"):
            for method in sorted(getattr(route, "methods", None) or ()):
                if path.startswith("/api/v1/") and method != "HEAD":
                    yield method, path.removeprefix("/api/v1")


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _minimal(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    """The smallest value the schema accepts: required properties only, one of each type."""
    schema = _resolve(spec, schema)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if _resolve(spec, s).get("type") != "null"]
            return _minimal(spec, options[0]) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: _minimal(spec, props[name]) for name in schema.get("required", [])}
    if kind == "array":
        return [_minimal(spec, schema["items"])] * schema.get("minItems", 0)
    if kind == "string":
        return "2026-01-01T00:00:00+00:00" if schema.get("format") == "date-time" else "x" * max(1, schema.get(
            "minLength", 1))
    return {"integer": 1, "number": 1.0, "boolean": False}.get(str(kind), "x")


def _request(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    op = spec["paths"]["/api/v1" + path][method.lower()]
    url = path
    params: dict[str, Any] = {}
    for param in op.get("parameters", []):
        value = _PATH_VALUES.get(param["name"]) or _minimal(spec, param.get("schema", {}))
        if param["in"] == "path":
            url = url.replace("{" + param["name"] + "}", str(value))
        elif param["in"] == "query" and param.get("required"):
            params[param["name"]] = value
    request: dict[str, Any] = {"params": params}
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body = _BODIES.get((method, path), _minimal(spec, content["application/json"].get("schema", {})))
        request["json"] = body
    elif content:
        request["content"] = _PARQUET  # a valid upload of every kind: artifact, dataset, entity frame
    return {"method": method, "url": "/api/v1" + url, **request}


def test_every_route_is_in_the_table(secured: SecuredApp) -> None:
    routes = set(_api_routes(secured.http.app.routes))  # type: ignore[attr-defined]
    assert routes - set(MATRIX) == set(), "classify these routes in MATRIX"
    assert set(MATRIX) - routes == set(), "these routes are gone: remove them from MATRIX"


@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_obeys_the_matrix(secured: SecuredApp, route: tuple[str, str]) -> None:
    spec = secured.http.app.openapi()  # type: ignore[attr-defined]
    request = _request(spec, *route)
    needed = MATRIX[route]
    wrong = []
    for role in ROLES:
        headers = secured.auth(role)
        if route in _SPENDS_THE_TOKEN:
            headers = {"Authorization": f"Bearer {secured.backend.security.create_token(role).secret}"}
        answer = secured.http.request(**request, headers=headers)
        allowed = needed is None or needed in ROLE_PERMISSIONS[role]
        if allowed and answer.status_code in (401, 403):
            wrong.append(f"{role}: refused with {answer.status_code} {answer.text[:200]}")
        if not allowed and answer.status_code != 403:
            wrong.append(f"{role}: expected 403, got {answer.status_code} {answer.text[:200]}")
        if answer.status_code == 403:
            assert answer.json()["error"]["code"] == "PERMISSION_DENIED"
    assert not wrong, "\n".join(wrong)


def _grants(needed: Any, role: str) -> bool:
    return needed is None or needed is OPEN or needed in ROLE_PERMISSIONS[role]


def test_declarations_never_refuse_a_role_the_matrix_allows(secured: SecuredApp) -> None:
    """What a route declares (checked before its body is read, slipway.server._guard) is the least its
    operation needs; the service checks what depends on the body."""
    declared = RouteIndex().policies(secured.http.app.routes)  # type: ignore[attr-defined]
    by_route = {(method, policy.path): policy.permission for methods, policy in declared for method in methods}
    wrong = []
    for (method, path), needed in MATRIX.items():
        permission = by_route[(method, "/api/v1" + path)]
        assert permission is not OPEN, f"{method} {path} is declared open"
        wrong += [f"{method} {path}: {role}" for role in ROLES
                  if _grants(needed, role) and not _grants(permission, role)]
    assert not wrong


def test_data_plane_routes_are_in_the_table(secured: SecuredApp) -> None:
    declared = RouteIndex().policies(secured.http.app.routes)  # type: ignore[attr-defined]
    found = {(method, policy.path) for methods, policy in declared for method in methods - {"HEAD"}
             if policy.path.startswith("/v2") or policy.path.endswith("/invocations") or policy.path == "/metrics"}
    assert found == set(DATA_PLANE) | (DATA_PLANE_OPEN - {("GET", "/health")})


@pytest.mark.parametrize("route", sorted(DATA_PLANE), ids=lambda r: f"{r[0]} {r[1]}")
def test_data_plane_obeys_the_matrix(secured: SecuredApp, route: tuple[str, str]) -> None:
    method, path = route
    url = path.replace("{name}", "nothing-here").replace("{version}", "v")
    needed = DATA_PLANE[route]
    wrong = []
    for role in ROLES:
        answer = secured.http.request(method, url, json={"inputs": []} if method == "POST" else None,
                                      headers=secured.auth(role))
        allowed = needed is None or needed in ROLE_PERMISSIONS[role]
        if allowed and answer.status_code in (401, 403):
            wrong.append(f"{role}: refused with {answer.status_code} {answer.text[:200]}")
        if not allowed and answer.status_code != 403:
            wrong.append(f"{role}: expected 403, got {answer.status_code} {answer.text[:200]}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("route", sorted(DATA_PLANE_OPEN), ids=lambda r: f"{r[0]} {r[1]}")
def test_data_plane_probes_need_no_token(secured: SecuredApp, route: tuple[str, str]) -> None:
    assert secured.http.request(*route).status_code == 200
