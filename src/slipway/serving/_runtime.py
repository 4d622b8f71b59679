"""One endpoint as a server process serves it: models, routing, capture, and the rollout watch.

A watcher thread polls the control plane every ``poll_seconds``. While a deployment is in
progress it reports the target variants' traffic of the current step
(:meth:`ServingService.advance`), which may move the rollout on or roll it back; when the
endpoint's revision moves (or its name now belongs to an endpoint created again), it loads any
new model versions and swaps the routing table in one assignment, so a request is answered by
the old table or the new one, never by neither.

A request a target (canary) variant fails is counted against the deployment and answered again
by a live variant: the alarm sees the failure, the client does not.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from slipway._ids import new_id
from slipway._references import ModelUri
from slipway._time import now_ms, utcnow
from slipway.errors import InvalidInput, NotFound, ServiceUnavailable, SlipwayError
from slipway.models import LoadedModel
from slipway.serving._capture import Captured, CaptureStore, CaptureWriter
from slipway.serving._metrics import ServingMetrics
from slipway.serving._payload import Payload, model_input, parse_body, shape_key, split, stack, to_jsonable
from slipway.serving._records import Endpoint, EndpointStatus, WindowStats
from slipway.serving._routing import VARIANT_HEADER, Route, Routing, ServedModel, unit_point

REQUEST_KEY_HEADER = "x-slipway-request-key"
_WINDOW_LIMIT = 10_000  # latencies kept per deployment step for its p99
_log = logging.getLogger(__name__)

# (model version id, its models:/GROUP/VERSION URI as the registry names it now) -> the model that answers for it
ModelLoader = Callable[[str, str], ServedModel]


class ControlPlane(Protocol):
    """What a runtime asks of the endpoint it serves and reports to: :class:`ServingService` over the
    metadata database, or a serving bundle's fixed endpoint (:mod:`slipway.serving._bundle`)."""

    def get_endpoint(self, name: str) -> Endpoint: ...

    def advance(self, name: str, stats: WindowStats) -> Endpoint: ...

    def confirm(self, name: str, revision: int) -> Endpoint: ...

    def fail(self, name: str, reason: str) -> Endpoint: ...


class TrustMark(Protocol):
    """A version as a model source knows it: its trust mark, and the URI that loads it now."""

    @property
    def trusted(self) -> bool: ...

    @property
    def uri(self) -> str: ...


class ModelSource(Protocol):
    """Where a runtime loads model versions from: the registry (:class:`~slipway.registry.RegistryReader`),
    or a serving bundle's folder. ``load_model`` decides what may run code (the version's trust mark),
    never the runtime; ``get_version_by_id(...).trusted`` is watched so a revoked mark unloads it."""

    def get_version_by_id(self, version_id: str) -> TrustMark: ...

    def load_model(self, uri: str) -> LoadedModel: ...


class ModelFailed(SlipwayError):
    """The model raised on an input that passed its signature: the server's fault, a 500."""

    code = "MODEL_ERROR"


@dataclass(frozen=True)
class Prepared:
    """A parsed request, the routing table it was read under, and the variant chosen for it."""

    routing: Routing
    route: Route
    data: Payload
    u: float
    pinned: bool
    params: dict[str, Any] | None = None

    @property
    def params_key(self) -> str:
        """Requests with equal keys may share one model call (same parameters)."""
        return "" if not self.params else json.dumps(self.params, sort_keys=True, default=str)


@dataclass(frozen=True)
class Answer:
    """A prediction and who made it: ``raw`` is the model's output for this request (an array, a
    table or a dict of arrays), :attr:`predictions` the same as plain JSON values."""

    inference_id: str
    variant: str
    raw: Any

    @property
    def predictions(self) -> Any:
        return to_jsonable(self.raw)


