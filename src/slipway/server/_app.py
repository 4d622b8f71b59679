"""The FastAPI application and the uvicorn runner behind ``slipway server``."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import uvicorn
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from slipway._backend import Backend
from slipway._config import Settings, load_settings
from slipway._disclosure import ScreenedErrorsMiddleware
from slipway._origins import OriginGuard, default_allowed_hosts
from slipway._version import __version__
from slipway.automation import AutomationService
from slipway.clarify import ClarifyService
from slipway.datasets import DatasetService
from slipway.features import FeatureService
from slipway.lineage import LineageService
from slipway.monitoring import MonitoringService, render_monitor_metrics
from slipway.pipelines import PipelineService
from slipway.registry import RegistryService
from slipway.security import SecurityService
from slipway.server._automation_routes import hooks_router
from slipway.server._clarify_routes import router as clarify_router
from slipway.server._dataset_routes import router as dataset_router
from slipway.server._errors import ERROR_RESPONSES, UnexpectedErrorMiddleware, install_error_handlers
from slipway.server._feature_routes import router as feature_router
from slipway.server._guard import RouteGuardMiddleware, RouteIndex, needs
from slipway.server._headers import SecurityHeadersMiddleware
from slipway.server._identity import IdentityMiddleware, server_approval_policy
from slipway.server._jobs import router as jobs_router
from slipway.server._limits import BodyLimitMiddleware
from slipway.server._monitoring_routes import router as monitoring_router
from slipway.server._operations import add_operation_routes, ordered
from slipway.server._pipeline_routes import router as pipeline_router
from slipway.server._redaction import RedactionMiddleware
from slipway.server._scheduling import scheduler_lifespan
from slipway.server._workers import run_workers
from slipway.server.mlflow import mount_mlflow
from slipway.server.ui import ui_router
from slipway.serving import (
    MULTIPROCESS_ENV,
    ServingHost,
    ServingMetrics,
    ServingService,
    mount_inference,
    multiprocess_folder,
)
from slipway.store import JobQueue
from slipway.store.artifacts import sweep_spools
from slipway.tracking import TrackingService

API_PREFIX = "/api/v1"  # the remote client's prefix too (slipway.client._http)


class Health(BaseModel):
    status: str


class Version(BaseModel):
    version: str
    api: str


def create_app(
    backend: Backend,
    *,
    auth: bool = True,
    allowed_hosts: Sequence[str] | None = None,
    metrics_folder: Path | None = None,
    offload: bool = False,
) -> FastAPI:
    """Build the REST API over ``backend``'s services.

    The caller owns ``backend`` and closes it; the app only uses it, so tests can serve a backend
    they also read directly. Every request needs an API token (see :mod:`slipway.server._identity`)
    unless ``auth`` is False; model approvals follow the server's stricter policy (approver role,
    and separation of duties unless the settings turn it off); the backend is confined
    (:meth:`~slipway._backend.Backend.confine`): what requests name is held to ``pipeline_modules``
    and ``dataset_roots``, and no request makes a model trusted. Requests addressed to a host other
    than ``allowed_hosts`` (by default the ``allowed_hosts`` setting, else the loopback names) are
    answered 421 (see :mod:`slipway._origins`). ``metrics_folder`` is the multiprocess folder of a
    run of several worker processes (see :mod:`slipway.serving._metrics`): ``GET /metrics`` then
    totals every worker's serving counters.

    With ``offload``, worker processes (``slipway worker``, which :func:`serve` starts) do the
    heavy work: this process orchestrates no pipeline execution (they are queued for the workers),
    runs no scheduler, and hands a monitor's run over captured traffic or the records a request
    sent, a clarify report over a registered dataset, an upload registered as a dataset version,
    a feature ingest, and the operations declared ``job=True`` (automation's gc, run-due and
    dispatch, materializing, batch transform) to a worker as jobs, awaiting their end without
    holding a thread (or answering ``202`` and the job at once: see :mod:`slipway.server._jobs`),
    and the action of a hook call too (answered at once); the API stays responsive meanwhile.
    Without it this process does all of it, as one process serving tests does.

    Example:
        >>> from slipway import load_settings
        >>> app = create_app(Backend(load_settings(home="/tmp/slipway-doc")))
        >>> "/api/v1/runs/search" in app.openapi()["paths"]
        True
    """
    app = FastAPI(
        title="Slipway",
        version=__version__,
        description="The REST API of Slipway: experiment tracking (more domains follow).",
        openapi_url="/openapi.json",
        lifespan=scheduler_lifespan,  # the scheduler thread (settings.scheduler_interval; 0: off)
    )
    app.state.backend = backend
    app.state.offload = offload
    app.state.jobs = JobQueue(backend.db, int(backend.settings.lease_seconds * 1000))
    if offload:
        backend.orchestrates = False
        if "pipelines" in backend.__dict__:
            backend.pipelines.orchestrate = False
    backend.confine()  # callers are other people now: the settings decide what they may run and read
    sweep_spools()  # what uploads cut short by a killed server process left behind
    install_error_handlers(app)
    app.add_middleware(RedactionMiddleware)  # inside the identity middleware: it knows who asks
    index = RouteIndex()  # what each route declares, read at the first request (slipway.server._guard)
    app.add_middleware(RouteGuardMiddleware, index=index)  # inside identity: it knows who acts
    app.add_middleware(IdentityMiddleware, db=backend.db, auth=auth)
    backend.registry.policy = server_approval_policy(backend.settings)
    app.add_middleware(UnexpectedErrorMiddleware)  # added last, so outermost: it wraps the others

    @app.get("/health", tags=["meta"])
    async def health() -> Health:
        """Liveness: the process answers. It does not touch the database."""
        return Health(status="ok")

    api = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES)

    @api.get("/version", tags=["meta"], dependencies=[needs(None)])
    async def version() -> Version:
        return Version(version=__version__, api=API_PREFIX.rsplit("/", 1)[-1])

    declared = APIRouter()  # the routes derived from the services' declared operations (slipway._operations)
    add_operation_routes(declared, TrackingService, "tracking")
    add_operation_routes(declared, RegistryService, "registry")
    add_operation_routes(declared, ServingService, "serving")
    add_operation_routes(declared, SecurityService, "security")
    add_operation_routes(declared, AutomationService, "automation")
    add_operation_routes(declared, DatasetService, "datasets")
    add_operation_routes(declared, FeatureService, "features")
    add_operation_routes(declared, ClarifyService, "clarify")
    add_operation_routes(declared, MonitoringService, "monitoring")
    add_operation_routes(declared, PipelineService, "pipelines")
    add_operation_routes(declared, LineageService, "lineage")
    api.include_router(ordered(declared))
    api.include_router(dataset_router)
    api.include_router(feature_router)
    api.include_router(monitoring_router)
    api.include_router(clarify_router)
    api.include_router(pipeline_router)
    api.include_router(jobs_router)
    app.include_router(api)
    mount_mlflow(app)  # MLflow's client speaks to /api/2.0/mlflow and /api/2.0/mlflow-artifacts
    app.include_router(hooks_router)  # POST /hooks/{name}: signed by HMAC, outside the token-checked API
    app.include_router(ui_router)  # the web UI's pages at / (after the API: /api/v1 paths stay the API's)
    # Kept on the app so the UI's endpoint pages can chart the traffic its metrics count.
    app.state.serving_host = ServingHost(backend.serving, backend.registry, backend.artifacts,
                                         metrics=ServingMetrics(metrics_folder))
    mount_inference(app, app.state.serving_host, more_metrics=lambda: _monitor_metrics(backend))
    # Outermost of all: every response, a refused body's and a 500's included, has the security headers.
    settings = backend.settings
    app.add_middleware(BodyLimitMiddleware, max_request_bytes=settings.max_request_bytes,
                       max_upload_bytes=settings.max_upload_bytes, index=index)
    hosts = allowed_hosts or default_allowed_hosts("localhost", settings.allowed_hosts)
    app.add_middleware(OriginGuard, allowed_hosts=hosts)  # before a token is looked up or a body read
    # Whatever a deeper layer wrote into an error's text, no path of the server's folders leaves in it.
    app.add_middleware(ScreenedErrorsMiddleware, screen=backend.confinement.paths)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def _monitor_metrics(backend: Backend) -> str:
    """The gauges of every monitor's latest execution and of every alarm, for ``GET /metrics``."""
    monitoring = backend.monitoring
    return render_monitor_metrics(monitoring.latest_executions(), monitoring.list_alarms())


