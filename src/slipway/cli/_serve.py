"""``slipway serve ENDPOINT``: one endpoint's inference server, on this machine's store.

It reads endpoints and model versions from the store of the current settings (not through a
``slipway server``), since it must load the model files and write captured data itself.

Worker processes: a model call holds the GIL, so one process answers one request at a time.
``--workers N`` (by default the total of the endpoint's live variants' ``workers``) starts N
uvicorn worker processes on the same port; each loads every variant and splits traffic by
weight on its own, so the split holds across them. They share their metrics through
prometheus_client's multiprocess files in a folder of the run, so ``/metrics`` counts all of them
whichever one answers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from slipway._backend import Backend
from slipway._config import Settings, load_settings
from slipway.cli import _output
from slipway.cli._server import LogLevel, _is_loopback

if TYPE_CHECKING:
    from starlette.types import ASGIApp


# What the parent hands its worker processes, which rebuild the app from the environment.
_OPTIONS_ENV = "SLIPWAY_SERVE_OPTIONS"
_SETTINGS_ENV = {"SLIPWAY_HOME": "home", "SLIPWAY_DB_URL": "db_url", "SLIPWAY_ARTIFACT_URL": "artifact_url"}


def serve(
    endpoint: Annotated[str, typer.Argument(metavar="ENDPOINT", help="The endpoint to serve.", show_default=False)],
    host: Annotated[str, typer.Option(help="Address to listen on; 127.0.0.1 accepts this machine only.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port to listen on.")] = 8080,
    poll_seconds: Annotated[
        float, typer.Option(min=0.01, help="How often to check the endpoint for changes and report on a rollout.")
    ] = 1.0,
    max_batch_size: Annotated[
        int, typer.Option(min=1, help="Answer up to this many waiting requests with one model call (1: no batching).")
    ] = 1,
    max_wait_ms: Annotated[
        float, typer.Option(min=0, help="How long a request may wait for others to batch with.")
    ] = 2.0,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, show_default=False,
                     help="Worker processes, each serving every variant [default: the total of the endpoint's "
                          "live variants' workers]. A model call keeps one process busy: more serve more at once."),
    ] = None,
    log_level: Annotated[LogLevel, typer.Option(help="How much the server logs.")] = LogLevel.INFO,
) -> None:
    """Serve an endpoint: POST /invocations (JSON or CSV), /health, /ready and Prometheus /metrics.

    It follows the endpoint's deployments as they happen and rolls a canary back when its alarms
    fire. Stop it with Ctrl-C or SIGTERM: captured data is flushed to the artifact store first,
    by every worker process.
    """
    if not _is_loopback(host):
        _output.warning(
            f"listening on {host}, which other machines can reach; the endpoint does not check who calls it"
        )
    # Imported here: uvicorn, Starlette and the model flavors slow every other command's start-up.
    import uvicorn

    from slipway.serving import ServingHost, create_inference_app

    settings = load_settings()
    backend = Backend(settings)
    try:
        found = backend.serving.get_endpoint(endpoint)  # fail with a clear error before binding the port
        count = workers or max(1, sum(v.workers for v in found.variants if not v.shadow))
        if count > 1:
            backend.close()  # migrated once here; each worker opens its own
            options = {"endpoint": endpoint, "poll_seconds": poll_seconds, "max_batch_size": max_batch_size,
                       "max_wait_ms": max_wait_ms, "allowed_hosts": allowed_hosts(settings, host)}
            _output.say(f"Serving endpoint [bold]{escape(endpoint)}[/bold] on http://{escape(host)}:{port} with "
                        f"{count} worker processes (Ctrl-C to stop)")
            _run_workers(settings, options, count, host=host, port=port, log_level=log_level.value)
            return
        app = guarded(create_inference_app(
            ServingHost(
                backend.serving,
                backend.registry,
                backend.artifacts,
                poll_seconds=poll_seconds,
                max_batch_size=max_batch_size,
                max_wait_ms=max_wait_ms,
            ),
            endpoint,
        ), allowed_hosts(settings, host))
        _output.say(
            f"Serving endpoint [bold]{escape(endpoint)}[/bold] on http://{escape(host)}:{port} (Ctrl-C to stop)"
        )
        uvicorn.run(app, host=host, port=port, log_level=log_level.value)
    finally:
        backend.close()


def allowed_hosts(settings: Settings, host: str) -> list[str]:
    """The host names the inference server answers: the setting, else ``host`` and the loopback names."""
    from slipway._origins import default_allowed_hosts

    return list(default_allowed_hosts(host, settings.allowed_hosts))


def guarded(app: ASGIApp, hosts: list[str]) -> ASGIApp:
    """``app`` answering only requests addressed to ``hosts`` and refusing cross-origin browser posts."""
    from slipway._origins import OriginGuard

    return OriginGuard(app, allowed_hosts=hosts)


def _run_workers(
    settings: Settings, options: dict[str, object], count: int, *, host: str, port: int, log_level: str
) -> None:
    """Run ``count`` uvicorn worker processes of :func:`worker_app` until stopped (blocks)."""
    from slipway.server import run_workers  # brings FastAPI: import when serving
    from slipway.serving import multiprocess_folder

    os.environ.update({var: str(getattr(settings, name)) for var, name in _SETTINGS_ENV.items()})
    with multiprocess_folder() as shared:
        os.environ[_OPTIONS_ENV] = json.dumps({**options, "metrics_folder": str(shared)})
        run_workers(f"{__name__}:worker_app", count, host=host, port=port, log_level=log_level)


def worker_app() -> ASGIApp:
    """App factory of one worker process of ``slipway serve --workers N`` (uvicorn calls it)."""
    from slipway.serving import ServingHost, ServingMetrics, create_inference_app

    options = json.loads(os.environ[_OPTIONS_ENV])
    backend: Backend = Backend(load_settings())
    host = ServingHost(
        backend.serving,
        backend.registry,
        backend.artifacts,
        poll_seconds=options["poll_seconds"],
        max_batch_size=options["max_batch_size"],
        max_wait_ms=options["max_wait_ms"],
        metrics=ServingMetrics(Path(options["metrics_folder"])),
    )
    return guarded(create_inference_app(host, options["endpoint"], on_close=backend.close), options["allowed_hosts"])
