"""The serving contract: identical assertions for the embedded and the remote SDK.

Each test runs embedded and against the session's server (see conftest.py), so it makes model
groups and endpoints of its own. Predictions are asked of the server's inference route in
remote mode, which the server loads on the first request.
"""

from __future__ import annotations

import inspect
import uuid
from pathlib import Path

import httpx
import pandas as pd
import pytest
from _serving_models import register, write_line

from slipway import Client, Conflict, InvalidInput, NotFound
from slipway.client import invoke_endpoint
from slipway.client._serving import RemoteServing
from slipway.serving import DeploymentStatus, EndpointStatus, ServingService, Strategy, VariantSpec


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_line(tmp_path_factory.mktemp("serving-contract") / "line")


@pytest.fixture
def models(client: Client, package: Path) -> list[str]:
    group = unique("g")
    return [register(client.registry, package, group) for _ in range(2)]  # type: ignore[arg-type]


def test_remote_methods_match_the_service() -> None:
    for name, method in inspect.getmembers(RemoteServing, inspect.isfunction):
        if not name.startswith("_"):
            remote = inspect.signature(method).parameters
            local = inspect.signature(getattr(ServingService, name)).parameters
            assert list(remote) == list(local), name


def test_endpoint_lifecycle(client: Client, models: list[str]) -> None:
    v1, v2 = models
    name = unique("e")
    created = client.serving.create_endpoint(
        name, [VariantSpec(model=v1, weight=9), {"model": v2, "weight": 1}], capture={"sampling_percent": 10}
    )
    assert created.status is EndpointStatus.CREATING and [v.weight for v in created.variants] == [9, 1]
    assert name in [e.name for e in client.serving.list_endpoints()]
    updated = client.serving.update_endpoint(name, [{"model": v2}], strategy=Strategy(kind="canary", share=0.2))
    assert updated.deployment is not None and updated.deployment.share == 0.2
    with pytest.raises(Conflict):
        client.serving.update_endpoint(name, [{"model": v1}])
    back = client.serving.rollback(name, reason="not today")
    assert back.status is EndpointStatus.ROLLING_BACK and back.reason == "not today"
    [deployment] = client.serving.list_deployments(name)
    assert deployment.status is DeploymentStatus.ROLLED_BACK
    assert client.serving.put_ground_truth(name, [{"inference_id": "i1", "label": 7.5}]) == 1
    assert [g.label for g in client.serving.get_ground_truth(name, ["i1"])] == [7.5]
    assert client.serving.get_ground_truth(name, []) == []
    client.serving.delete_endpoint(name)
    with pytest.raises(NotFound):
        client.serving.get_endpoint(name)


@pytest.mark.parametrize(
    ("variants", "field"),
    [([{"model": "nogroup"}], "variants.0.model"), ([{"model": "x/1", "weight": -2}], "variants.0.weight")],
)
def test_errors_name_the_same_field(client: Client, variants: list, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        client.serving.create_endpoint(unique("e"), variants)
    assert err.value.field == field


def test_unapproved_and_missing(client: Client, package: Path) -> None:
    group = unique("g")
    pending = register(client.registry, package, group, approve=False)  # type: ignore[arg-type]
    with pytest.raises(Conflict):
        client.serving.create_endpoint(unique("e"), [{"model": pending}])
    with pytest.raises(NotFound):
        client.serving.create_endpoint(unique("e"), [{"model": f"{group}/9"}])
    with pytest.raises(InvalidInput):
        client.serving.get_endpoint("bad/name")


def test_server_answers_invocations(live_server, package: Path) -> None:
    with live_server.client() as client:
        model = register(client.registry, package, unique("g"))  # type: ignore[arg-type]
        name = unique("e")
        client.serving.create_endpoint(name, [{"model": model}])
        resp = httpx.post(f"{live_server.url}/endpoints/{name}/invocations", json={"inputs": {"a": [1.0], "b": [2.0]}},
                          headers=live_server.headers)
        assert resp.status_code == 200 and resp.json()["predictions"] == pytest.approx([0.5])
        assert client.serving.get_endpoint(name).status is EndpointStatus.IN_SERVICE
        assert f'endpoint="{name}"' in httpx.get(f"{live_server.url}/metrics", headers=live_server.headers).text
        missing = httpx.post(f"{live_server.url}/endpoints/{unique('e')}/invocations", json={"inputs": {"a": [1]}},
                             headers=live_server.headers)
        assert missing.status_code == 404


def test_invoke_endpoint_answers_the_same_both_ways(client: Client, models: list[str]) -> None:
    """``slipway endpoints invoke`` goes through invoke_endpoint: the server's inference route, or a host here."""
    name = unique("e")
    client.serving.create_endpoint(name, [{"model": models[0], "name": "only"}])
    answer = invoke_endpoint(client, name, b'{"inputs": {"a": [1.0], "b": [2.0]}}', "application/json")
    assert answer["predictions"] == pytest.approx([0.5])
    assert answer["variant"] == "only" and answer["inference_id"]
    with pytest.raises(NotFound):
        invoke_endpoint(client, unique("e"), b'{"inputs": {"a": [1.0]}}', "application/json")


def test_a_served_model_keeps_serving_when_renamed_and_is_not_deleted(client: Client, package: Path) -> None:
    group, name, renamed = unique("g"), unique("e"), unique("r")
    client.serving.create_endpoint(name, [{"model": register(client.registry, package, group)}])  # type: ignore[arg-type]
    client.registry.rename_group(group, renamed)
    answer = invoke_endpoint(client, name, b'{"inputs": {"a": [1.0], "b": [2.0]}}', "application/json")
    assert answer["predictions"] == pytest.approx([0.5])  # loaded after the rename: by the version's id
    with pytest.raises(Conflict, match=f"{renamed} version 1 is served by endpoint '{name}'") as refused:
        client.registry.delete_group(renamed)
    assert refused.value.details == {"version": 1, "used_by": [f"endpoint '{name}'"]}
    with pytest.raises(Conflict, match=f"endpoint '{name}'"):
        client.registry.delete_version(renamed, 1)
    client.serving.delete_endpoint(name)
    client.registry.delete_group(renamed)
    with pytest.raises(NotFound):
        client.registry.get_group(renamed)


def test_batch_transform_of_a_registered_dataset(client: Client, models: list[str]) -> None:
    """Embedded, the service predicts in the caller's process; remote, the server answers 202 with
    a job (run by this process: the session's server has no workers) and the client waits for it."""
    rows = pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [1.0, 1.0, 0.0]})
    source, output = unique("rows"), unique("scored")
    client.datasets.register(source, rows)
    made = client.serving.transform(models[0], source, output, chunk_rows=2)
    assert (made.version.dataset_name, made.version.version, made.version.num_rows) == (output, 1, 3)
    scored = client.datasets.load(output)
    assert scored.prediction.tolist() == pytest.approx((rows.a * 2 - rows.b + 0.5).tolist())
    with pytest.raises(NotFound) as missing:
        client.serving.transform(models[0], f"{source}:7", output)
    assert missing.value.field == "version"
