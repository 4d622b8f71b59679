"""Deployments under constant traffic on a real HTTP server: no request fails while variants change,
and a canary whose model errors is rolled back by its alarm; a canary bakes from when it serves."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _registry_workers import make_registry
from _server import serving as serving_app
from _serving_models import register
from _traffic import Traffic

from slipway._references import ModelUri
from slipway._time import now_ms
from slipway.registry import RegistryService
from slipway.serving import (
    DeploymentStatus,
    EndpointRuntime,
    EndpointStatus,
    ServingHost,
    ServingService,
    create_inference_app,
)
from slipway.serving._metrics import ServingMetrics
from slipway.serving._routing import ServedModel
from slipway.store import Database


@pytest.fixture
def registry(sqlite_db: Database, tmp_path: Path) -> RegistryService:
    return make_registry(sqlite_db, tmp_path)


@pytest.fixture
def serving(sqlite_db: Database, registry: RegistryService) -> ServingService:
    return ServingService(sqlite_db, registry)


@pytest.fixture
def endpoint_url(serving: ServingService, registry: RegistryService) -> Iterator[str]:
    """Where endpoint ``e`` answers, on a uvicorn server of its own watching it every 50 ms."""
    host = ServingHost(serving, registry, registry._artifacts, poll_seconds=0.05)
    with serving_app(create_inference_app(host, "e")) as url:
        yield f"{url}/endpoints/e/invocations"
    host.close()


def _wait(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_failing_canary_rolls_back_and_no_request_fails(
    serving: ServingService, registry: RegistryService, package: Path, broken_package: Path, endpoint_url
) -> None:
    good = register(registry, package)
    bad = register(registry, broken_package, "broken")
    serving.create_endpoint("e", [{"model": good}], alarms={"max_error_rate": 0.1, "min_requests": 5})
    with Traffic(endpoint_url) as traffic:
        _wait(lambda: traffic.statuses[200] > 50)
        serving.update_endpoint("e", [{"model": bad}], strategy={"kind": "canary", "share": 0.3, "bake_seconds": 60})
        _wait(lambda: serving.list_deployments("e")[0].status is DeploymentStatus.ROLLED_BACK)
        _wait(lambda: serving.get_endpoint("e").status is EndpointStatus.IN_SERVICE)
        answered = traffic.statuses[200]
        _wait(lambda: traffic.statuses[200] > answered + 50)
    deployment = serving.list_deployments("e")[0]
    assert deployment.reason is not None and deployment.reason.startswith("alarm: error rate")
    assert set(traffic.statuses) == {200}, traffic.statuses
    assert set(traffic.variants) == {"line-v1"}  # the canary's failures were answered by the live variant
    assert [v.model for v in serving.get_endpoint("e").variants] == [good]


def test_healthy_canary_completes_under_traffic(
    serving: ServingService, registry: RegistryService, package: Path, endpoint_url
) -> None:
    v1, v2 = register(registry, package), register(registry, package)
    serving.create_endpoint("e", [{"model": v1}])
    with Traffic(endpoint_url) as traffic:
        _wait(lambda: traffic.statuses[200] > 50)
        serving.update_endpoint("e", [{"model": v2}], strategy={"kind": "canary", "share": 0.5, "bake_seconds": 0.5})
        _wait(lambda: serving.get_endpoint("e").status is EndpointStatus.IN_SERVICE)
        answered = traffic.statuses[200]
        _wait(lambda: traffic.statuses[200] > answered + 50)
    assert serving.list_deployments("e")[0].status is DeploymentStatus.SUCCEEDED
    assert set(traffic.statuses) == {200}, traffic.statuses
    assert traffic.variants["line-v2"] > 50 and traffic.variants["line-v1"] > 50


def test_a_canary_bakes_from_when_it_serves_not_from_the_rollout_start(
    serving: ServingService, registry: RegistryService, package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1, v2 = register(registry, package), register(registry, package)
    serving.create_endpoint("e", [{"model": v1}])
    canary_id = registry.get_version("line", v2.split("/")[1]).id
    loading, loaded = threading.Event(), threading.Event()

    def load(version_id: str, uri: str) -> ServedModel:  # the canary's model loads when the test says (Ray's replicas)
        if version_id == canary_id:
            loading.set()
            assert loaded.wait(15)
        return registry.load_model(str(ModelUri.of(uri)))

    clock = [now_ms()]  # the service's and the server's clock, moved by hand
    monkeypatch.setattr("slipway.serving._service.now_ms", lambda: clock[0])
    monkeypatch.setattr("slipway.serving._runtime.now_ms", lambda: clock[0])
    runtime = EndpointRuntime("e", serving, registry, registry._artifacts, ServingMetrics(), poll_seconds=3600,
                              loader=load)
    runtime.start()  # its watcher idles: the test refreshes by hand
    try:
        serving.update_endpoint("e", [{"model": v2}], strategy={"kind": "canary", "share": 0.5, "bake_seconds": 60})
        clock[0] += 3_600_000  # an hour after the rollout began, the canary's model is still loading
        refresh = threading.Thread(target=runtime.refresh)
        refresh.start()
        assert loading.wait(15)
        assert serving.get_endpoint("e").deployment is not None  # not baked: the canary served nothing yet
        loaded.set()
        refresh.join()
        body = b'{"inputs": {"a": [1.0], "b": [1.0]}}'
        answers = {runtime.invoke(body, "application/json", {"x-slipway-request-key": str(i)}).variant
                   for i in range(40)}
        assert answers == {"line-v1", "line-v2"}  # the canary serves now
        clock[0] += 59_999
        runtime.refresh()
        assert serving.get_endpoint("e").deployment is not None  # a millisecond short of its bake
        clock[0] += 1
        runtime.refresh()
        assert [v.model for v in serving.get_endpoint("e").variants] == [v2]
        assert serving.list_deployments("e")[0].status is DeploymentStatus.SUCCEEDED
    finally:
        loaded.set()
        runtime.close()


def test_a_failed_canarys_errors_do_not_roll_back_the_next_deployment(
    serving: ServingService, registry: RegistryService, package: Path, broken_package: Path
) -> None:
    v1, v2 = register(registry, package), register(registry, package)
    bad = register(registry, broken_package, "broken")
    serving.create_endpoint("e", [{"model": v1}], alarms={"max_error_rate": 0.1, "min_requests": 5})
    runtime = EndpointRuntime("e", serving, registry, registry._artifacts, ServingMetrics(), poll_seconds=3600)
    runtime.start()  # its watcher idles: the test refreshes by hand
    try:
        serving.update_endpoint("e", [{"model": bad}], strategy={"kind": "canary", "share": 0.5, "bake_seconds": 60})
        runtime.refresh()  # routes the failing canary's step
        body = b'{"inputs": {"a": [1.0], "b": [1.0], "c": [0.0]}}'  # the broken model's signature takes c
        answers = [runtime.invoke(body, "application/json", {"x-slipway-request-key": str(i)}) for i in range(40)]
        assert {a.variant for a in answers} == {"line-v1"}  # the canary's failures answered by the live variant
        # Another server's alarm rolls it back, and a healthy canary starts, before this server looks again: its
        # window still holds the failed step's errors, which must not count against the new deployment.
        serving.rollback("e", "alarm seen elsewhere")
        serving.update_endpoint("e", [{"model": v2}], strategy={"kind": "canary", "share": 0.5, "bake_seconds": 60})
        runtime.refresh()
        assert serving.list_deployments("e")[0].status is DeploymentStatus.IN_PROGRESS
        assert serving.get_endpoint("e").deployment is not None
    finally:
        runtime.close()
