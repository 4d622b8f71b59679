"""MLflow's REST API spoken directly: error shapes and limits, the default experiment, the mirror, artifact paths.

What any HTTP client can send, checked without MLflow's client so the module stays fast.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from _server import LiveServer

from slipway._backend import Backend


def _error(resp: httpx.Response, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    assert body["error_code"] == code
    message: str = body["message"]
    return message


@pytest.fixture(scope="module")
def run_id(mlflow_api: httpx.Client) -> str:
    resp = mlflow_api.post("/mlflow/runs/create", json={"experiment_id": "0", "run_name": "raw"})
    assert resp.status_code == 200, resp.text
    run: str = resp.json()["run"]["info"]["run_id"]
    return run


def test_experiment_zero_is_the_default_experiment(mlflow_api: httpx.Client, run_id: str) -> None:
    exp = mlflow_api.get("/mlflow/experiments/get", params={"experiment_id": "0"}).json()["experiment"]
    assert exp["name"] == "Default"
    run = mlflow_api.get("/mlflow/runs/get", params={"run_id": run_id}).json()["run"]
    assert run["info"]["experiment_id"] == exp["experiment_id"]
    assert {"key": "mlflow.runName", "value": "raw"} in run["data"]["tags"]
    assert run["info"]["artifact_uri"] == f"mlflow-artifacts:/runs/{run_id}"


def test_unknown_objects_are_resource_does_not_exist(mlflow_api: httpx.Client) -> None:
    _error(mlflow_api.get("/mlflow/runs/get", params={"run_id": "nope"}), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(mlflow_api.get("/mlflow/experiments/get-by-name", params={"experiment_name": "nope"}), 404,
           "RESOURCE_DOES_NOT_EXIST")
    _error(mlflow_api.get("/mlflow/registered-models/get", params={"name": "nope"}), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(mlflow_api.get("/mlflow/logged-models/m-nope"), 404, "RESOURCE_DOES_NOT_EXIST")


def test_bad_requests_are_invalid_parameter_value(mlflow_api: httpx.Client, run_id: str) -> None:
    message = _error(mlflow_api.post("/mlflow/runs/log-metric", json={"run_id": run_id, "key": "m"}), 400,
                     "INVALID_PARAMETER_VALUE")
    assert "'value'" in message
    json_type = {"Content-Type": "application/json"}
    bad_json = mlflow_api.post("/mlflow/runs/log-metric", content=b"{not json", headers=json_type)
    _error(bad_json, 400, "INVALID_PARAMETER_VALUE")
    step = {"run_id": run_id, "key": "m", "value": 1, "step": "two"}
    assert "'step'" in _error(mlflow_api.post("/mlflow/runs/log-metric", json=step), 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    ("batch", "words"),
    [
        ({"metrics": [{"key": "m", "value": 1, "step": i} for i in range(1001)]}, "at most 1000 metrics"),
        ({"params": [{"key": f"p{i}", "value": "v"} for i in range(101)]}, "at most 100 params"),
        ({"tags": [{"key": f"t{i}", "value": "v"} for i in range(101)]}, "at most 100 tags"),
        ({"params": [{"key": "p", "value": "x" * 6001}]}, "length limit of 6000"),
        ({"tags": [{"key": "t", "value": "x" * 8001}]}, "length limit of 8000"),
        ({"metrics": [{"key": "k" * 251, "value": 1, "timestamp": 1}]}, "length limit of 250"),
    ],
)
def test_mlflow_batch_limits(mlflow_api: httpx.Client, run_id: str, batch: dict[str, Any], words: str) -> None:
    resp = mlflow_api.post("/mlflow/runs/log-batch", json={"run_id": run_id, **batch})
    assert words in _error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_batch_logs_metrics_params_tags_and_nan(mlflow_api: httpx.Client, run_id: str) -> None:
    batch = {
        "run_id": run_id,
        "metrics": [{"key": "loss", "value": "NaN", "step": "3", "timestamp": "1700000000000"}],
        "params": [{"key": "lr", "value": "0.1"}],
        "tags": [{"key": "mlflow.runName", "value": "renamed"}],
    }
    assert mlflow_api.post("/mlflow/runs/log-batch", json=batch).json() == {}
    run = mlflow_api.get("/mlflow/runs/get", params={"run_id": run_id}).json()["run"]
    assert run["info"]["run_name"] == "renamed"
    assert run["data"]["metrics"] == [{"key": "loss", "value": "NaN", "timestamp": 1700000000000, "step": 3}]
    assert {"key": "lr", "value": "0.1"} in run["data"]["params"]
    changed = {"run_id": run_id, "key": "lr", "value": "0.2"}
    assert "params cannot change" in _error(mlflow_api.post("/mlflow/runs/log-parameter", json=changed), 400,
                                             "INVALID_PARAMETER_VALUE")


def test_secret_looking_params_and_tags_leave_redacted(mlflow_api: httpx.Client, run_id: str) -> None:
    batch = {"run_id": run_id, "params": [{"key": "db_password", "value": "hunter2"}],
             "tags": [{"key": "api_token", "value": "slw_abc"}]}
    assert mlflow_api.post("/mlflow/runs/log-batch", json=batch).json() == {}
    run = mlflow_api.get("/mlflow/runs/get", params={"run_id": run_id}).json()["run"]
    assert {"key": "db_password", "value": "***"} in run["data"]["params"]
    assert {"key": "api_token", "value": "***"} in run["data"]["tags"]
    found = mlflow_api.post("/mlflow/runs/search", json={"experiment_ids": ["0"]})
    assert run_id in found.text and "hunter2" not in found.text


def test_ajax_mirror_answers_like_the_api(server: LiveServer, mlflow_api: httpx.Client, run_id: str) -> None:
    url = f"{server.url}/ajax-api/2.0/mlflow/runs/get"
    mirror = httpx.get(url, params={"run_id": run_id}, headers=mlflow_api.headers)
    assert mirror.status_code == 200
    assert mirror.json()["run"]["info"]["run_id"] == run_id


def test_unsupported_calls_say_so(mlflow_api: httpx.Client) -> None:
    _error(mlflow_api.post("/mlflow/traces/search", json={}), 404, "ENDPOINT_NOT_FOUND")
    renamed = mlflow_api.post("/mlflow/registered-models/rename", json={"name": "a", "new_name": "b"})
    assert "'a' does not exist" in _error(renamed, 404, "RESOURCE_DOES_NOT_EXIST")
    staged = mlflow_api.post("/mlflow/model-versions/transition-stage", json={"name": "a", "version": "1",
                                                                             "stage": "Prod"})
    assert "Value must be one of None, Staging, Production, Archived" in _error(staged, 400, "INVALID_PARAMETER_VALUE")


def test_artifact_paths_stay_inside_their_owner(mlflow_api: httpx.Client, run_id: str) -> None:
    put = mlflow_api.put(f"/mlflow-artifacts/artifacts/runs/{run_id}/dir/file.txt", content=b"data")
    assert put.status_code == 200, put.text
    listed = mlflow_api.get("/mlflow-artifacts/artifacts", params={"path": f"runs/{run_id}/dir"}).json()
    assert listed == {"files": [{"path": "file.txt", "is_dir": False, "file_size": 4}]}
    assert mlflow_api.get(f"/mlflow-artifacts/artifacts/runs/{run_id}/dir/file.txt").content == b"data"
    escape = mlflow_api.get("/mlflow-artifacts/artifacts", params={"path": f"runs/{run_id}/../other"})
    assert ".." in _error(escape, 400, "INVALID_PARAMETER_VALUE")
    outside = mlflow_api.get("/mlflow-artifacts/artifacts", params={"path": "elsewhere/x"})
    _error(outside, 400, "INVALID_PARAMETER_VALUE")
    _error(mlflow_api.get(f"/mlflow-artifacts/artifacts/runs/{run_id}/missing"), 404, "RESOURCE_DOES_NOT_EXIST")


def test_registering_needs_an_mlflow_model(mlflow_api: httpx.Client, run_id: str) -> None:
    mlflow_api.put(f"/mlflow-artifacts/artifacts/runs/{run_id}/notamodel/readme.txt", content=b"hi")
    create = {"name": "raw-model", "source": f"runs:/{run_id}/notamodel", "run_id": run_id}
    message = _error(mlflow_api.post("/mlflow/model-versions/create", json=create), 400, "INVALID_PARAMETER_VALUE")
    assert "MLmodel" in message
    unknown = {"name": "raw-model", "source": "s3://bucket/model"}
    _error(mlflow_api.post("/mlflow/model-versions/create", json=unknown), 400, "INVALID_PARAMETER_VALUE")


def test_tokens_and_roles_apply(server: LiveServer, backend: Backend, run_id: str) -> None:
    """MLflow's client sends MLFLOW_TRACKING_TOKEN as a Bearer token: Slipway's tokens and roles apply."""
    backend.security.create_user("vic", ["viewer"])
    viewer = {"Authorization": f"Bearer {backend.security.create_token('vic', name='mlflow').secret}"}
    with httpx.Client(base_url=f"{server.url}/api/2.0/mlflow", headers=viewer, timeout=30) as api:
        assert api.get("/runs/get", params={"run_id": run_id}).status_code == 200
        point = {"run_id": run_id, "key": "m", "value": 1.0}
        _error(api.post("/runs/log-metric", json=point), 403, "PERMISSION_DENIED")
    assert httpx.get(f"{server.url}/api/2.0/mlflow/runs/get", params={"run_id": run_id}).status_code == 401


def test_registry_tags_are_set_and_deleted(mlflow_api: httpx.Client, backend: Backend) -> None:
    tagged = {"name": "tagged", "tags": [{"key": "a", "value": "1"}]}
    created = mlflow_api.post("/mlflow/registered-models/create", json=tagged)
    assert created.status_code == 200, created.text
    gone = mlflow_api.request("DELETE", "/mlflow/registered-models/delete-tag", json={"name": "tagged", "key": "a"})
    assert gone.status_code == 200, gone.text
    assert backend.registry.get_group("tagged").tags == {}
    again = mlflow_api.request("DELETE", "/mlflow/registered-models/delete-tag", json={"name": "tagged", "key": "a"})
    _error(again, 404, "RESOURCE_DOES_NOT_EXIST")
