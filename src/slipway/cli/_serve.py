"""``slipway serve ENDPOINT``: one endpoint's inference server, on this machine's store.

It reads endpoints and model versions from the store of the current settings (not through a
``slipway server``), since it must load the model files and write captured data itself.

``slipway serve --bundle DIR`` serves a serving bundle instead (:mod:`slipway.serving._bundle`):
no metadata database, no artifact store; captured data goes to ``--capture URL``.

Worker processes: a model call holds the GIL, so one process answers one request at a time.
``--workers N`` (by default the total of the endpoint's live variants' ``workers``) starts N
uvicorn worker processes on the same port; each loads every variant and splits traffic by
weight on its own, so the split holds across them. They share their metrics through
prometheus_client's multiprocess files in a folder of the run, so ``/metrics`` counts all of them
whichever one answers.

``--engine ray`` serves the endpoint (or the bundle) on Ray Serve instead
(:mod:`slipway.serving._ray`): each model version a deployment of replicas (a variant's
``workers``, or its autoscaling bounds), an ingress in front doing all of the above (its own
replicas fixed, or autoscaled up to ``--ingress-max-replicas``), on a new local Ray cluster or
the one at ``--address``; Ray Serve's HTTP proxy listens on ``--host``/``--port``.
"""

from __future__ import annotations

import enum
import functools
import json
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from slipway._backend import Backend, serving_services
from slipway._config import Settings, load_settings
from slipway.cli import _output
from slipway.cli._server import LogLevel, _is_loopback

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from slipway._disclosure import PathScreen
    from slipway.serving import Bundle, RayEndpoint, ServingHost, ServingMetrics


class Engine(enum.StrEnum):
    local = "local"
    ray = "ray"


# What the parent hands its worker processes, which rebuild the app from the environment.
_OPTIONS_ENV = "SLIPWAY_SERVE_OPTIONS"
_SETTINGS_ENV = {"SLIPWAY_HOME": "home", "SLIPWAY_DB_URL": "db_url", "SLIPWAY_ARTIFACT_URL": "artifact_url"}


