"""``slipway serve`` as a real process: traffic, then SIGTERM, and every captured record is in the store."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
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


def _workers(pid: int) -> list[int]:
    """The worker processes uvicorn spawned (not multiprocessing's resource tracker)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()
                  if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]
    return found


@contextlib.contextmanager
def _serve(
    home: Path, *, ready_timeout: float = 120.0, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``slipway serve rings`` on a free port, ready; killed at the end if a test left it running."""
    assert _EXE, "the slipway executable is not installed next to this Python"
    port = _free_port()
    proc = subprocess.Popen(
        [_EXE, "serve", "rings", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "SLIPWAY_HOME": str(home), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, proc, ready_timeout)
        yield proc, url
    finally:
        if proc.poll() is None:  # a test failed midway: its workers would outlive a killed parent
            workers = _workers(proc.pid)
            proc.kill()
            for pid in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully (lifespan included), then re-raises the signal to exit by it
    assert proc.wait(timeout=60) in (0, -signal.SIGTERM)


def _captured(client: Client, endpoint_id: str) -> tuple[int, list[str]]:
    """How many capture files the endpoint has, and the inference ids in them."""
    owner = Owner("endpoint", endpoint_id)
    files = [f for f in client.backend.artifacts.list(owner, CAPTURE_PREFIX, recursive=True) if not f.is_dir]
    ids = [json.loads(line)["inference_id"] for f in files
           for line in client.backend.artifacts.read_bytes(owner, f.path).decode().splitlines()]
    return len(files), ids


def _invoke(url: str, i: int, http: httpx.Client | None = None) -> str:
    body = {"inputs": {"a": [float(i)], "b": [1.0]}}
    answer = (http or httpx).post(f"{url}/invocations", json=body, timeout=30)
    return answer.headers["x-slipway-inference-id"]


def test_sigterm_flushes_every_captured_record(tmp_path: Path, package: Path) -> None:
    home = tmp_path / "home"
    with Client(load_settings(env={}, cwd=tmp_path, home=str(home))) as client:
        model = register(client.registry, package)
        endpoint = client.serving.create_endpoint(
            "rings", [{"model": model}], capture={"sampling_percent": 100, "max_records_per_file": 40}
        )
    with _serve(home) as (proc, url), httpx.Client() as http:
        ids = [_invoke(url, i, http) for i in range(100)]
        _stop(proc)
    with Client(load_settings(env={}, cwd=tmp_path, home=str(home))) as client:
        files, captured = _captured(client, endpoint.id)
        assert client.serving.get_endpoint("rings").status.value == "InService"
    assert files == 3  # 40 + 40 + the 20 flushed at shutdown
    assert sorted(captured) == sorted(ids)


def test_worker_processes_follow_the_variants_workers_and_share_their_metrics(tmp_path: Path, package: Path) -> None:
    home = tmp_path / "home"
    with Client(load_settings(env={}, cwd=tmp_path, home=str(home))) as client:
        model = register(client.registry, package)
        endpoint = client.serving.create_endpoint("rings", [{"model": model, "workers": 2}],
                                                  capture={"sampling_percent": 100})
    runs = tmp_path / "tmp"  # where the run's multiprocess metrics folder goes
    runs.mkdir()
    with _serve(home, env={"TMPDIR": str(runs)}) as (proc, url):  # no --workers: the variant's 2 decide
        assert len(_workers(proc.pid)) == 2
        ids = [_invoke(url, i) for i in range(40)]  # a connection each: either worker answers
        for _ in range(6):  # whichever worker answers the scrape counts every request, at once
            assert 'slipway_requests_total{endpoint="rings",variant="line-v1"} 40.0' in httpx.get(f"{url}/metrics").text
        assert len(list(runs.glob("slipway-metrics-*"))) == 1
        _stop(proc)
    assert not any(runs.glob("slipway-metrics-*"))  # the run's folder goes with it
    with Client(load_settings(env={}, cwd=tmp_path, home=str(home))) as client:
        _, captured = _captured(client, endpoint.id)
    assert sorted(captured) == sorted(ids)  # every worker flushed its capture at SIGTERM
