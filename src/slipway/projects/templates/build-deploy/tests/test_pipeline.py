"""The build pipeline registers a good model for approval and refuses a bad one."""

from __future__ import annotations

from pathlib import Path

import pytest
from slipway import Client
from slipway.pipelines import ExecutionStatus

from model_build.__main__ import main
from model_build.config import ProjectConfig
from model_build.pipeline import build_pipeline


def test_the_pipeline_registers_a_version_for_approval(client: Client, config: ProjectConfig, sample: Path) -> None:
    pipeline = build_pipeline(config.model_group, mse_threshold=config.mse_threshold)
    execution = client.pipelines.run(pipeline, parameters={"input_data": str(sample)})

    assert execution.status is ExecutionStatus.SUCCEEDED, execution.failure_reason
    version = client.registry.get_latest_version(config.model_group)
    assert version.status.value == "PendingManualApproval"
    mse = version.metrics["mse"]
    assert 0 < mse.value <= config.mse_threshold and mse.std is not None
    assert version.signature is not None  # requests to an endpoint are checked against it
    assert {c["name"] for c in version.signature["inputs"]} >= {"length", "sex_F"}


def test_a_model_above_the_threshold_is_not_registered(client: Client, config: ProjectConfig, sample: Path) -> None:
    pipeline = build_pipeline(config.model_group, mse_threshold=0.01)
    execution = client.pipelines.run(pipeline, parameters={"input_data": str(sample)})

    assert execution.status is ExecutionStatus.FAILED
    assert "above 0.01" in (execution.failure_reason or "")
    assert client.registry.list_groups(config.model_group) == []


def test_the_build_will_not_ask_a_server_to_import_this_project(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLIPWAY_SERVER_URL", "http://127.0.0.1:9")
    with pytest.raises(SystemExit) as stopped:
        main([])
    assert stopped.value.code == 2 and "--on-server" in capsys.readouterr().err
