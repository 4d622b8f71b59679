"""``slipway serve`` as a real process: traffic, then SIGTERM, and every captured record is in the store."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from _serving_models import register

from slipway import Client, load_settings
from slipway.serving._capture import CAPTURE_PREFIX
from slipway.store.artifacts import Owner

_EXE = shutil.which("slipway", path=str(Path(sys.executable).parent)) or shutil.which("slipway")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "slipway serve exited"
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError("slipway serve did not become ready")


def test_sigterm_flushes_every_captured_record(tmp_path: Path, package: Path) -> None:
    home = tmp_path / "home"
    with Client(load_settings(env={}, cwd=tmp_path, home=str(home))) as client:
        model = register(client.registry, package)
        endpoint = client.serving.create_endpoint(
            "rings", [{"model": model}], capture={"sampling_percent": 100, "max_records_per_file": 40}
        )
    port = _free_port()
    assert _EXE, "the slipway executable is not installed next to this Python"
    env = {**os.environ, "SLIPWAY_HOME": str(home)}
    proc = subprocess.Popen(
        [_EXE, "serve", "rings", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, proc)
        with httpx.Client(base_url=url) as http:
            ids = [
                http.post("/invocations", json={"inputs": {"a": [float(i)], "b": [1.0]}}).headers[
                    "x-slipway-inference-id"
                ]
                for i in range(100)
            ]
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully (lifespan included), then re-raises the signal to exit by it
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
    with Client(load_settings(env={}, cwd=tmp_path, home=str(home))) as client:
        owner = Owner("endpoint", endpoint.id)
        files = [f for f in client.backend.artifacts.list(owner, CAPTURE_PREFIX, recursive=True) if not f.is_dir]
        records = [
            json.loads(line)
            for f in files
            for line in client.backend.artifacts.read_bytes(owner, f.path).decode().splitlines()
        ]
        assert client.serving.get_endpoint("rings").status.value == "InService"
    assert len(files) == 3  # 40 + 40 + the 20 flushed at shutdown
    assert sorted(r["inference_id"] for r in records) == sorted(ids)


def _workers(pid: int) -> list[int]:
    """The worker processes uvicorn spawned (not multiprocessing's resource tracker)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()
                  if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]
    return found


def test_worker_processes_follow_the_variants_workers_and_share_their_metrics(tmp_path: Path, package: Path) -> None:
    home = tmp_path / "home"
    with Client(load_settings(env={}, cwd=tmp_path, home=str(home))) as client:
        model = register(client.registry, package)
        endpoint = client.serving.create_endpoint("rings", [{"model": model, "workers": 2}],
                                                  capture={"sampling_percent": 100})
    port = _free_port()
    proc = subprocess.Popen(  # no --workers: the variant's 2 decide
        [_EXE, "serve", "rings", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "SLIPWAY_HOME": str(home)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, proc, timeout=90)
        assert len(_workers(proc.pid)) == 2
        ids = [httpx.post(f"{url}/invocations", json={"inputs": {"a": [float(i)], "b": [1.0]}}, timeout=30)
               .headers["x-slipway-inference-id"] for i in range(40)]  # a connection each: either worker answers
        time.sleep(1.5)  # each worker publishes its counters every second
        for _ in range(4):  # whichever worker answers the scrape counts every request
            assert 'slipway_requests_total{endpoint="rings",variant="line-v1"} 40' in httpx.get(f"{url}/metrics").text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
    with Client(load_settings(env={}, cwd=tmp_path, home=str(home))) as client:
        owner = Owner("endpoint", endpoint.id)
        files = [f for f in client.backend.artifacts.list(owner, CAPTURE_PREFIX, recursive=True) if not f.is_dir]
        captured = [json.loads(line)["inference_id"] for f in files
                    for line in client.backend.artifacts.read_bytes(owner, f.path).decode().splitlines()]
    assert sorted(captured) == sorted(ids)  # every worker flushed its capture at SIGTERM