def serve(
    ctx: typer.Context,
    endpoint: Annotated[
        str | None,
        typer.Argument(metavar="ENDPOINT", help="The endpoint to serve (or --bundle).", show_default=False),
    ] = None,
    bundle: Annotated[
        Path | None,
        typer.Option("--bundle", metavar="DIR", show_default=False,
                     help="Serve this serving bundle (slipway models bundle, slipway endpoints bundle) with no "
                          "database and no artifact store."),
    ] = None,
    capture: Annotated[
        str | None,
        typer.Option("--capture", metavar="URL", envvar="SLIPWAY_CAPTURE_URL", show_default=False,
                     help="With --bundle: where captured requests go, a folder or s3://bucket/prefix [default: none]."),
    ] = None,
    capture_percent: Annotated[
        float | None,
        typer.Option(min=0, max=100, show_default=False,
                     help="With --capture: the share of requests captured [default: the bundle's setting, or 100]."),
    ] = None,
    expect_digest: Annotated[
        str | None,
        typer.Option("--expect-digest", metavar="sha256:HEX", envvar="SLIPWAY_BUNDLE_DIGEST", show_default=False,
                     help="With --bundle: the digest the bundle command printed. The bundle must match it, and "
                          "the trust marks it records are honoured (versions that run code when loaded)."),
    ] = None,
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
    engine: Annotated[
        Engine, typer.Option(help="local: uvicorn worker processes here; ray: Ray Serve replicas per variant.")
    ] = Engine.local,
    address: Annotated[
        str | None,
        typer.Option(help="With --engine ray: the Ray cluster to use (e.g. ray://head:10001 or auto) "
                          "[default: a new local cluster].", show_default=False),
    ] = None,
    ingress_replicas: Annotated[
        int, typer.Option(min=1, max=64, help="With --engine ray: replicas of the ingress (routing, capture); "
                                              "the fewest, with --ingress-max-replicas.")
    ] = 1,
    ingress_max_replicas: Annotated[
        int | None,
        typer.Option(min=1, max=64, show_default=False,
                     help="With --engine ray: the ingress scales by load between --ingress-replicas and this "
                          "[default: it does not scale]."),
    ] = None,
    ingress_target_ongoing: Annotated[
        float, typer.Option(min=0.01, help="With --ingress-max-replicas: requests in flight per ingress replica "
                                           "the autoscaler aims at.")
    ] = 8.0,
    replica_cpus: Annotated[
        float, typer.Option(min=0, help="With --engine ray: CPUs each model replica reserves on the cluster.")
    ] = 1.0,
) -> None:
    """Serve an endpoint: POST /invocations (JSON or CSV), /health, /ready and Prometheus /metrics.

    It follows the endpoint's deployments as they happen and rolls a canary back when its alarms
    fire. Stop it with Ctrl-C or SIGTERM: captured data is flushed to the artifact store first,
    by every worker process (every ingress replica, on Ray).

    With --bundle DIR it serves a serving bundle with no database: every file is checked against
    the bundle's hashes first, and captured data goes to --capture.
    """
    if (endpoint is None) == (bundle is None):
        raise typer.BadParameter("name an ENDPOINT or give --bundle DIR, not both", param_hint="ENDPOINT")
    # Typed on the command line, not set in the environment (Typer's own Click: compare by name).
    given = [name for name in ("capture", "capture_percent", "expect_digest")
             if getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"]
    if bundle is None and given:  # from the environment, they are simply not for this server
        raise typer.BadParameter("applies with --bundle only", param_hint=f"'--{given[0].replace('_', '-')}'")
    if ingress_max_replicas is not None and ingress_max_replicas < ingress_replicas:
        raise typer.BadParameter(f"is below --ingress-replicas ({ingress_replicas})",
                                 param_hint="'--ingress-max-replicas'")
    if not _is_loopback(host):
        _output.warning(
            f"listening on {host}, which other machines can reach; the endpoint does not check who calls it"
        )
    # Imported here: uvicorn, Starlette and the model flavors slow every other command's start-up.
    import uvicorn

    from slipway.serving import RayEndpoint, ServingHost, create_inference_app

    settings = load_settings()
    on_ray: dict[str, Any] | None = None
    if engine is Engine.ray:
        from slipway.serving import Autoscaling

        scaling = None if ingress_max_replicas is None else Autoscaling.model_validate(
            {"min_replicas": ingress_replicas, "max_replicas": ingress_max_replicas,
             "target_ongoing": ingress_target_ongoing}
        )
        on_ray = {"poll_seconds": poll_seconds, "max_batch_size": max_batch_size, "max_wait_ms": max_wait_ms,
                  "allowed_hosts": allowed_hosts(settings, host), "ingress_replicas": ingress_replicas,
                  "ingress_autoscaling": scaling, "replica_cpus": replica_cpus}
    if bundle is not None:
        options: dict[str, Any] = {
            "capture_url": capture, "capture_percent": capture_percent, "expect_digest": expect_digest,
            "poll_seconds": poll_seconds, "max_batch_size": max_batch_size, "max_wait_ms": max_wait_ms,
        }
        if on_ray is not None:
            _serve_bundle_on_ray(settings, bundle, options, on_ray, host=host, port=port, address=address)
            return
        _serve_bundle(settings, bundle, options, workers, host=host, port=port, log_level=log_level.value)
        return
    assert endpoint is not None
    backend = Backend(settings)
    backend.confine()  # its callers are other people: what it says names no path of this machine
    try:
        found = backend.serving.get_endpoint(endpoint)  # fail with a clear error before binding the port
        if on_ray is not None:
            served = functools.partial(RayEndpoint, endpoint, backend.serving, backend.registry,
                                       functools.partial(serving_services, backend.settings), **on_ray)
            _serve_on_ray(served, host=host, port=port, address=address)
            return
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
        ), allowed_hosts(settings, host), backend.confinement.paths)
        _output.say(
            f"Serving endpoint [bold]{escape(endpoint)}[/bold] on http://{escape(host)}:{port} (Ctrl-C to stop)"
        )
        uvicorn.run(app, host=host, port=port, log_level=log_level.value)
    finally:
        backend.close()


def _serve_bundle(
    settings: Settings, folder: Path, options: dict[str, Any], workers: int | None, *, host: str, port: int,
    log_level: str,
) -> None:
    """Serve a bundle (blocks): checked here before the port is bound, and again by each worker."""
    import uvicorn

    from slipway.serving import create_inference_app, open_bundle

    opened = open_bundle(folder, expect_digest=options["expect_digest"])
    endpoint = opened.endpoint
    if options["capture_url"] is None and endpoint.capture.sampling_percent > 0:
        _output.warning(f"the bundle captures {endpoint.capture.sampling_percent:g}% of requests, but no --capture "
                        "URL says where: nothing is captured")
    count = workers or max(1, sum(v.workers for v in endpoint.variants if not v.shadow))
    where = f"[bold]{escape(endpoint.name)}[/bold] from the bundle {escape(str(folder))} on http://{escape(host)}:{port}"
    hosts = allowed_hosts(settings, host)
    if count > 1:
        _output.say(f"Serving endpoint {where} with {count} worker processes (Ctrl-C to stop)")
        _run_workers(settings, {**options, "bundle": str(folder.resolve()), "endpoint": endpoint.name,
                                "allowed_hosts": hosts}, count, host=host, port=port, log_level=log_level)
        return
    app = guarded(create_inference_app(_bundle_host(opened, options), endpoint.name), hosts,
                  _bundle_screen(settings, folder))
    _output.say(f"Serving endpoint {where} (Ctrl-C to stop)")
    uvicorn.run(app, host=host, port=port, log_level=log_level)


def _bundle_screen(settings: Settings, folder: Path) -> PathScreen:
    """What a bundle's server hides in its errors: a server's folders, and the bundle's own."""
    from slipway._confinement import server_folders
    from slipway._disclosure import PathScreen

    return PathScreen.around([*server_folders(settings), folder.resolve()])


