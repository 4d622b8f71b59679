"""Deployment: nothing reaches staging unapproved; production takes staging's version as a canary."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from slipway import Client
from slipway.cli import app
from slipway.errors import NotFound
from typer.testing import CliRunner

from deploy import deploy_production, deploy_staging
from model_build.config import ProjectConfig
from model_build.pipeline import build_pipeline
from model_build.steps import TARGET, encode


def build(client: Client, config: ProjectConfig, sample: Path, alpha: float) -> int:
    """Run the build pipeline; the version it registered (pending approval)."""
    pipeline = build_pipeline(config.model_group, mse_threshold=config.mse_threshold)
    execution = client.pipelines.run(pipeline, parameters={"input_data": str(sample), "alpha": alpha})
    return int((execution.step("Register").properties or {})["version"])


def test_staging_waits_for_an_approved_version(client: Client, config: ProjectConfig, sample: Path) -> None:
    build(client, config, sample, alpha=1.0)
    with pytest.raises(NotFound, match="no approved version"):
        deploy_staging(client, config)


def test_approved_versions_reach_staging_then_production_as_a_canary(
    client: Client, config: ProjectConfig, sample: Path
) -> None:
    first = build(client, config, sample, alpha=1.0)
    client.registry.approve(config.model_group, first, comment="first approval")
    staging = deploy_staging(client, config)
    assert [v.model for v in staging.variants] == [f"{config.model_group}/{first}"]
    assert deploy_staging(client, config).revision == staging.revision  # deploying again changes nothing

    rows = encode(pd.read_csv(sample).head(3)).drop(columns=[TARGET])
    body = json.dumps({"dataframe_split": rows.to_dict(orient="split", index=False)})
    answer = CliRunner().invoke(app, ["endpoints", "invoke", config.staging.endpoint, "--data", body])
    assert answer.exit_code == 0, answer.output
    assert len(json.loads(answer.stdout)["predictions"]) == 3

    assert [v.model for v in deploy_production(client, config, "release-manager").variants] == [
        f"{config.model_group}/{first}"
    ]

    second = build(client, config, sample, alpha=0.5)
    client.registry.approve(config.model_group, second, comment="first approval")
    deploy_staging(client, config)
    production = deploy_production(client, config, "release-manager")
    assert production.deployment is not None
    assert production.deployment.strategy.kind == "canary" and production.deployment.share == 0.1
    assert [v.model for v in production.deployment.target] == [f"{config.model_group}/{second}"]
    assert client.registry.get_version_by_alias(config.model_group, "production").version == second