# Worker processes cannot be handed an app object: they rebuild it from these variables.
_WORKER_ENV = {"SLIPWAY_HOME": "home", "SLIPWAY_DB_URL": "db_url", "SLIPWAY_ARTIFACT_URL": "artifact_url"}


_NO_AUTH_ENV = "SLIPWAY_SERVER_NO_AUTH"  # tells worker processes the server runs with --no-auth
_OFFLOAD_ENV = "SLIPWAY_SERVER_OFFLOAD"  # tells them background workers do the heavy work
_STOP_GRACE_S = 10.0


def _worker_app() -> FastAPI:
    """App factory for ``workers > 1``: each uvicorn worker process builds its own backend."""
    settings = load_settings()  # SLIPWAY_ALLOWED_HOSTS holds the parent's list, bound address included
    return create_app(Backend(settings), auth=os.environ.get(_NO_AUTH_ENV) != "1",
                      metrics_folder=Path(os.environ[MULTIPROCESS_ENV]), offload=os.environ.get(_OFFLOAD_ENV) == "1")


@contextlib.contextmanager
def background_workers(count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Run ``count`` worker processes (``python -m slipway.worker``) while the block runs.

    They read the settings as this process does (its environment and working directory); one
    that dies is started again within a second. Each exits by itself if this process is killed.
    """
    command = [sys.executable, "-m", "slipway.worker", str(os.getpid())]
    processes = [subprocess.Popen(command) for _ in range(count)]
    stop = threading.Event()

    def supervise() -> None:
        while not stop.wait(1.0):
            for i, process in enumerate(processes):
                if process.poll() is not None and not stop.is_set():
                    processes[i] = subprocess.Popen(command)

    watcher = threading.Thread(target=supervise, name="slipway-worker-supervisor", daemon=True)
    watcher.start()
    try:
        yield processes
    finally:
        stop.set()
        watcher.join()
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(_STOP_GRACE_S)
            except subprocess.TimeoutExpired:  # executions still running: their leases run out, others take over
                process.kill()
                process.wait()


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 5000,
    workers: int = 1,
    log_level: str = "info",
    *,
    auth: bool = True,
    background: int = 1,
) -> None:
    """Serve the API with uvicorn until interrupted (blocks).

    ``background`` worker processes (:func:`background_workers`) orchestrate pipeline executions,
    run monitors over captured traffic and the scheduler (schedules, rule actions, garbage
    collection), off the API's processes; 0 does all of it in the API process.

    Every call needs a token unless ``auth`` is False, which only a loopback ``host`` allows (the
    CLI checks it and warns). The server answers requests addressed to the ``allowed_hosts``
    setting, by default to ``host`` and the loopback names. With ``workers > 1`` the effective
    engine settings are exported to the environment of this process, which the workers inherit.
    """
    hosts = default_allowed_hosts(host, settings.allowed_hosts)
    Backend(settings).close()  # migrate once here, not in a race between the workers
    os.environ.update({var: str(getattr(settings, name)) for var, name in _WORKER_ENV.items()})
    offload = background > 0
    with background_workers(background):
        if workers <= 1:
            backend = Backend(settings)
            try:
                app = create_app(backend, auth=auth, allowed_hosts=hosts, offload=offload)
                uvicorn.run(app, host=host, port=port, log_level=log_level)
            finally:
                backend.close()
            return
        os.environ[_NO_AUTH_ENV] = "0" if auth else "1"
        os.environ[_OFFLOAD_ENV] = "1" if offload else "0"
        os.environ["SLIPWAY_ALLOWED_HOSTS"] = ",".join(hosts)
        with multiprocess_folder():  # the workers' serving counters, totalled by /metrics
            run_workers(f"{__name__}:_worker_app", workers, host=host, port=port, log_level=log_level)
