"""Endpoints on Ray Serve (``slipway serve NAME --engine ray``): a deployment of replicas per model
version behind an ingress that routes, captures and counts as local serving does, both scaling by
load; and a serving bundle on Ray Serve with no database. On the session's local Ray cluster with
Serve started once."""

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
from slipway.serving import (
    Autoscaling,
    DeploymentStatus,
    EndpointStatus,
    IngressReplicas,
    RayEndpoint,
    bundle_model,
    open_bundle,
)
from slipway.serving._capture import CAPTURE_PREFIX
from slipway.serving._ray_metrics import NAMESPACE, board_name
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


# Autoscaling that answers within seconds: the load averaged over 2 s, no delay up, 5 s down (longer than a
# replica takes to start on a loaded machine, or a dip of load cancels it).
FAST = {"upscale_delay_seconds": 0, "downscale_delay_seconds": 5, "look_back_seconds": 2}


def _served(client: Client, name: str, **options: Any) -> RayEndpoint:
    """The endpoint on Ray Serve at the proxy's root, replicas reserving no CPU (the cluster has 2)."""
    return RayEndpoint(
        name,
        client.backend.serving,
        client.backend.registry,
        functools.partial(serving_services, client.backend.settings),
        replica_cpus=0,
        poll_seconds=0.2,
        grace_seconds=1.0,  # an unused version's application goes 1 s after the last variant naming it
        **options,
    )


def _requests_counted(http: httpx.Client, endpoint: str) -> float:
    """The requests ``/metrics`` counts for ``endpoint``, all variants."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in http.get("/metrics").text.splitlines()
               if line.startswith(f'slipway_requests_total{{endpoint="{endpoint}"'))


def _answered_by(endpoint: str) -> list[int]:
    """Requests each ingress replica of ``endpoint`` answered (as pushed to its metrics board), busiest first."""
    import ray

    board = ray.get_actor(board_name(endpoint), namespace=NAMESPACE)
    return sorted(ray.get(board.requests.remote()).values(), reverse=True)


def _wait(condition: Callable[[], bool], timeout: float = 120.0, state: Callable[[], object] = lambda: None) -> None:
    """Until ``condition`` holds; on a timeout, the assertion shows ``state()`` (what was seen instead)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out; seen: {state()!r}"
        time.sleep(0.05)


def _captured_ids(client: Client, endpoint_id: str) -> list[str]:
    owner = Owner("endpoint", endpoint_id)
    files = [f for f in client.backend.artifacts.list(owner, CAPTURE_PREFIX, recursive=True) if not f.is_dir]
    return [json.loads(line)["inference_id"] for f in files
            for line in client.backend.artifacts.read_bytes(owner, f.path).decode().splitlines()]


