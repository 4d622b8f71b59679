"""Deployment of approved model versions: staging first, production after a second approval.

- ``staging`` serves the newest ``Approved`` version of the project's model group (the registry's
  approval is the first approval), switching all traffic at once and capturing every request.
- ``production`` serves the version staging serves, so what reaches users is what was tried. CI
  runs it only after a second, human approval (a protected environment, a manual job, an input
  step); it records that approval on the version as the registry alias ``production`` and rolls the
  version out as a canary, which an alarm rolls back.

Both are idempotent: deploying what an endpoint already serves changes nothing.
"""

from __future__ import annotations

from slipway import Client
from slipway.errors import NotFound
from slipway.serving import Endpoint

from model_build.config import ProjectConfig, Stage


def _serve(client: Client, stage: Stage, model: str) -> Endpoint:
    """Create the stage's endpoint serving ``model``, or move the existing one to it by the stage's strategy."""
    serving = client.serving
    try:
        endpoint = serving.get_endpoint(stage.endpoint)
    except NotFound:
        return serving.create_endpoint(
            stage.endpoint,
            [{"model": model}],
            capture={"sampling_percent": stage.capture_percent},
            alarms=stage.alarms or None,
        )
    if [v.model for v in endpoint.variants] == [model] and endpoint.deployment is None:
        return endpoint
    return serving.update_endpoint(
        stage.endpoint,
        [{"model": model}],
        strategy=stage.strategy,
        alarms=stage.alarms or None,
    )


def deploy_staging(client: Client, config: ProjectConfig, version: int | None = None) -> Endpoint:
    """Serve ``version`` (by default the newest approved one) on the staging endpoint.

    Raises:
        NotFound: when the group has no approved version yet: approve one first.
        Conflict: when ``version`` is not approved.
    """
    group = config.model_group
    chosen = client.registry.get_latest_version(group, approved=True).version if version is None else version
    return _serve(client, config.staging, f"{group}/{chosen}")


def deploy_production(client: Client, config: ProjectConfig, approved_by: str) -> Endpoint:
    """Roll the version staging serves out to production, recording ``approved_by``'s approval.

    Raises:
        NotFound: when staging serves nothing yet.
    """
    staging = client.serving.get_endpoint(config.staging.endpoint)
    model = staging.variants[0].model
    group, version = model.split("/")
    client.registry.set_alias(group, "production", int(version), comment=f"approved for production by {approved_by}")
    return _serve(client, config.production, model)
