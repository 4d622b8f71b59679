"""`slipway demo`, the README's main job: the whole loop from a fresh store, until the retrained version serves."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import Result

from slipway import Client
from slipway.demo._loop import free_names

_EXE = shutil.which("slipway", path=str(Path(sys.executable).parent)) or shutil.which("slipway")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def demo_output(home: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``slipway demo --serve`` run as the README says, with the UI's base URL while it serves.

    The executable runs in a subprocess on a free port; once the demo's server answers, the test
    gets the demo's output so far, and the server is stopped with Ctrl-C afterwards.
    """
    port, log_path = _free_port(), tmp_path / "demo.log"
    url = f"http://127.0.0.1:{port}"
    assert _EXE, "the slipway executable is not installed next to this Python"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [_EXE, "demo", "--serve", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )
        try:
            deadline = time.monotonic() + 240  # the demo takes about a minute on a loaded 2-core machine
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, (
                    "the demo's server did not answer in 240 s:\n" + log_path.read_text()
                )
                time.sleep(0.5)
            yield log_path.read_text(), url
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()


def test_the_demo_closes_the_loop_and_the_retrained_version_serves(
    demo_output: tuple[str, str], client: Client
) -> None:
    out, url = demo_output
    for stage in ("[1/9] build", "[4/9] baseline and monitor", "[7/9] the rule starts the retraining", "[9/9] done"):
        assert stage in out
    # The summary: both versions with their MSE ± sd, the retrained one serving, the drifted features named.
    assert "abalone-demo/1" in out and "abalone-demo/2" in out and " ± " in out
    assert "baseline_drift_check" in out and "shell weight" in out
    assert "authentication is OFF" in out  # --serve: the UI on loopback, without tokens

    # The UI pages the demo points at answer, and show what happened.
    assert f"{url}/endpoints/abalone-demo" in out
    endpoint_page = httpx.get(f"{url}/endpoints/abalone-demo", timeout=30)
    assert endpoint_page.status_code == 200 and "abalone-demo-v2" in endpoint_page.text
    assert "ALARM" in httpx.get(f"{url}/monitoring/abalone-demo-quality", timeout=30).text

    # What a user finds in the store afterwards.
    endpoint = client.serving.get_endpoint("abalone-demo")
    assert [v.model for v in endpoint.variants] == ["abalone-demo/2"] and endpoint.deployment is None
    canary = client.serving.list_deployments("abalone-demo")[0]
    assert canary.strategy.kind == "canary" and canary.status.value == "Succeeded"
    versions = {v.version: v for v in client.registry.list_versions("abalone-demo")}
    assert {v.status.value for v in versions.values()} == {"Approved"}
    approvers = {c.changed_by for c in client.registry.status_history("abalone-demo", 2) if c.to_status == "Approved"}
    assert approvers == {"demo-approver"} != {versions[2].registered_by}  # four eyes, as the audit shows
    assert all(0 < v.metrics["mse"].value < 8 and v.metrics["mse"].std for v in versions.values())

    monitoring = client.monitoring
    calm, drifted = sorted(monitoring.list_executions("abalone-demo-quality"), key=lambda e: e.started_at)
    assert calm.violation_count == 0 and drifted.violation_count > 0
    drifted_features = {v["feature_name"] for v in monitoring.read_violations(drifted.id)}
    assert drifted_features <= {"whole weight", "shucked weight", "viscera weight", "shell weight"}
    assert monitoring.get_alarm("abalone-demo-drift").state == "ALARM"

    backend = client.backend
    [retrain] = backend.automation.rule_history("abalone-demo-retrain-on-drift")
    execution = backend.pipelines.get_execution(retrain.result["execution"])
    assert execution.parameters["input_data"].endswith("abalone-with-new-labels.csv")
    assert versions[2].source_id == execution.step("Register").id
    [rollout] = backend.automation.rule_history("abalone-demo-canary-on-approval")
    assert rollout.action["model"] == "{event.group}/{event.version}" and rollout.status == "Succeeded"


def test_a_second_run_takes_names_of_its_own(client: Client) -> None:
    backend = client.backend
    assert free_names(backend).prefix == "abalone-demo"
    backend.registry.create_group("abalone-demo")
    assert free_names(backend).prefix == "abalone-demo-2"


def test_the_demo_refuses_remote_mode(cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_SERVER_URL", "http://127.0.0.1:9")
    result = cli("demo")
    assert result.exit_code == 2 and "unset SLIPWAY_SERVER_URL" in result.stderr


def test_without_scikit_learn_the_demo_names_the_extra(
    cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)  # what an install without the extra looks like
    result = cli("demo")
    assert result.exit_code == 4 and "pip install 'slipway-mlops[sklearn]'" in result.stderr
