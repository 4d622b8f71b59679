"""``slipway demo``: the README's main job, the whole loop on the bundled abalone data with nothing to set up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from sqlalchemy.engine import make_url

from slipway._backend import Backend
from slipway._config import load_settings
from slipway.cli import _output
from slipway.cli._server import server
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from slipway.demo import DemoResult


def demo(
    serve: Annotated[
        bool,
        typer.Option(
            "--serve", help="Afterwards keep `slipway server --no-auth` running on 127.0.0.1 to browse it all."
        ),
    ] = False,
    port: Annotated[int, typer.Option(min=1, max=65535, help="The port of the server --serve starts.")] = 5000,
) -> None:
    """Run the closed loop of MLOps on the bundled abalone data, in about a minute.

    Build a model with a pipeline, check its MSE, register it, approve it, deploy it with data
    capture, send traffic, baseline and monitor it, send drifted traffic, raise an alarm, let a rule
    start the retraining pipeline, approve the new version and let a rule roll it out as a canary.
    Everything lands in the local store (`./.slipway`, or `SLIPWAY_HOME`); a second run makes
    objects of its own (abalone-demo-2, ...). Needs scikit-learn: `pip install 'slipway-mlops[sklearn]'`.

    With --serve, the UI stays up afterwards on this machine only, without authentication.
    """
    settings = load_settings()
    if settings.remote:
        raise InvalidInput(
            "the demo runs on the local store, with its own serving host and automation; "
            "unset SLIPWAY_SERVER_URL (and point SLIPWAY_HOME at the store a server shares, if you like)",
            field="SLIPWAY_SERVER_URL",
        )
    # Imported here: the demo brings pandas, the pipelines and serving, which no other command should pay for.
    from slipway.demo import run_loop_demo

    console = _output.stdout()
    console.print("[bold]Slipway demo[/bold]: build, deploy, watch, detect drift, retrain and roll out")
    backend = Backend(settings)
    try:
        result = run_loop_demo(backend, say=lambda line: console.print(line, markup=False, highlight=False))
    finally:
        backend.close()
    _summary(result)
    names, url = result.names, f"http://127.0.0.1:{port}"
    database = make_url(settings.db_url).render_as_string(hide_password=True)
    console.print(
        f"\nEverything is in {escape(str(settings.home))} (database {escape(database)}). Look around with:\n\n"
        f"  slipway models list\n"
        f"  slipway endpoints show {names.prefix}\n"
        f"  slipway monitor executions {names.monitor}\n"
        f"  slipway pipelines list\n"
        f"  slipway rules history {names.retrain_rule}\n\n"
        f"or in the UI, after `slipway server --no-auth --port {port}` (what `slipway demo --serve` starts):\n\n"
        f"  {url}/endpoints/{names.prefix}\n"
        f"  {url}/models/{names.prefix}\n"
        f"  {url}/monitoring/{names.monitor}\n"
        f"  {url}/pipelines/{names.prefix}\n",
        highlight=False,
    )
    if serve:
        server(port=port, no_auth=True)


def _summary(result: DemoResult) -> None:
    console = _output.stdout()
    serving = {v.model: v for v in result.endpoint.variants}
    versions = _output.table("version", "status", "test MSE ± sd", "trained on", "serving", title="Model versions")
    for version in result.versions:
        model = f"{version.group}/{version.version}"
        trained_on = "history + new labels" if version.version > result.versions[0].version else "history"
        versions.add_row(
            model, version.status.value, str(version.metrics["mse"]), trained_on, "yes" if model in serving else "no"
        )
    console.print(versions)

    variants = _output.table("variant", "model", "weight", title=f"Endpoint {result.endpoint.name}")
    for variant in result.endpoint.variants:
        variants.add_row(variant.name, variant.model, f"{variant.weight:g}")
    console.print(variants)

    found = _output.table("feature", "check", "finding", title="Violations in the drifted traffic")
    for violation in result.violations:
        found.add_row(violation["feature_name"], violation["constraint_check_type"], violation["description"])
    console.print(found)

    runs = _output.table("rule", "on", "did", title="What the rules did")
    for run in result.automation_runs:
        outcome = ", ".join(f"{k} {v}" for k, v in (run.result or {}).items()) or (run.error or "")
        did = f"{run.action.get('kind', '')} {run.status}: {outcome}"
        runs.add_row(run.source_name, run.event.get("type", ""), did)
    console.print(runs)
