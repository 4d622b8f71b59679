"""The data plane over HTTP: ``POST /endpoints/{name}/invocations`` and the routes that watch it.

Plain Starlette, not FastAPI: the invocation route is the hot path, and a validation layer would
only repeat the signature check. ``slipway serve``'s app answers its invocation paths before
Starlette's routing and middleware (:class:`_InvocationPath`): for a small model those cost more
than the prediction, and the answer is the same (JSON errors, headers, metrics, capture).

The prediction runs on the event loop, not in a thread: a model call is CPU-bound and holds the
GIL, so a thread hop would add latency without adding throughput (more worker processes add that).
Only a model that waits on other processes (Ray Serve's replicas, see
:func:`~slipway.serving._routing.waits_elsewhere`) is called on a worker thread.

:func:`create_inference_app` is what ``slipway serve NAME`` runs; :func:`mount_inference` adds the
invocation and metrics routes to ``slipway server``'s app, which loads an endpoint on its first
request.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import math
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from slipway._version import __version__
from slipway.errors import NotFound, SlipwayError
from slipway.security import PERMISSION_ATTRIBUTE, Permission
from slipway.serving import _v2 as v2
from slipway.serving._capture import CaptureStore
from slipway.serving._metrics import CONTENT_TYPE, ServingMetrics, TrafficHistory
from slipway.serving._payload import Payload, parse_body
from slipway.serving._routing import waits_elsewhere
from slipway.serving._runtime import Answer, ControlPlane, EndpointRuntime, ModelLoader, ModelSource, Prepared
from slipway.serving._service import check_endpoint_name

INFERENCE_ID_HEADER = "X-Slipway-Inference-Id"
VARIANT_RESPONSE_HEADER = "X-Slipway-Variant"


class ServingHost:
    """The endpoints one process serves, each started on first use, and their shared metrics.

    Thread-safe; :meth:`close` once, at shutdown (it flushes every endpoint's captured data).

    ``loader`` gives each model version's model (see :class:`EndpointRuntime`). A request is
    predicted on the event loop, or on a worker thread if its variant's model waits on other
    processes (:func:`~slipway.serving._routing.waits_elsewhere`): Ray Serve's ingress computes the
    version it hosts on its loop, as ``slipway serve`` does, and waits for the others' replicas in
    threads.
    """

    def __init__(
        self,
        service: ControlPlane,
        registry: ModelSource,
        artifacts: CaptureStore,
        *,
        poll_seconds: float = 1.0,
        max_batch_size: int = 1,
        max_wait_ms: float = 2.0,
        metrics: ServingMetrics | None = None,
        loader: ModelLoader | None = None,
    ) -> None:
        self.metrics = metrics or ServingMetrics()
        self.max_batch_size = max_batch_size
        self.max_wait_ms = max_wait_ms
        self._batchers: dict[str, _Batcher] = {}
        self._make: Callable[[str], EndpointRuntime] = lambda name: EndpointRuntime(
            name, service, registry, artifacts, self.metrics, poll_seconds=poll_seconds, loader=loader
        )
        self._runtimes: dict[str, EndpointRuntime] = {}
        self._lock = threading.Lock()
        self._traffic: TrafficHistory | None = None
        self._traffic_lock = threading.Lock()  # not _lock: that one is held while a model loads

    def get(self, name: str) -> EndpointRuntime | None:
        """The runtime of ``name`` if started (no locking: the request path's fast case)."""
        return self._runtimes.get(name)

    def start(self, name: str) -> EndpointRuntime:
        """The runtime of ``name``, loading the endpoint if no request has yet (blocks meanwhile)."""
        with self._lock:
            runtime = self._runtimes.get(name)
            if runtime is None:
                runtime = self._make(check_endpoint_name(name))
                runtime.start()
                self._runtimes[name] = runtime
            return runtime

    async def invoke(self, runtime: EndpointRuntime, body: bytes, content_type: str, headers: Any) -> Answer:
        """Answer a request, batched with others to the same endpoint when batching is on."""
        data, params = parse_body(body, content_type)
        return await self.invoke_input(runtime, data, headers, params=params)

    async def invoke_input(
        self,
        runtime: EndpointRuntime,
        data: Payload,
        headers: Any,
        variant: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> Answer:
        """Answer a parsed request (``variant``: pinned by the protocol; ``params``: its inference
        parameters), batched when batching is on."""
        prepared = runtime.prepare_input(data, headers, variant, params)
        if self.max_batch_size <= 1:
            if waits_elsewhere(prepared.route.model):
                [result] = await run_in_threadpool(runtime.answer, [prepared])
            else:
                [result] = runtime.answer([prepared])
            if isinstance(result, SlipwayError):
                raise result
            return result
        batcher = self._batchers.get(runtime.name)
        if batcher is None:
            batcher = self._batchers[runtime.name] = _Batcher(runtime, self.max_batch_size, self.max_wait_ms / 1000)
        return await batcher.submit(prepared)

    def traffic(self) -> TrafficHistory:
        """The rates over time of this host's metrics, sampled from the first call until :meth:`close`."""
        with self._traffic_lock:
            if self._traffic is None:
                self._traffic = TrafficHistory(self.metrics).start()
            return self._traffic

    @property
    def ready(self) -> bool:
        return all(r.ready for r in list(self._runtimes.values()))

    def close(self) -> None:
        with self._lock:
            for runtime in self._runtimes.values():
                runtime.close()
            self._runtimes.clear()
        with self._traffic_lock:
            if self._traffic is not None:
                self._traffic.close()
        self.metrics.close()


class _Batcher:
    """Dynamic micro-batching on the event loop: requests wait up to ``max_wait`` seconds, or until
    ``max_size`` are waiting, and are then answered by one model call per variant.

    Only the event loop's thread touches it, so it needs no lock. A batch any of whose models waits
    on other processes (:func:`~slipway.serving._routing.waits_elsewhere`) is answered on a worker
    thread while the loop takes more requests.
    """

    def __init__(self, runtime: EndpointRuntime, max_size: int, max_wait: float) -> None:
        self._runtime = runtime
        self._max_size = max_size
        self._max_wait = max_wait
        self._waiting: list[tuple[Prepared, asyncio.Future[Answer]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, request: Prepared) -> Answer:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        self._waiting.append((request, future))
        if len(self._waiting) >= self._max_size:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self._max_wait, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting, []
        if any(waits_elsewhere(request.route.model) for request, _ in batch):
            task = asyncio.get_running_loop().create_task(self._answer_in_thread(batch))
            self._tasks.add(task)  # held until done: the loop keeps only weak references
            task.add_done_callback(self._tasks.discard)
            return
        self._settle(batch, self._runtime.answer([request for request, _ in batch]))

    async def _answer_in_thread(self, batch: list[tuple[Prepared, asyncio.Future[Answer]]]) -> None:
        try:
            results = await run_in_threadpool(self._runtime.answer, [request for request, _ in batch])
        except Exception as exc:  # nobody awaits this task: every request of the batch gets the error
            for _, future in batch:
                future.set_exception(exc)
            return
        self._settle(batch, results)

    @staticmethod
    def _settle(batch: list[tuple[Prepared, asyncio.Future[Answer]]], results: list[Answer | SlipwayError]) -> None:
        for (_, future), result in zip(batch, results, strict=True):
            if isinstance(result, SlipwayError):
                future.set_exception(result)
            else:
                future.set_result(result)


def _error(exc: SlipwayError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.http_status, headers=exc.http_headers())


def _encode(body: Any) -> bytes:
    """JSON with NaN and infinities as null, which strict JSON readers accept."""
    try:
        return json.dumps(body, allow_nan=False, separators=(",", ":")).encode()
    except ValueError:
        return json.dumps(_finite(body), separators=(",", ":")).encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


async def _runtime(host: ServingHost, name: str, only: str | None) -> EndpointRuntime:
    """The runtime of ``name``, loaded on first use; with ``only``, any other name is a 404 before anything loads."""
    if only is not None and name != only:
        raise NotFound(f"this process serves the endpoint {only!r} only, not {name!r}", field="name")
    runtime = host.get(name)
    if runtime is not None:
        return runtime
    # Loaded by the process itself, as its watcher thread follows the endpoint: not as the caller, whose
    # invoke permission calls endpoints without reading the control plane.
    return await run_in_threadpool(contextvars.Context().run, host.start, name)


def _answer_headers(answer: Answer) -> dict[str, str]:
    return {INFERENCE_ID_HEADER: answer.inference_id, VARIANT_RESPONSE_HEADER: answer.variant}


async def _invocation(host: ServingHost, name: str, only: str | None, body: bytes, headers: Headers) -> Response:
    """The answer to one invocation of ``name`` (MLflow's scoring JSON, or CSV): predictions or a JSON error."""
    try:
        runtime = await _runtime(host, name, only)
        answer = await host.invoke(runtime, body, headers.get("content-type", ""), headers)
    except SlipwayError as exc:
        return _error(exc)
    return Response(_encode({"predictions": answer.predictions}), media_type="application/json",
                    headers=_answer_headers(answer))


def _invocations(host: ServingHost, only: str | None = None) -> Callable[[Request], Awaitable[Response]]:
    """The invocation handler (MLflow's scoring JSON, or CSV)."""

    async def invocations(request: Request) -> Response:
        return await _invocation(host, request.path_params["name"], only, await request.body(), request.headers)

    setattr(invocations, PERMISSION_ATTRIBUTE, Permission.INVOKE)  # a server checks it before reading the body
    return invocations


# ------------------------------------------------------------------ the Open Inference Protocol (KServe V2)


def _v2_error(exc: SlipwayError) -> Response:
    return Response(v2.error_body(exc.message), status_code=exc.http_status, media_type="application/json",
                    headers=exc.http_headers())


def _v2_routes(host: ServingHost, only: str | None) -> list[Route]:
    """The V2 routes (:mod:`slipway.serving._v2`): a model is an endpoint, its versions are the variants.

    Health and server metadata need no token; a model's metadata, readiness and inference need
    the invoke permission (a server checks it before the body is read).
    """

    async def live(_: Request) -> Response:
        return JSONResponse({"live": True})

    async def ready(_: Request) -> Response:
        ok = host.ready and (only is None or host.get(only) is not None)
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    async def server(_: Request) -> Response:
        return JSONResponse(v2.server_metadata(__version__))

    async def metadata(request: Request) -> Response:
        try:
            runtime = await _runtime(host, request.path_params["name"], only)
            variant, model, names = runtime.describe(request.path_params.get("version"))
        except SlipwayError as exc:
            return _v2_error(exc)
        return JSONResponse(v2.model_metadata(runtime.name, names, model.signature))

    async def model_ready(request: Request) -> Response:
        try:
            runtime = await _runtime(host, request.path_params["name"], only)
            runtime.describe(request.path_params.get("version"))
        except SlipwayError as exc:
            return _v2_error(exc)
        return JSONResponse({"name": runtime.name, "ready": True})

    async def infer(request: Request) -> Response:
        variant = request.path_params.get("version")
        try:
            runtime = await _runtime(host, request.path_params["name"], only)
            _, model, _ = runtime.describe(variant)  # the layout of tensors is read against its signature
            parsed = v2.parse_infer(await request.body(), request.headers, model.signature)
            answer = await host.invoke_input(runtime, parsed.data, request.headers, variant)
            body, headers = v2.render_infer(runtime.name, answer.variant, parsed, answer.raw, answer.inference_id)
        except SlipwayError as exc:
            return _v2_error(exc)
        return Response(body, headers={**headers, **_answer_headers(answer)})

    for handler in (metadata, model_ready, infer):
        setattr(handler, PERMISSION_ATTRIBUTE, Permission.INVOKE)
    model = "/v2/models/{name}"
    version = model + "/versions/{version}"
    return [
        Route("/v2", server, methods=["GET"]),
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", ready, methods=["GET"]),
        *(Route(prefix, metadata, methods=["GET"]) for prefix in (model, version)),
        *(Route(prefix + "/ready", model_ready, methods=["GET"]) for prefix in (model, version)),
        *(Route(prefix + "/infer", infer, methods=["POST"]) for prefix in (model, version)),
    ]


def _metrics(host: ServingHost, more: Callable[[], str] | None) -> Callable[[Request], Awaitable[Response]]:
    async def metrics(_: Request) -> Response:
        text = host.metrics.render()
        if more is not None:
            text += await run_in_threadpool(more)  # it may read the database
        return PlainTextResponse(text, media_type=CONTENT_TYPE)

    setattr(metrics, PERMISSION_ATTRIBUTE, Permission.READ)
    return metrics


def inference_routes(
    host: ServingHost, more_metrics: Callable[[], str] | None = None, *, only: str | None = None
) -> list[Route]:
    """``POST /endpoints/{name}/invocations``, the Open Inference Protocol's ``/v2`` routes and
    ``GET /metrics`` over ``host``.

    ``more_metrics`` gives exposition text appended to the serving metrics (``slipway server``
    adds its monitors' gauges). ``only`` names the one endpoint these routes serve (``slipway
    serve NAME``); None serves every endpoint of the store (``slipway server``).
    """
    return [
        Route("/endpoints/{name}/invocations", _invocations(host, only), methods=["POST"]),
        *_v2_routes(host, only),
        Route("/metrics", _metrics(host, more_metrics), methods=["GET"]),
    ]


def container_routes(host: ServingHost, endpoint: str) -> list[Route]:
    """The routes of a process serving one endpoint, whatever runs it (uvicorn workers here).

    The common container contracts: ``GET /ping`` and ``POST /invocations`` (the cloud stack's
    model container: 200 once the models are loaded, 503 before), ``GET /health`` (the process
    answers) and ``GET /ready`` (the models are loaded), then :func:`inference_routes`
    (``/endpoints/{endpoint}/invocations`` and ``/metrics``). Only ``endpoint`` is served: any
    other name is a 404, however many endpoints the store holds.
    """
    invoke = _invocations(host, endpoint)

    async def invocations(request: Request) -> Response:
        request.path_params["name"] = endpoint
        return await invoke(request)

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(_: Request) -> Response:
        ok = host.get(endpoint) is not None and host.ready
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    return [
        Route("/invocations", invocations, methods=["POST"]),
        Route("/ping", ready, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        *inference_routes(host, only=endpoint),
    ]


class _InvocationPath:
    """``POST /invocations`` and ``POST /endpoints/{endpoint}/invocations`` of one endpoint, answered
    as :func:`_invocations` answers them but without a router, middleware or request object; every
    other request goes to ``app``."""

    def __init__(self, app: ASGIApp, host: ServingHost, endpoint: str) -> None:
        self.app = app
        self._host = host
        self._endpoint = endpoint
        self._paths = frozenset({"/invocations", f"/endpoints/{endpoint}/invocations"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self._paths:
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # nobody to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        response = await _invocation(self._host, self._endpoint, None, b"".join(chunks), Headers(scope=scope))
        await response(scope, receive, send)


def create_inference_app(
    host: ServingHost, endpoint: str, *, on_close: Callable[[], None] | None = None
) -> ASGIApp:
    """The app of ``slipway serve ENDPOINT`` (routes: :func:`container_routes`): it loads the endpoint
    at start-up and flushes captured data at shutdown (SIGTERM included, which uvicorn turns into a
    shutdown), then calls ``on_close`` (a worker process closes its engines there).
    """

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(host.start, endpoint)
        try:
            yield
        finally:
            await run_in_threadpool(host.close)
            if on_close is not None:
                on_close()

    return _InvocationPath(Starlette(routes=container_routes(host, endpoint), lifespan=lifespan), host, endpoint)


def mount_inference(app: Starlette, host: ServingHost, more_metrics: Callable[[], str] | None = None) -> None:
    """Add the invocation and metrics routes to ``app`` and close ``host`` when it shuts down."""
    app.router.routes.extend(inference_routes(host, more_metrics))
    parent = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with parent(a) as state:
            try:
                yield state
            finally:
                await run_in_threadpool(host.close)

    app.router.lifespan_context = lifespan


__all__ = ["ServingHost", "container_routes", "create_inference_app", "inference_routes", "mount_inference"]
