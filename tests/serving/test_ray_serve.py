"""Endpoints on Ray Serve (``slipway serve NAME --engine ray``): a deployment of replicas per model
version behind an ingress that routes, captures and counts as local serving does, on the session's
local Ray cluster with Serve started once."""

from __future__ import annotations

import functools
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _serving_models import register
from _traffic import Traffic

from slipway import Client, load_settings
from slipway._backend import serving_services
from slipway.serving import DeploymentStatus, EndpointStatus, RayEndpoint
from slipway.serving._capture import CAPTURE_PREFIX
from slipway.store.artifacts import Owner

pytestmark = pytest.mark.ray


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def serve_url(ray_cluster: Any) -> Iterator[str]:
    """Ray Serve on the session's cluster, its HTTP proxy on a free loopback port."""
    from ray import serve

    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    yield f"http://127.0.0.1:{port}"
    serve.shutdown()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with Client(load_settings(env={}, cwd=tmp_path, home=str(tmp_path / "home"))) as client:
        yield client


def _served(client: Client, tmp_path: Path, name: str) -> RayEndpoint:
    """The endpoint on Ray Serve at the proxy's root, replicas reserving no CPU (the cluster has 2)."""
    return RayEndpoint(
        name,
        client.backend.serving,
        client.backend.registry,
        functools.partial(serving_services, client.backend.settings),
        replica_cpus=0,
        poll_seconds=0.2,
        metrics_folder=tmp_path / "metrics",
        grace_seconds=1.0,  # an unused version's application goes 1 s after the last variant naming it
    )


def _wait(condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _captured_ids(client: Client, endpoint_id: str) -> list[str]:
    owner = Owner("endpoint", endpoint_id)
    files = [f for f in client.backend.artifacts.list(owner, CAPTURE_PREFIX, recursive=True) if not f.is_dir]
    return [json.loads(line)["inference_id"] for f in files
            for line in client.backend.artifacts.read_bytes(owner, f.path).decode().splitlines()]


def test_an_endpoint_on_ray_serve_routes_captures_counts_and_rolls_out_without_dropping_a_request(
    client: Client, serve_url: str, package: Path, broken_package: Path, tmp_path: Path
) -> None:
    v1, v2 = register(client.registry, package), register(client.registry, package)
    bad = register(client.registry, broken_package, "broken")
    serving = client.serving
    endpoint = serving.create_endpoint(
        "rings",
        [{"model": v1, "workers": 2},
         {"model": v2, "autoscaling": {"min_replicas": 1, "max_replicas": 3, "target_ongoing": 1}}],
        capture={"sampling_percent": 100},
        alarms={"max_error_rate": 0.1, "min_requests": 5},
    )
    one, two = (v.model_version_id for v in endpoint.variants)
    served = _served(client, tmp_path, "rings")
    stop = threading.Event()
    follower = threading.Thread(target=served.run, args=(stop,))
    served.deploy()
    try:
        assert served.replicas() == {one: 2, two: 1}  # workers, or the autoscaling's minimum
        assert serving.get_endpoint("rings").replicas == {"line-v1": 2, "line-v2": 1}  # what endpoints show shows
        assert serving.get_endpoint("rings").status is EndpointStatus.IN_SERVICE  # an ingress replica confirmed
        with httpx.Client(base_url=serve_url, timeout=30) as http:
            answers = [http.post("/invocations", json={"inputs": {"a": [float(i)], "b": [1.0]}}) for i in range(30)]
            assert [a.status_code for a in answers] == [200] * 30
            assert [a.json()["predictions"][0] for a in answers] == pytest.approx([2.0 * i - 0.5 for i in range(30)])
            assert {a.headers["x-slipway-variant"] for a in answers} == {"line-v1", "line-v2"}  # by weight
            body = {"inputs": {"a": [1.0], "b": [1.0]}}
            pinned = http.post("/endpoints/rings/invocations", json=body, headers={"x-slipway-variant": "line-v2"})
            keyed = {http.post("/invocations", json=body, headers={"x-slipway-request-key": "user-7"})
                     .headers["x-slipway-variant"] for _ in range(5)}
            assert pinned.headers["x-slipway-variant"] == "line-v2" and len(keyed) == 1
            assert http.post("/invocations", json={"inputs": {"z": [1.0]}}).status_code == 400  # the signature's
            metrics = http.get("/metrics").text
        totals = [float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                  if line.startswith('slipway_requests_total{endpoint="rings"')]
        assert sum(totals) == 36
        ids = [a.headers["x-slipway-inference-id"] for a in answers]

        # Deployments under constant traffic: a failing canary (a new application) is rolled back by its
        # alarm, then a healthy one completes and the version it replaced goes; no request fails.
        follower.start()
        with Traffic(f"{serve_url}/invocations") as traffic:
            _wait(lambda: traffic.statuses[200] > 20)
            serving.update_endpoint("rings", [{"model": bad}],
                                    strategy={"kind": "canary", "share": 0.3, "bake_seconds": 60})
            _wait(lambda: serving.list_deployments("rings")[0].status is DeploymentStatus.ROLLED_BACK)
            serving.update_endpoint("rings", [{"model": v1, "workers": 2}],
                                    strategy={"kind": "canary", "share": 0.5, "bake_seconds": 0.5})
            _wait(lambda: serving.get_endpoint("rings").status is EndpointStatus.IN_SERVICE)
            _wait(lambda: set(served.replicas()) == {one})  # broken-v1's and line-v2's applications are gone
            answered = traffic.statuses[200]
            _wait(lambda: traffic.statuses[200] > answered + 20)
    finally:
        stop.set()
        if follower.is_alive():
            follower.join()
        served.close()  # the ingress replica stops gracefully: its captured records are flushed
    rollback, success = serving.list_deployments("rings")[1::-1]
    assert rollback.reason is not None and rollback.reason.startswith("alarm: error rate")
    assert success.status is DeploymentStatus.SUCCEEDED
    assert set(traffic.statuses) == {200}, traffic.statuses
    assert "broken-v1" not in traffic.variants  # the failing canary's requests were answered by a live variant
    captured = _captured_ids(client, endpoint.id)
    assert set(ids) <= set(captured) and len(captured) == 36 + sum(traffic.statuses.values())
    assert serving.get_endpoint("rings").replicas == {}  # nothing runs any more
