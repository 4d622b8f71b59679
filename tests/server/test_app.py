"""The app itself: meta routes, who acts, unexpected errors, and ``serve``."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _server import LiveServer, admin_token, server_settings, serving
from _serving_models import register, write_line

from slipway import Client, __version__
from slipway._backend import Backend
from slipway.server import create_app


def test_health_and_version(live_server: LiveServer) -> None:
    assert httpx.get(f"{live_server.url}/health", timeout=30).json() == {"status": "ok"}
    version = httpx.get(f"{live_server.url}/api/v1/version", headers=live_server.headers, timeout=30)
    assert version.json() == {"version": __version__, "api": "v1"}


def test_requests_act_as_the_tokens_user(api: httpx.Client, live_server: LiveServer) -> None:
    exp = api.post("/experiments", json={"name": f"who-{time.time_ns()}"}).json()
    run = api.post("/runs", json={"experiment_id": exp["id"]}).json()
    assert exp["created_by"] == live_server.user
    assert run["user"] == live_server.user


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    made = Backend(server_settings(tmp_path))
    yield made
    made.close()


def test_unexpected_error_is_a_generic_500_logged_with_traceback(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(run_id: str) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(backend.tracking, "get_run", boom)
    headers = {"Authorization": f"Bearer {admin_token(backend)}"}
    with serving(create_app(backend)) as url, httpx.Client(base_url=url, headers=headers, timeout=30) as http, \
            caplog.at_level(logging.ERROR, logger="slipway.server"):
        resp = http.get("/api/v1/runs/any")
        assert http.get("/health").status_code == 200  # on the same kept-alive connection
    assert resp.status_code == 500
    assert resp.json() == {"error": {"code": "INTERNAL_ERROR",
                                     "message": "internal server error; the server log has the details"}}
    assert "secret" not in resp.text
    [record] = [r for r in caplog.records if r.name == "slipway.server"]
    assert record.exc_info is not None and "GET /api/v1/runs/any" in record.getMessage()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_serve_runs_uvicorn_on_loopback_and_metrics_total_every_worker(tmp_path: Path, workers: int) -> None:
    port = _free_port()
    code = (
        "import sys; from slipway import load_settings; from slipway.server import serve; "
        f"serve(load_settings(env={{}}, home=sys.argv[1]), port={port}, workers={workers}, log_level='warning')"
    )
    with Client(home=str(tmp_path / "home")) as local:  # the first admin, made on the server's own store
        token = admin_token(local.backend)
        local.serving.create_endpoint("line", [{"model": register(local.registry, write_line(tmp_path / "m"))}])
    runs = tmp_path / "tmp"  # where a run of several workers keeps its metrics folder
    runs.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "home")], env={**os.environ,
                                                                                       "TMPDIR": str(runs)})
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        with Client(server_url=url, token=token) as client:
            run = client.tracking.create_run(name="served")
            client.tracking.log_metric(run.id, "loss", 0.5)
        with Client(home=str(tmp_path / "home")) as local:
            assert local.tracking.get_run(run.id).metrics["loss"].value == 0.5
        headers = {"Authorization": f"Bearer {token}"}
        body = {"inputs": {"a": [1.0], "b": [2.0]}}
        for _ in range(24):  # a connection each: any worker may answer
            answer = httpx.post(f"{url}/endpoints/line/invocations", json=body, headers=headers, timeout=60)
            assert answer.status_code == 200, answer.text
        for _ in range(6):  # whichever worker answers the scrape totals every worker's requests
            scraped = httpx.get(f"{url}/metrics", headers=headers, timeout=30).text
            assert 'slipway_requests_total{endpoint="line",variant="line-v1"} 24.0' in scraped
        assert len(list(runs.glob("slipway-metrics-*"))) == (1 if workers > 1 else 0)
    finally:
        proc.terminate()
        proc.wait(30)
    assert not any(runs.glob("slipway-metrics-*"))