def _bundle_host(opened: Bundle, options: dict[str, Any], metrics: ServingMetrics | None = None) -> ServingHost:
    return opened.serving_host(
        capture_url=options["capture_url"],
        capture_percent=options["capture_percent"],
        poll_seconds=max(options["poll_seconds"], 60.0),  # nothing changes: the watch only idles
        max_batch_size=options["max_batch_size"],
        max_wait_ms=options["max_wait_ms"],
        metrics=metrics,
    )


def _serve_bundle_on_ray(
    settings: Settings, folder: Path, options: dict[str, Any], on_ray: dict[str, Any], *, host: str, port: int,
    address: str | None,
) -> None:
    """Serve a bundle on Ray Serve (blocks): checked here before anything starts, and again by each replica."""
    from slipway._confinement import server_folders
    from slipway.serving import RayEndpoint, open_bundle

    opened = open_bundle(folder, expect_digest=options["expect_digest"])
    if options["capture_url"] is None and opened.endpoint.capture.sampling_percent > 0:
        _output.warning(f"the bundle captures {opened.endpoint.capture.sampling_percent:g}% of requests, but no "
                        "--capture URL says where: nothing is captured")
    served = functools.partial(
        RayEndpoint.for_bundle, opened, capture_url=options["capture_url"], capture_percent=options["capture_percent"],
        hidden=[*server_folders(settings), folder.resolve()],
        **{**on_ray, "poll_seconds": max(on_ray["poll_seconds"], 60.0)},  # nothing changes: the watch only idles
    )
    _serve_on_ray(served, host=host, port=port, address=address)


def _serve_on_ray(served: Callable[[], RayEndpoint], *, host: str, port: int, address: str | None) -> None:
    """Serve the endpoint ``served()`` makes on Ray Serve until SIGTERM or Ctrl-C, then delete its
    applications (blocks)."""
    try:
        import ray
        from ray import serve
    except ImportError:
        from slipway.errors import MissingExtra

        raise MissingExtra("ray", "ray[serve]") from None
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no reporting home
    ours = not ray.is_initialized() and not address
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, log_to_driver=False)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        serve.start(http_options={"host": host, "port": port})
        endpoint = served()
        try:
            endpoint.deploy()
            _output.say(f"Serving endpoint [bold]{escape(endpoint.name)}[/bold] on Ray Serve at "
                        f"http://{escape(host)}:{port} (Ctrl-C to stop)")
            endpoint.run(stop)
        finally:
            endpoint.close()
    finally:
        if ours:
            serve.shutdown()
            ray.shutdown()


def allowed_hosts(settings: Settings, host: str) -> list[str]:
    """The host names the inference server answers: the setting, else ``host`` and the loopback names."""
    from slipway._origins import default_allowed_hosts

    return list(default_allowed_hosts(host, settings.allowed_hosts))


def guarded(app: ASGIApp, hosts: list[str], screen: PathScreen | None = None) -> ASGIApp:
    """``app`` answering only requests addressed to ``hosts``, refusing cross-origin browser posts,
    and naming no path ``screen`` hides in its errors (a confined backend's)."""
    from slipway._disclosure import ScreenedErrorsMiddleware
    from slipway._origins import OriginGuard

    if screen is not None:
        app = ScreenedErrorsMiddleware(app, screen=screen)
    return OriginGuard(app, allowed_hosts=hosts)


def _run_workers(
    settings: Settings, options: dict[str, Any], count: int, *, host: str, port: int, log_level: str
) -> None:
    """Run ``count`` uvicorn worker processes of :func:`worker_app` until stopped (blocks)."""
    from slipway.server import run_workers  # brings FastAPI: import when serving
    from slipway.serving import multiprocess_folder

    if "bundle" not in options:  # a bundle's workers open no store
        os.environ.update({var: str(getattr(settings, name)) for var, name in _SETTINGS_ENV.items()})
    with multiprocess_folder() as shared:
        os.environ[_OPTIONS_ENV] = json.dumps({**options, "metrics_folder": str(shared)})
        run_workers(f"{__name__}:worker_app", count, host=host, port=port, log_level=log_level)


def worker_app() -> ASGIApp:
    """App factory of one worker process of ``slipway serve --workers N`` (uvicorn calls it)."""
    from slipway.serving import ServingHost, ServingMetrics, create_inference_app

    options = json.loads(os.environ[_OPTIONS_ENV])
    metrics = ServingMetrics(Path(options["metrics_folder"]))
    if "bundle" in options:
        from slipway.serving import open_bundle

        opened = open_bundle(options["bundle"], expect_digest=options["expect_digest"])
        return guarded(create_inference_app(_bundle_host(opened, options, metrics), options["endpoint"]),
                       options["allowed_hosts"], _bundle_screen(load_settings(), Path(options["bundle"])))
    backend: Backend = Backend(load_settings())
    backend.confine()
    host = ServingHost(
        backend.serving,
        backend.registry,
        backend.artifacts,
        poll_seconds=options["poll_seconds"],
        max_batch_size=options["max_batch_size"],
        max_wait_ms=options["max_wait_ms"],
        metrics=metrics,
    )
    return guarded(create_inference_app(host, options["endpoint"], on_close=backend.close), options["allowed_hosts"],
                   backend.confinement.paths)
