"""``slipway serve NAME`` serves NAME only: another endpoint of the same store is a 404, never loaded."""

from __future__ import annotations

from pathlib import Path

import httpx
from _server import serving
from _serving_models import register, write_line

from slipway import load_settings
from slipway._backend import Backend
from slipway.serving import ServingHost, create_inference_app


def test_a_process_serving_one_endpoint_refuses_every_other(tmp_path: Path) -> None:
    backend = Backend(load_settings(env={}, cwd=tmp_path, home=str(tmp_path / "home")))
    try:
        package = write_line(tmp_path / "line")
        for name in ("public", "internal"):
            backend.serving.create_endpoint(name, [{"model": register(backend.registry, package, name)}])
        host = ServingHost(backend.serving, backend.registry, backend.artifacts)
        body = {"inputs": {"a": [1.0], "b": [0.0]}}
        # What `slipway serve public` runs.
        with serving(create_inference_app(host, "public")) as url:
            assert httpx.post(f"{url}/invocations", json=body, timeout=30).status_code == 200
            assert httpx.post(f"{url}/endpoints/public/invocations", json=body, timeout=30).status_code == 200
            other = httpx.post(f"{url}/endpoints/internal/invocations", json=body, timeout=30)
            assert other.status_code == 404, other.text
            assert other.json()["error"]["code"] == "NOT_FOUND"
            assert "internal" not in httpx.get(f"{url}/metrics", timeout=30).text
        assert host.get("internal") is None  # its models were never loaded
    finally:
        backend.close()
