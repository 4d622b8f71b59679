"""Secrets stay secret: no face shows, echoes or answers questions about a secret-looking value.

Against a live ``slipway server``, a secret is planted everywhere a careless user puts one (a run's
params and tags, an experiment's, a model group's and version's tags, a pipeline's parameter default
and an execution's parameters, an automation's action, hence the audit trail), and then a scientist
tries every way out: each GET route of the REST API, the MLflow API, the web UI's pages, error
messages, and the search languages used as an oracle (``LIKE 'a%'``, ``=``, ``IN``, ordering).
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _server import LiveServer
from _ui import browser  # noqa: F401 - the Chromium fixture
from playwright.sync_api import Browser

from slipway._backend import Backend
from slipway.automation import StartPipeline
from slipway.pipelines import Parameter, Pipeline
from slipway.pipelines.steps import WaitStep

SECRET = "hunter2-Zq8vX"
NAME = "leaky"  # every object is called this, so one value fills every {name} and {group} of the API


@pytest.fixture(scope="module")
def server(hardened: LiveServer) -> LiveServer:
    """The attack suite's server of this module (tests/security/conftest.py)."""
    return hardened


@pytest.fixture(scope="module")
def planted(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Secrets in every place, planted as the trusted local user; yields the ids the routes need.

    The execution waits on its Wait step until the module ends, then is stopped: its orchestrator
    thread keeps a process alive while it runs, as it should, so left waiting it would keep pytest
    from ever exiting.
    """
    from _serving_models import write_line

    backend = Backend(server.settings)
    try:
        tracking = backend.tracking
        experiment = tracking.create_experiment(NAME, tags={"team_api_key": SECRET})
        run = tracking.create_run(experiment.id, name=NAME, tags={"github_token": SECRET})
        tracking.log_param(run.id, "db_password", SECRET)
        tracking.log_param(run.id, "lr", "0.1")
        registry = backend.registry
        registry.create_group(NAME, tags={"deploy_token": SECRET})
        version = registry.register_model(NAME, write_line(tmp_path_factory.mktemp("secrets-model") / "m"),
                                          tags={"s3_secret": SECRET})
        registry.update_group(NAME, tags={"webhook_secret": SECRET})  # audited with its tags
        pipeline = Pipeline(NAME, [WaitStep("Wait")], parameters=[Parameter("api_token", str, default=SECRET)])
        backend.pipelines.register(pipeline)
        execution = backend.pipelines.start(NAME, parameters={"api_token": SECRET})
        backend.automation.create_rule(NAME, "run.finished", StartPipeline(NAME, {"api_token": SECRET}))
        backend.security.create_user("sci", ["scientist"])
        backend.security.create_user("auditor", ["approver"])
        yield {"run_id": run.id, "experiment_id": experiment.id, "version_id": version.id, "version": "1",
                "execution_id": execution.id, "step": "Wait", "name": NAME, "group": NAME,
                "sci": backend.security.create_token("sci").secret,
                "auditor": backend.security.create_token("auditor").secret}
        backend.pipelines.stop(execution.id)
    finally:
        backend.close()


def _as(server: LiveServer, token: str, prefix: str = "/api/v1") -> httpx.Client:
    return httpx.Client(base_url=f"{server.url}{prefix}", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _get_routes(server: LiveServer, values: dict[str, str]) -> Iterator[tuple[str, str]]:
    """(template, URL) of every GET route of the REST API whose path and required query can be filled."""
    spec = httpx.get(f"{server.url}/openapi.json", headers=server.headers, timeout=30).json()
    for path, operations in spec["paths"].items():
        op = operations.get("get")
        if op is None or not path.startswith("/api/v1/"):
            continue
        url, query = path.removeprefix("/api/v1"), {}
        for param in op.get("parameters", []):
            value = values.get(param["name"])
            if param["in"] == "path":
                if value is None:
                    break
                url = url.replace("{" + param["name"] + "}", value)
            elif param.get("required"):
                query[param["name"]] = value or "x"
        else:
            yield path, str(httpx.URL(url, params=query))


def test_no_rest_route_shows_a_secret(server: LiveServer, planted: dict[str, str]) -> None:
    answered = {}
    for token in (planted["sci"], planted["auditor"]):  # the auditor reads the audit trail
        with _as(server, token) as api:
            for path, url in _get_routes(server, planted):
                answer = api.get(url)
                assert SECRET not in answer.text, f"GET {url} shows the secret"
                answered[path] = max(answered.get(path, 0), int(answer.status_code == 200))
    for needed in ("/api/v1/runs/{run_id}", "/api/v1/experiments/{experiment_id}", "/api/v1/model-groups/{group}",
                   "/api/v1/model-groups/{group}/versions/{version}", "/api/v1/pipelines/{name}/versions/latest",
                   "/api/v1/pipeline-executions/{execution_id}", "/api/v1/rules", "/api/v1/audit"):
        assert answered.get(needed) == 1, f"{needed} was not read: the sweep proves nothing for it"
    assert sum(answered.values()) >= 40


def test_mlflow_api_hides_registered_model_and_run_secrets(server: LiveServer, planted: dict[str, str]) -> None:
    with _as(server, planted["sci"], "/api/2.0/mlflow") as mlflow:
        for url in (f"/registered-models/get?name={NAME}", "/registered-models/search",
                    f"/model-versions/get?name={NAME}&version=1",
                    f"/model-versions/search?filter=name%3D%27{NAME}%27", f"/runs/get?run_id={planted['run_id']}",
                    f"/experiments/get?experiment_id={planted['experiment_id']}"):
            answer = mlflow.get(url)
            assert answer.status_code == 200, f"{url}: {answer.text}"
            assert SECRET not in answer.text, f"MLflow GET {url} shows the secret"


def test_an_admin_still_sees_them_when_asking(server: LiveServer, planted: dict[str, str]) -> None:
    with _as(server, server.token) as api:
        assert SECRET not in api.get(f"/model-groups/{NAME}").text
        revealed = api.get(f"/model-groups/{NAME}", params={"reveal_secrets": "true"}).json()
        assert revealed["tags"]["deploy_token"] == SECRET


def test_an_error_never_echoes_a_stored_value(server: LiveServer, planted: dict[str, str]) -> None:
    with _as(server, planted["sci"]) as api:
        changed = api.post(f"/runs/{planted['run_id']}/params", json={"key": "db_password", "value": "guess"})
        assert changed.status_code == 409 and "params cannot change" in changed.text
        assert SECRET not in changed.text and "guess" not in changed.text
        # logging the same value again must not confirm a right guess either
        same = api.post(f"/runs/{planted['run_id']}/params", json={"key": "db_password", "value": SECRET})
        assert same.status_code == 409 and SECRET not in same.text
        assert api.post(f"/runs/{planted['run_id']}/params", json={"key": "lr", "value": "0.1"}).status_code < 300


def _refused(answer: httpx.Response, what: str) -> None:
    assert answer.status_code == 403, f"{what}: {answer.status_code} {answer.text[:300]}"
    assert SECRET not in answer.text


def test_run_search_is_no_oracle_for_secrets(server: LiveServer, planted: dict[str, str]) -> None:
    """The attack that rebuilt a secret: one LIKE per guessed character. Every form of comparison is refused."""
    experiment = planted["experiment_id"]
    with _as(server, planted["sci"]) as api:
        def search(**body: Any) -> httpx.Response:
            return api.post("/runs/search", json={"experiment_ids": [experiment], **body})

        for char in string.ascii_letters[:20]:  # the first steps of the attack
            _refused(search(filter=f"params.db_password LIKE '{char}%'"), f"LIKE '{char}%'")
        for condition in (f"params.db_password = '{SECRET}'", "params.db_password != 'x'",
                          "params.db_password ILIKE 'H%'", f"params.db_password IN ('{SECRET}', 'x')",
                          "params.db_password NOT IN ('x')", "tags.github_token LIKE 'h%'",
                          "params.lr = '0.1' and not (params.db_password LIKE 'a%')"):
            _refused(search(filter=condition), condition)
        _refused(search(order_by=["params.db_password DESC"]), "order by a secret")
        assert len(search(filter="params.db_password IS NOT NULL").json()["runs"]) == 1  # set or not: no value
        assert len(search(filter="params.lr = '0.1'").json()["runs"]) == 1
    with _as(server, server.token) as admin:  # an admin may see the value, so may search it
        assert len(admin.post("/runs/search", json={"experiment_ids": [experiment],
                                                    "filter": "params.db_password LIKE 'h%'"}).json()["runs"]) == 1


def test_registry_and_mlflow_searches_are_no_oracle(server: LiveServer, planted: dict[str, str]) -> None:
    with _as(server, planted["sci"]) as api:
        _refused(api.post("/model-versions/search", json={"group": NAME, "filter": "tags.s3_secret = 'h'"}),
                 "version filter")
        _refused(api.post("/model-versions/search", json={"group": NAME, "tags": {"s3_secret": SECRET}}),
                 "version tags argument")
    with _as(server, planted["sci"], "/api/2.0/mlflow") as mlflow:
        for url, flt in (("/registered-models/search", "tags.deploy_token LIKE 'h%'"),
                         ("/model-versions/search", "tags.s3_secret = 'x'")):
            answer = mlflow.get(url, params={"filter": flt})
            assert answer.status_code == 403 and SECRET not in answer.text, f"{url} {flt}: {answer.text}"
        answer = mlflow.post("/runs/search", json={"experiment_ids": [planted["experiment_id"]],
                                                   "filter": "params.db_password LIKE 'h%'"})
        assert answer.status_code == 403, answer.text


def test_web_ui_redacts_and_refuses_the_filter_oracle(server: LiveServer, planted: dict[str, str],
                                                       browser: Browser) -> None:  # noqa: F811
    context = browser.new_context(base_url=server.url)
    try:
        context.add_cookies([{"name": "slipway_token", "value": planted["auditor"], "url": server.url}])
        page = context.new_page()
        for path in (f"/runs/{planted['run_id']}", f"/experiments/{planted['experiment_id']}",
                     f"/models/{NAME}", f"/models/{NAME}/versions/1", f"/pipelines/{NAME}/versions/1",
                     f"/pipelines/{NAME}/executions/{planted['execution_id']}", "/audit"):
            response = page.goto(path)
            assert response is not None and response.ok, f"{path}: {response and response.status}"
            assert SECRET not in page.content(), f"the page {path} shows the secret"
        page.goto(f"/runs/{planted['run_id']}")
        assert "***" in page.content()
        response = page.goto(f"/experiments/{planted['experiment_id']}?filter=params.db_password+LIKE+%27h%25%27")
        assert response is not None and response.status == 403
    finally:
        context.close()