class _Window:
    """The target variants' traffic in the current deployment step."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._step: object = None
        self._errors = 0
        self._latencies: collections.deque[float] = collections.deque(maxlen=_WINDOW_LIMIT)
        self._requests = 0

    def record(self, step: object, seconds: float, *, error: bool) -> None:
        with self._lock:
            if step != self._step:
                self._step, self._errors, self._requests = step, 0, 0
                self._latencies.clear()
            self._requests += 1
            self._errors += error
            self._latencies.append(seconds)

    def stats(self, step: object, serving_seconds: float | None = None) -> WindowStats:
        with self._lock:
            if step != self._step or not self._requests:
                return WindowStats(requests=0, errors=0, serving_seconds=serving_seconds)
            p99 = float(np.percentile(np.fromiter(self._latencies, float), 99)) * 1000
            return WindowStats(requests=self._requests, errors=self._errors, p99_ms=p99,
                               serving_seconds=serving_seconds)


class EndpointRuntime:
    """Serve one endpoint: call :meth:`start` once, :meth:`invoke` from any thread, :meth:`close` once.

    Args:
        name: the endpoint.
        service: the control plane, polled and reported to.
        registry: where model versions are loaded from.
        artifacts: where captured data goes (the artifact store, or a bundle's capture folder).
        metrics: where requests are counted (shared by the endpoints of one process).
        poll_seconds: how often the control plane is asked for changes.
        loader: gives the model of a version (id, ``GROUP/VERSION``); by default it is loaded from
            ``registry`` into this process. Ray Serve's ingress gives a stand-in for the version's
            replicas instead.
    """

    def __init__(
        self,
        name: str,
        service: ControlPlane,
        registry: ModelSource,
        artifacts: CaptureStore,
        metrics: ServingMetrics,
        *,
        poll_seconds: float = 1.0,
        loader: ModelLoader | None = None,
    ) -> None:
        self.name = name
        self._service = service
        self._registry = registry
        self._artifacts = artifacts
        self._metrics = metrics
        self._poll = poll_seconds
        self._loader: ModelLoader = loader or (lambda _, model: registry.load_model(str(ModelUri.of(model))))
        self._routing: Routing | None = None
        self._models: dict[str, ServedModel] = {}
        self._trusted: set[str] = set()  # loaded versions an admin had marked trusted: watched for revocation
        self._failure: tuple[str, int, str] | None = None  # the failure last recorded on the endpoint
        self._capture: CaptureWriter | None = None
        self._window = _Window()
        self._step_since = 0  # when the routing table's deployment step began to route here (ms)
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name=f"slipway-endpoint-{name}", daemon=True)
        self._shadows = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"slipway-shadow-{name}")

    @property
    def ready(self) -> bool:
        """Whether a routing table is loaded, so requests can be answered."""
        return self._routing is not None

    def start(self) -> None:
        """Load the endpoint's models and start watching it.

        Raises:
            NotFound: if the endpoint does not exist.
            SlipwayError: if a model would not load (the endpoint is then marked Failed).
        """
        self._apply(self._service.get_endpoint(self.name))
        self._watcher.start()

    def close(self) -> None:
        """Stop watching, finish shadow calls, and flush captured records."""
        self._stop.set()
        if self._watcher.is_alive():
            self._watcher.join()
        self._shadows.shutdown(wait=True)
        if self._capture is not None:
            self._capture.close()

    # ----------------------------------------------------------------- requests

    def invoke(self, body: bytes, content_type: str, headers: Mapping[str, str]) -> Answer:
        """Answer one request.

        Raises:
            InvalidInput: for a body that is no input shape, fails the signature, or names an
                unknown variant.
            ModelFailed: if the model raised.
            ServiceUnavailable: while the endpoint's models are not loaded.
        """
        [result] = self.answer([self.prepare(body, content_type, headers)])
        if isinstance(result, SlipwayError):
            raise result
        return result

    def prepare(self, body: bytes, content_type: str, headers: Mapping[str, str]) -> Prepared:
        """Parse a request and choose its variant (see :meth:`invoke` for the errors)."""
        data, params = parse_body(body, content_type)
        return self.prepare_input(data, headers, params=params)

    def prepare_input(
        self,
        data: Payload,
        headers: Mapping[str, str],
        variant: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> Prepared:
        """Choose the variant of a parsed request: ``variant`` if given (a protocol's own way to pin
        one), else the variant header's, else the traffic split's (by the request key if sent).
        ``params`` are the request's inference parameters, checked by the model when it predicts."""
        routing = self._routing
        if routing is None:
            raise ServiceUnavailable(f"endpoint {self.name!r} is not loaded")
        pinned = variant or headers.get(VARIANT_HEADER)
        key = headers.get(REQUEST_KEY_HEADER)
        u = unit_point(key) if key else random.random()
        route = routing.named(pinned) if pinned else routing.pick(u)
        return Prepared(routing, route, data, u, bool(pinned), params)

    def describe(self, variant: str | None = None) -> tuple[str, ServedModel, list[str]]:
        """The variant ``variant`` (by default the one answering most live traffic), its model, and
        the names of every variant: what a protocol's metadata route tells about the endpoint.

        Raises:
            InvalidInput: for a variant the endpoint does not serve.
            ServiceUnavailable: while the endpoint's models are not loaded.
        """
        routing = self._routing
        if routing is None:
            raise ServiceUnavailable(f"endpoint {self.name!r} is not loaded")
        route = routing.named(variant) if variant else routing.main()
        return route.name, route.model, list(routing.by_name)

    def answer(self, requests: Sequence[Prepared]) -> list[Answer | SlipwayError]:
        """Answer prepared requests, calling each variant's model once for all the requests it got
        (micro-batching); each request gets its answer or its own error, in order."""
        if len(requests) == 1:
            return self._answer_group(list(requests))
        groups: dict[tuple[object, ...], list[int]] = {}
        for i, request in enumerate(requests):
            key = (id(request.routing), request.route.name, request.params_key, *shape_key(request.data))
            groups.setdefault(key, []).append(i)
        results: list[Answer | SlipwayError] = [ServiceUnavailable("unanswered")] * len(requests)
        for indexes in groups.values():
            for i, result in zip(indexes, self._answer_group([requests[i] for i in indexes]), strict=True):
                results[i] = result
        return results

    def _answer_group(self, group: list[Prepared]) -> list[Answer | SlipwayError]:
        """Requests sent to one variant, inputs of one shape: predicted together, answered one by one."""
        first = group[0]
        try:
            outputs = self._predict(first.routing, first.route, [r.data for r in group], first.params)
        except InvalidInput as exc:
            if len(group) == 1:
                return [exc]
            return [result for r in group for result in self._answer_group([r])]  # find whose input it was
        except ModelFailed as exc:
            if not first.route.canary:
                return [exc] * len(group)
            # A canary's failure is counted against the deployment and answered by a live variant.
            return [
                exc if r.pinned else self.answer([dataclasses.replace(r, route=r.routing.fallback(r.u))])[0]
                for r in group
            ]
        return [self._finish(r, output) for r, output in zip(group, outputs, strict=True)]

    def _finish(self, request: Prepared, predictions: Any) -> Answer:
        inference_id = new_id()
        sampled = self._capture is not None and self._capture.sampled()
        if sampled:
            self._captured(inference_id, request.route, request.data, predictions, None)
        for shadow in request.routing.shadows:
            self._shadows.submit(self._shadow, request, shadow, inference_id, sampled)
        return Answer(inference_id, request.route.name, predictions)

    def _predict(
        self, routing: Routing, route: Route, inputs: list[Payload], params: dict[str, Any] | None = None
    ) -> list[Any]:
        """The model's predictions for each input (all of one shape key and parameters), from one call."""
        start = time.perf_counter()
        try:
            data = model_input(stack(inputs), route.model.signature)
            predictions = route.model.predict(data, params) if params else route.model.predict(data)
        except InvalidInput:
            raise  # the caller's input: no error of the variant's
        except Exception as exc:
            self._count(routing, route, time.perf_counter() - start, len(inputs), error=True)
            raise ModelFailed(f"variant {route.name!r} failed: {type(exc).__name__}: {exc}") from exc
        self._count(routing, route, time.perf_counter() - start, len(inputs), error=False)
        return split(predictions, [len(one) for one in inputs])

    def _count(self, routing: Routing, route: Route, seconds: float, requests: int, *, error: bool) -> None:
        for _ in range(requests):
            self._metrics.record(self.name, route.name, seconds, error=error)
            if route.canary:
                self._window.record(routing.step, seconds, error=error)

    def _shadow(self, request: Prepared, route: Route, inference_id: str, sampled: bool) -> None:
        try:
            predictions, error = self._predict(request.routing, route, [request.data], request.params)[0], None
        except SlipwayError as exc:
            predictions, error = None, exc.message
        if sampled:
            self._captured(inference_id, route, request.data, predictions, error)

    def _captured(self, inference_id: str, route: Route, data: Payload, predictions: Any, error: str | None) -> None:
        assert self._capture is not None
        self._capture.offer(
            Captured(inference_id, utcnow(), self.name, route.name, route.variant.shadow, data, predictions, error)
        )

    # ----------------------------------------------------------------- the watch

    def _watch(self) -> None:
        last: tuple[type[BaseException], str] | None = None  # the failure logged last
        while not self._stop.wait(self._poll):
            try:
                self.refresh()
                last = None
            except NotFound:
                self._routing = None  # deleted: stop answering
            except Exception as exc:
                # Each refresh tries again; the log says so once per distinct failure, not at every poll.
                failure = (type(exc), str(exc))
                if failure == last:
                    _log.debug("watching endpoint %r failed again: %s", self.name, exc)
                elif isinstance(exc, SlipwayError):  # expected (a model that will not load): its reason is enough
                    _log.warning("watching endpoint %r failed; retrying at each refresh: %s", self.name, exc)
                else:
                    _log.exception("watching endpoint %r failed; retrying at each refresh", self.name)
                last = failure

    def refresh(self) -> None:
        """Report the deployment step's traffic, and swap in the endpoint's current revision."""
        endpoint = self._service.get_endpoint(self.name)
        self._drop_distrusted()
        routing = self._routing
        deployment = endpoint.deployment
        if deployment is not None and routing is not None and routing.step == (deployment.id, deployment.share):
            # Only a process that routes the step's traffic reports on it: its window holds that step's requests
            # (one still routing an earlier step, e.g. a canary rolled back since, would report that step's
            # errors against this one). The bake counts from when this process began to route the step, not
            # from the step's start (its new variants' models may take long to load, e.g. Ray Serve replicas).
            serving = max(now_ms() - self._step_since, 0) / 1000
            endpoint = self._service.advance(self.name, self._window.stats(routing.step, serving))
        if routing is None or (endpoint.id, endpoint.revision) != (routing.endpoint_id, routing.revision):
            self._apply(endpoint)
        elif endpoint.status in (EndpointStatus.CREATING, EndpointStatus.UPDATING, EndpointStatus.ROLLING_BACK):
            self._service.confirm(self.name, endpoint.revision)

    def _apply(self, endpoint: Endpoint) -> None:
        variants = [*endpoint.variants, *(endpoint.deployment.target if endpoint.deployment else [])]
        models: dict[str, ServedModel] = {}
        for variant in variants:
            if variant.model_version_id in models:
                continue
            try:
                models[variant.model_version_id] = self._load(variant.model_version_id)
            except Exception as exc:
                # The reason names the variant and its version, which its readers know, never a file.
                message = exc.message if isinstance(exc, SlipwayError) else f"{type(exc).__name__}: {exc}"
                self._failed(endpoint, f"cannot load variant {variant.name!r} (models:/{variant.model}): {message}")
                raise
        self._failure = None
        self._configure_capture(endpoint)
        routing = Routing(endpoint, models)
        if self._routing is None or self._routing.step != routing.step:
            self._step_since = now_ms()
        self._routing = routing
        self._models = models
        self._trusted &= set(models)
        self._service.confirm(self.name, endpoint.revision)

    def _failed(self, endpoint: Endpoint, reason: str) -> None:
        """Mark the endpoint ``Failed`` with ``reason``, once per revision and reason (not at every poll)."""
        failure = (endpoint.id, endpoint.revision, reason)
        if failure != self._failure:
            self._service.fail(self.name, reason)
            self._failure = failure

    def _load(self, version_id: str) -> ServedModel:
        loaded = self._models.get(version_id)
        if loaded is not None:
            return loaded
        version = self._registry.get_version_by_id(version_id)
        # Trusted or not is the version's mark (an admin's decision), never anything a request said.
        if version.trusted:
            self._trusted.add(version_id)
        # By id: the variant's GROUP/VERSION is the group's name when the endpoint was made, and a
        # group may have been renamed since.
        return self._loader(version_id, version.uri)

    def _drop_distrusted(self) -> None:
        """Unload the versions whose trust mark was revoked since they were loaded.

        The endpoint stops answering with them at once; loading them again (next) succeeds only
        in a format that runs no code, else the endpoint is marked Failed and answers 503.
        """
        revoked = {v for v in self._trusted if not self._registry.get_version_by_id(v).trusted}
        if revoked:
            self._routing = None
            self._models = {k: m for k, m in self._models.items() if k not in revoked}
            self._trusted -= revoked

    def _configure_capture(self, endpoint: Endpoint) -> None:
        """Change the sampling percentage in place; a new file size or interval, or an endpoint deleted
        and created again under the same name (a new id), gets a new writer, and the old one is flushed."""
        config, current = endpoint.capture, self._capture
        if current is not None and (current.endpoint_id, current.max_records, current.flush_interval) == (
            endpoint.id,
            config.max_records_per_file,
            config.flush_interval_seconds,
        ):
            current.sampling_percent = config.sampling_percent
            return
        self._capture = CaptureWriter(
            self._artifacts,
            endpoint.id,
            sampling_percent=config.sampling_percent,
            max_records_per_file=config.max_records_per_file,
            flush_interval_seconds=config.flush_interval_seconds,
        )
        if current is not None:
            current.close()
