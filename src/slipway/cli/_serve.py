"""``slipway serve ENDPOINT``: one endpoint's inference server, on this machine's store.

It reads endpoints and model versions from the store of the current settings (not through a
``slipway server``), since it must load the model files and write captured data itself.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from slipway._config import load_settings
from slipway.cli import _output
from slipway.cli._server import LogLevel, _is_loopback


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
    log_level: Annotated[LogLevel, typer.Option(help="How much the server logs.")] = LogLevel.INFO,
) -> None:
    """Serve an endpoint: POST /invocations (JSON or CSV), /health, /ready and Prometheus /metrics.

    It follows the endpoint's deployments as they happen and rolls a canary back when its alarms
    fire. Stop it with Ctrl-C or SIGTERM: captured data is flushed to the artifact store first.
    """
    if not _is_loopback(host):
        _output.warning(
            f"listening on {host}, which other machines can reach; the endpoint does not check who calls it"
        )
    # Imported here: uvicorn, Starlette and the model flavors slow every other command's start-up.
    import uvicorn

    from slipway._backend import Backend
    from slipway.serving import ServingHost, create_inference_app

    backend = Backend(load_settings())
    try:
        backend.serving.get_endpoint(endpoint)  # fail with a clear error before binding the port
        app = create_inference_app(
            ServingHost(
                backend.serving,
                backend.registry,
                backend.artifacts,
                poll_seconds=poll_seconds,
                max_batch_size=max_batch_size,
                max_wait_ms=max_wait_ms,
            ),
            endpoint,
        )
        _output.say(
            f"Serving endpoint [bold]{escape(endpoint)}[/bold] on http://{escape(host)}:{port} (Ctrl-C to stop)"
        )
        uvicorn.run(app, host=host, port=port, log_level=log_level.value)
    finally:
        backend.close()