def test_an_endpoint_on_ray_serve_routes_captures_counts_scales_and_rolls_out_without_dropping_a_request(
    client: Client, serve_url: str, package: Path, broken_package: Path
) -> None:
    v1, v2 = register(client.registry, package), register(client.registry, package)
    bad = register(client.registry, broken_package, "broken")
    serving = client.serving
    # line-v2 runs 1 replica for the rollouts' 2 requests in flight (half of them its), 2 for the load's 8
    # (all its); the ingress 2, then 3.
    scaled = {"min_replicas": 1, "max_replicas": 2, "target_ongoing": 2, **FAST}
    endpoint = serving.create_endpoint(
        "rings",
        [{"model": v1, "workers": 2},
         {"model": v2, "autoscaling": scaled}],
        capture={"sampling_percent": 100},
        alarms={"max_error_rate": 0.1, "min_requests": 5},
    )
    one, two = (v.model_version_id for v in endpoint.variants)
    ingress = Autoscaling.model_validate({"min_replicas": 2, "max_replicas": 3, "target_ongoing": 3, **FAST})
    served = _served(client, "rings", ingress_autoscaling=ingress)
    stop = threading.Event()
    follower = threading.Thread(target=served.run, args=(stop,))
    served.deploy()
    follower.start()
    try:
        assert served.replicas() == {one: 2, two: 1}  # workers, or the autoscaling's minimum
        assert serving.get_endpoint("rings").replicas == {"line-v1": 2, "line-v2": 1}  # what endpoints show shows
        _wait(lambda: serving.get_endpoint("rings").ingress == IngressReplicas(running=2, autoscaling=ingress))
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
            # /metrics totals every ingress replica's requests, whichever answers (the others' within a push)
            _wait(lambda: _requests_counted(http, "rings") == 36)
            answered_by = _answered_by("rings")
            assert len(answered_by) == 2 and answered_by[1] > 0 and sum(answered_by) == 36  # spread over both
            ids = [a.headers["x-slipway-inference-id"] for a in answers]

            # Load scales line-v2 and the ingress to their most replicas; idle, back to their fewest. The third
            # ingress replica answers some of the load and stops: its requests stay counted and captured.
            before = _requests_counted(http, "rings")
            with Traffic(f"{serve_url}/invocations", threads=8, headers={"x-slipway-variant": "line-v2"}) as load:
                _wait(lambda: serving.get_endpoint("rings").replicas == {"line-v1": 2, "line-v2": 2})
                _wait(lambda: serving.get_endpoint("rings").ingress == IngressReplicas(running=3, autoscaling=ingress))
                _wait(lambda: sum(n > 0 for n in _answered_by("rings")) >= 3)
            _wait(lambda: serving.get_endpoint("rings").replicas == {"line-v1": 2, "line-v2": 1})
            _wait(lambda: serving.get_endpoint("rings").ingress == IngressReplicas(running=2, autoscaling=ingress))
            assert set(load.statuses) == {200}, load.statuses
            _wait(lambda: _requests_counted(http, "rings") == before + load.statuses[200])

        # Deployments under constant traffic: a failing canary (a new application) is rolled back by its
        # alarm, then a healthy one completes and the version it replaced goes; no request fails.
        with Traffic(f"{serve_url}/invocations", threads=2) as traffic:
            _wait(lambda: traffic.statuses[200] > 20)
            serving.update_endpoint("rings", [{"model": bad}],
                                    strategy={"kind": "canary", "share": 0.3, "bake_seconds": 60})
            _wait(lambda: serving.list_deployments("rings")[0].status is DeploymentStatus.ROLLED_BACK)
            serving.update_endpoint("rings", [{"model": v1, "workers": 2}],
                                    strategy={"kind": "canary", "share": 0.5, "bake_seconds": 0.5})
            _wait(lambda: serving.get_endpoint("rings").status is EndpointStatus.IN_SERVICE,
                  state=lambda: serving.get_endpoint("rings"))
            # broken-v1's and line-v2's applications are gone; the ingress, deployed again, computes the one version
            # left in its 2 replicas (the variant's workers), which count as the variant's
            _wait(lambda: served.replicas() == {one: 2},
                  state=lambda: (served.replicas(), serving.get_endpoint("rings"), serving.list_deployments("rings")))
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
    assert set(traffic.statuses) == {200} and set(load.statuses) == {200}, (traffic.statuses, load.statuses)
    assert "broken-v1" not in traffic.variants  # the failing canary's requests were answered by a live variant
    assert serving.get_endpoint("rings").replicas == {}  # nothing runs any more
    assert serving.get_endpoint("rings").ingress is None
    # Every answer captured, the scaled-down ingress replica's included (its shutdown uploads them).
    captured = _captured_ids(client, endpoint.id)
    assert set(ids) <= set(captured) and len(captured) == 36 + load.statuses[200] + sum(traffic.statuses.values())


def test_a_bundle_serves_on_ray_serve_with_no_database(serve_url: str, package: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Client(load_settings(env={}, cwd=tmp_path, home=str(home))) as client:
        bundle = bundle_model(client.registry, register(client.registry, package), tmp_path / "bundle", name="bundled")
    home.rename(tmp_path / "gone")  # no database, no artifact store
    served = RayEndpoint.for_bundle(open_bundle(bundle.path), capture_url=str(tmp_path / "captured"), replica_cpus=0)
    served.deploy()
    try:
        with httpx.Client(base_url=serve_url, timeout=30) as http:
            answers = [http.post("/invocations", json={"inputs": {"a": [float(i)], "b": [1.0]}}) for i in range(5)]
            assert [a.json()["predictions"][0] for a in answers] == pytest.approx([2.0 * i - 0.5 for i in range(5)])
            _wait(lambda: _requests_counted(http, "bundled") == 5)
    finally:
        served.close()  # the ingress replica flushes its captured records to the folder
    files = sorted((tmp_path / "captured" / "bundled").rglob("*.jsonl"))
    captured = [json.loads(line)["inference_id"] for f in files for line in f.read_text().splitlines()]
    assert sorted(captured) == sorted(a.headers["x-slipway-inference-id"] for a in answers)
