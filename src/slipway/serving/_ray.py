"""Endpoints on Ray Serve: each model version a deployment of replicas, an ingress in front.

One endpoint NAME on a Ray cluster is these Serve applications:

- ``slipway.NAME.VERSION_ID`` for each model version the endpoint serves (a live or shadow
  variant, or a rollout's target): one deployment whose replicas load the version and predict.
  It runs the variant's ``workers`` replicas, or scales between the bounds of its
  :class:`~slipway.serving.Autoscaling` (Ray Serve's ``autoscaling_config``).
- ``slipway.NAME``: the ingress, at the route prefix (``/``), whose replicas (a fixed number, or
  scaling between the bounds of an :class:`~slipway.serving.Autoscaling` of its own) run the same
  :class:`~slipway.serving.ServingHost`, :class:`~slipway.serving.EndpointRuntime` and routes
  (:func:`~slipway.serving.container_routes`) as ``slipway serve``: the traffic split, the
  variant header, request keys, shadows, canary and linear rollouts with their alarms, micro-batching,
  data capture and ``/metrics``. Only its models differ: each is a :class:`RemoteModel`, which
  asks the version's deployment.

An endpoint that serves one model version has no application for it: its ingress replicas load
the version and compute it themselves (a request crosses Ray Serve's proxy and one replica, not
two), and scale as the variant's replicas would (its ``workers``, or its autoscaling). A rollout
to another version leaves them as they are (the new version gets an application, and the ingress
replicas ask it for the canary's share); once it completes, the ingress is deployed again to
compute the new version (Ray Serve replaces its replicas one by one, each finishing its requests
and flushing its captured data), and the version's application goes after the grace.

:class:`RayEndpoint` (what ``slipway serve NAME --engine ray`` runs) follows the endpoint: it
deploys a version's application before any ingress replica routes to it (an ingress replica
waits for it before swapping its routing table, so requests keep going to the old table
meanwhile), applies changed replica settings in place, and deletes an application once no
variant has named it for ``grace_seconds``.

Captured data is written by the ingress replicas; Ray Serve stops a replica gracefully (after its
requests in flight) and runs the app's shutdown, which flushes it. The ingress replicas push their
counters to the endpoint's metrics board (:mod:`slipway.serving._ray_metrics`), so ``/metrics``
totals every replica on every node, stopped ones included.

The same applications serve a serving bundle (``slipway serve --bundle DIR --engine ray``):
:func:`bundle_services` opens the bundle's folder in each replica in place of the database.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from slipway._disclosure import PathScreen, ScreenedErrorsMiddleware
from slipway._origins import OriginGuard
from slipway._references import ModelUri
from slipway.errors import MissingExtra, NotFound, ServiceUnavailable, SlipwayError
from slipway.models import Signature
from slipway.serving._app import ServingHost, create_inference_app
from slipway.serving._bundle import Bundle, open_bundle
from slipway.serving._capture import CaptureStore
from slipway.serving._ray_metrics import ClusterMetrics, drop_board, metrics_board
from slipway.serving._records import Autoscaling, Endpoint, IngressReplicas, Variant
from slipway.serving._routing import ServedModel
from slipway.serving._runtime import ControlPlane, ModelSource

_log = logging.getLogger(__name__)
_MODEL_DEPLOYMENT = "model"
_INGRESS_DEPLOYMENT = "ingress"
# Ray Serve's deployment options and status (DeploymentConfig) register a module with cloudpickle and
# unregister it, process-wide: two threads doing so at once fail ("... is not registered for pickle by
# value"). A RayEndpoint's own calls go one at a time (its follower thread, and whoever asks its replicas).
_SERVE_CALLS = threading.RLock()
# Seconds a stopping ingress replica has to upload its captured records before Ray Serve kills it
# (Serve's default, 20 s, is not always enough on a loaded machine).
_INGRESS_GRACE = 60.0


@dataclass(frozen=True)
class Services:
    """What a replica works with, opened in the replica's process, and how to close it."""

    serving: ControlPlane
    registry: ModelSource
    artifacts: CaptureStore
    close: Callable[[], None]
    screen: PathScreen | None = None  # the paths the ingress's error answers never name (a confined backend's)


# Opens the services of the deployment's settings; pickled to every replica, so a module-level
# function (with its arguments bound by functools.partial), not a closure.
ServicesOpener = Callable[[], Services]


def bundle_services(
    folder: str, *, expect_digest: str | None, capture_url: str | None, capture_percent: float | None,
    hidden: list[str],
) -> Services:
    """A replica's services for a serving bundle: its folder (checked again, file by file, by each
    replica: it must be at the same path on every node, as in the bundle's image), no database.

    Args:
        hidden: the folders the ingress's error answers never name.
    """
    plane, models, capture = open_bundle(folder, expect_digest=expect_digest).parts(
        capture_url=capture_url, capture_percent=capture_percent
    )
    return Services(plane, models, capture, lambda: None, PathScreen.around(hidden))


def _serve() -> Any:
    try:
        from ray import serve
    except ImportError:
        raise MissingExtra("ray", "ray[serve]") from None
    return serve


def application_names(endpoint: str) -> tuple[str, str]:
    """The ingress application's name and the prefix of its model versions' applications."""
    return f"slipway.{endpoint}", f"slipway.{endpoint}."


# ------------------------------------------------------------------ the replicas


class ModelReplica:
    """A replica of one model version's deployment: loads it, answers ``predict``.

    ``trusted`` is the version's trust mark when deployed: the deployment is replaced (and the
    model loaded again, without code if the mark is gone) when it changes.
    """

    def __init__(self, opener: ServicesOpener, model: str, trusted: bool) -> None:
        services = opener()
        try:
            self._model = services.registry.load_model(str(ModelUri.of(model)))
        finally:
            services.close()
        self.trusted = trusted

    def describe(self) -> Signature | None:
        """The model's signature."""
        return self._model.signature

    def predict(self, data: Any, params: Mapping[str, Any] | None) -> Any:
        return self._model.predict(data, params) if params else self._model.predict(data)


class RemoteModel:
    """A model version's deployment as the ingress's routing sees a model (:class:`ServedModel`).

    ``predict`` blocks its thread until a replica answers: ``waits_elsewhere`` has the ingress call
    it on a worker thread (:func:`~slipway.serving._routing.waits_elsewhere`). The model's own errors
    come back as they were raised: a signature mismatch is still the caller's InvalidInput, anything
    else the variant's failure.
    """

    waits_elsewhere = True

    def __init__(self, handle: Any, signature: Signature | None) -> None:
        self._handle = handle
        self.signature = signature

    def predict(self, data: object, params: Mapping[str, Any] | None = None) -> Any:
        from ray.exceptions import RayTaskError

        try:
            return self._handle.predict.remote(data, dict(params) if params else None).result()
        except RayTaskError as exc:
            cause = exc.cause
            if isinstance(cause, Exception):
                raise cause from None
            raise


def _wait_running(serve: Any, app: str, timeout: float) -> None:
    """Until the application runs (its replicas loaded the model), polling the Serve controller."""
    deadline = time.monotonic() + timeout
    while True:
        status = serve.status().applications.get(app)
        state = str(status.status.value if status is not None else "")
        if state == "RUNNING":
            return
        if state == "DEPLOY_FAILED":
            raise ServiceUnavailable(f"Ray Serve application {app!r} failed to deploy: {status.message}")
        if time.monotonic() > deadline:
            raise ServiceUnavailable(f"Ray Serve application {app!r} is not running after {timeout:g} s ({state})")
        time.sleep(0.1)


def remote_loader(
    endpoint: str, timeout: float = 300.0, *, hosted: str | None = None, registry: ModelSource | None = None
) -> Callable[[str, str], ServedModel]:
    """The ingress's model loader: the deployment of the version, once its application runs; the
    ``hosted`` version is loaded from ``registry`` into the ingress replica itself."""

    def load(version_id: str, model: str) -> ServedModel:
        if version_id == hosted and registry is not None:
            return registry.load_model(str(ModelUri.of(model)))
        serve = _serve()
        app = application_names(endpoint)[1] + version_id
        _wait_running(serve, app, timeout)
        handle = serve.get_deployment_handle(_MODEL_DEPLOYMENT, app_name=app)
        return RemoteModel(handle, handle.describe.remote().result())

    return load


class Ingress:
    """A replica of the endpoint's ingress: ``slipway serve``'s app over :class:`RemoteModel` models,
    and the ``hosted`` version's model in the replica itself (``options["hosted"]``, see
    :class:`RayEndpoint`).

    Built into a Serve deployment by :func:`ingress_deployment` (Ray Serve calls
    ``__serve_build_asgi_app__`` after the constructor; the app's shutdown flushes captured data).
    """

    def __init__(self, opener: ServicesOpener, endpoint: str, options: Mapping[str, Any]) -> None:
        services = opener()
        poll = options.get("poll_seconds", 1.0)
        self._endpoint = endpoint
        self._close = services.close
        self._allowed_hosts: list[str] | None = options.get("allowed_hosts")
        self._screen = services.screen
        self._host = ServingHost(
            services.serving,
            services.registry,
            services.artifacts,
            poll_seconds=poll,
            max_batch_size=options.get("max_batch_size", 1),
            max_wait_ms=options.get("max_wait_ms", 2.0),
            metrics=ClusterMetrics(metrics_board(endpoint), push_seconds=min(poll, 1.0)),
            loader=remote_loader(endpoint, options.get("load_timeout", 300.0), hosted=options.get("hosted"),
                                 registry=services.registry),
        )

    def __serve_build_asgi_app__(self) -> Any:
        app: Any = create_inference_app(self._host, self._endpoint, on_close=self._close)
        if self._screen is not None:
            app = ScreenedErrorsMiddleware(app, screen=self._screen)
        hosts = self._allowed_hosts
        return OriginGuard(app, allowed_hosts=hosts) if hosts is not None else app


def ingress_deployment() -> Any:
    """The Serve deployment class of :class:`Ingress` (options are set by the caller)."""
    serve = _serve()
    return serve.deployment(serve.ingress()(Ingress), name=_INGRESS_DEPLOYMENT)


# ------------------------------------------------------------------ the driver


class FollowedPlane(Protocol):
    """What :class:`RayEndpoint` reads and reports: the serving service, or a bundle's fixed endpoint."""

    def get_endpoint(self, name: str) -> Endpoint: ...

    def report_replicas(
        self, name: str, replicas: Mapping[str, int], ingress: IngressReplicas | None = None
    ) -> None: ...


@dataclass(frozen=True)
class _Applied:
    """What a version's application was deployed with (a change redeploys it)."""

    model: str
    trusted: bool
    replicas: int
    autoscaling: Autoscaling | None


def _scaling(replicas: int, autoscaling: Autoscaling | None) -> dict[str, Any]:
    """A deployment's options for ``replicas`` replicas, or for Ray Serve's autoscaling between bounds."""
    if autoscaling is None:
        return {"num_replicas": replicas}
    return {"autoscaling_config": {
        "min_replicas": autoscaling.min_replicas,
        "initial_replicas": max(autoscaling.min_replicas, 1),
        "max_replicas": autoscaling.max_replicas,
        "target_ongoing_requests": autoscaling.target_ongoing,
        "upscale_delay_s": autoscaling.upscale_delay_seconds,
        "downscale_delay_s": autoscaling.downscale_delay_seconds,
        "look_back_period_s": autoscaling.look_back_seconds,
        # How often the load is reported (deprecated by Ray Serve for environment variables, which a
        # cluster reads when it starts, not per deployment): four times per window, at most every 10 s.
        "metrics_interval_s": min(10.0, autoscaling.look_back_seconds / 4),
    }}


@dataclass(frozen=True)
class _IngressApplied:
    """What the ingress was deployed with (a change redeploys it)."""

    hosted: str | None
    scaling: str
    autoscaling: Autoscaling | None
    cpus: float


class RayEndpoint:
    """Serve one endpoint on the Ray cluster this process is connected to (``ray.init`` called).

    Call :meth:`deploy` once, then :meth:`run` (or :meth:`follow` on a schedule of your own),
    and :meth:`close` at the end: it deletes the ingress first (its replicas flush captured data)
    and then the versions' applications.

    Args:
        name: the endpoint.
        service, registry: the control plane and registry, read by this process (a bundle's fixed
            endpoint and models, for a bundle).
        opener: opens the same services inside each replica (see :data:`ServicesOpener`).
        route_prefix: where the ingress answers on Ray Serve's HTTP proxy.
        ingress_replicas: replicas of the ingress.
        ingress_autoscaling: the ingress scales by load between these bounds instead.
        replica_cpus: CPUs each model replica reserves (fractions allowed; 0 reserves none).
        poll_seconds: how often the endpoint is checked, here and by each ingress replica.
        max_batch_size, max_wait_ms: the ingress's micro-batching (as ``slipway serve``).
        allowed_hosts: the host names the ingress answers (as ``slipway serve``'s); None: any.
        grace_seconds: how long a version's application outlives the last variant naming it (the
            ingress replicas need a poll or two to stop routing to it).

    Example:
        >>> ray.init(); serve.start(http_options={"port": 8000})  # doctest: +SKIP
        >>> endpoint = RayEndpoint("abalone", service, registry, opener)  # doctest: +SKIP
        >>> endpoint.deploy(); endpoint.run(stop)  # doctest: +SKIP
    """

    def __init__(
        self,
        name: str,
        service: FollowedPlane,
        registry: ModelSource,
        opener: ServicesOpener,
        *,
        route_prefix: str = "/",
        ingress_replicas: int = 1,
        ingress_autoscaling: Autoscaling | None = None,
        replica_cpus: float = 1.0,
        poll_seconds: float = 1.0,
        max_batch_size: int = 1,
        max_wait_ms: float = 2.0,
        allowed_hosts: list[str] | None = None,
        grace_seconds: float | None = None,
    ) -> None:
        self.name = name
        self._serve = _serve()
        self._service = service
        self._registry = registry
        self._opener = opener
        self._route_prefix = route_prefix
        self._ingress_replicas = ingress_replicas
        self._ingress_autoscaling = ingress_autoscaling
        self._replica_cpus = replica_cpus
        self._poll = poll_seconds
        self._options = {"poll_seconds": poll_seconds, "max_batch_size": max_batch_size, "max_wait_ms": max_wait_ms,
                         "allowed_hosts": allowed_hosts}
        self._grace = grace_seconds if grace_seconds is not None else max(10.0, 5 * poll_seconds)
        self.ingress_app, self._prefix = application_names(name)
        self._applied: dict[str, _Applied] = {}
        self._last_named: dict[str, float] = {}
        self._ingress: _IngressApplied | None = None
        self._deployed = False

    @classmethod
    def for_bundle(
        cls,
        bundle: Bundle,
        *,
        capture_url: str | None = None,
        capture_percent: float | None = None,
        hidden: Sequence[str | Path] = (),
        **options: Any,
    ) -> RayEndpoint:
        """A serving bundle's endpoint on Ray Serve, with no database: captured data goes to
        ``capture_url`` (as :meth:`Bundle.parts`), and each replica opens the bundle's folder
        itself, checked again file by file, so the folder must be at the same path on every node
        (as in the bundle's image). ``hidden``: folders the ingress's error answers never name;
        ``options``: as the constructor's.

        Example:
            >>> RayEndpoint.for_bundle(open_bundle("abalone-bundle"), capture_url="/srv/captured")  # doctest: +SKIP
        """
        if capture_url is not None and "://" not in capture_url:
            capture_url = str(Path(capture_url).expanduser().resolve())  # the replicas run in folders of their own
        plane, models, _ = bundle.parts(capture_url=capture_url, capture_percent=capture_percent)
        opener = functools.partial(
            bundle_services, str(bundle.path.resolve()), expect_digest=bundle.digest if bundle.pinned else None,
            capture_url=capture_url, capture_percent=capture_percent, hidden=[str(h) for h in hidden],
        )
        return cls(bundle.endpoint.name, plane, models, opener, **options)

    def deploy(self) -> None:
        """Deploy the versions the endpoint names, then the ingress; returns once it answers.

        Raises:
            NotFound: if the endpoint does not exist.
            ServiceUnavailable: if an application does not start.
        """
        metrics_board(self.name)  # before the ingress replicas push to it
        self._deployed = True
        if self.follow() is None:
            raise NotFound(f"endpoint {self.name!r} does not exist", field="name")

    def follow(self) -> Endpoint | None:
        """One look at the endpoint: deploy new versions, apply changed settings (the ingress's too, once
        :meth:`deploy` was called), delete unused ones, and report the replicas running (shown with the
        endpoint).

        Returns the endpoint, or None once it is deleted (its applications then go after the grace).
        """
        try:
            endpoint: Endpoint | None = self._service.get_endpoint(self.name)
        except NotFound:
            endpoint = None
        wanted: dict[str, Variant] = {}
        if endpoint is not None:
            for variant in [*endpoint.variants, *(endpoint.deployment.target if endpoint.deployment else [])]:
                wanted[variant.model_version_id] = variant  # a target's settings win over a live one's
        hosted = self._hosting(endpoint, wanted)
        # The version the ingress replicas running now compute needs no application (none deployed yet: the
        # one they will compute); every other version the endpoint names does.
        computed_by_ingress = self._ingress.hosted if self._ingress is not None else hosted
        needed = {v for v in wanted if v != computed_by_ingress}
        now = time.monotonic()
        for version_id in needed:
            variant = wanted[version_id]
            self._last_named[version_id] = now
            current = self._registry.get_version_by_id(version_id)  # by id: its group may have been renamed
            applied = _Applied(current.uri, current.trusted, variant.workers, variant.autoscaling)
            if self._applied.get(version_id) != applied:
                self._deploy_version(version_id, variant, applied)
                self._applied[version_id] = applied
        if self._deployed and endpoint is not None and self._deploy_ingress(hosted, wanted.get(hosted or "")):
            # Its replicas were replaced: the ones stopping may still have asked any version's replicas.
            now = time.monotonic()
            self._last_named.update(dict.fromkeys(self._applied, now))
        for version_id in [v for v in self._applied if v not in needed or v == hosted]:
            if now - self._last_named.get(version_id, now) >= self._grace:
                self._serve.delete(self._prefix + version_id, _blocking=False)
                del self._applied[version_id]
        if endpoint is not None:
            running, ingress = self._running()
            by_variant = {
                v.name: running.get(v.model_version_id, 0)
                for v in [*endpoint.variants, *(endpoint.deployment.target if endpoint.deployment else [])]
            }
            if by_variant != endpoint.replicas or ingress != endpoint.ingress:
                self._service.report_replicas(self.name, by_variant, ingress)
        return endpoint

    def _hosting(self, endpoint: Endpoint | None, wanted: Mapping[str, Variant]) -> str | None:
        """The version the ingress replicas should compute themselves: the endpoint's only one; while a
        deployment is in progress, the one they compute now if it is still named (a rollout adds or
        removes no ingress replica: the canary's version gets an application, the live one stays)."""
        current = self._ingress.hosted if self._ingress is not None else None
        if endpoint is None:
            return current
        if endpoint.deployment is not None:
            return current if current in wanted else None
        return next(iter(wanted)) if len(wanted) == 1 else None

    def _deploy_ingress(self, hosted: str | None, variant: Variant | None) -> bool:
        """Deploy the ingress (blocks until it runs) if its settings changed; whether it did."""
        if hosted is not None and variant is not None:
            # It computes the version: it scales as the variant's replicas would, and reserves their CPUs.
            scaling, autoscaling, cpus = _scaling(variant.workers, variant.autoscaling), variant.autoscaling, None
        else:
            scaling, autoscaling, cpus = _scaling(self._ingress_replicas, self._ingress_autoscaling), \
                self._ingress_autoscaling, 0.0
        applied = _IngressApplied(hosted, repr(sorted(scaling.items())), autoscaling,
                                  self._replica_cpus if cpus is None else cpus)
        if applied == self._ingress:
            return False
        _log.info("deploying the ingress of %s on Ray Serve (computing %s)", self.name, hosted or "no version")
        with _SERVE_CALLS:
            ingress = ingress_deployment().options(
                **scaling,
                max_ongoing_requests=1000,  # it waits on the model replicas; their own limits queue the work
                graceful_shutdown_timeout_s=_INGRESS_GRACE,
                ray_actor_options={"num_cpus": applied.cpus},
            )
            self._serve.run(
                ingress.bind(self._opener, self.name, {**self._options, "hosted": hosted}), name=self.ingress_app,
                route_prefix=self._route_prefix,
            )
        replaced = self._ingress is not None
        self._ingress = applied
        return replaced

    def _deploy_version(self, version_id: str, variant: Variant, applied: _Applied) -> None:
        _log.info("deploying %s (%s) on Ray Serve", variant.model, version_id)
        with _SERVE_CALLS:
            deployment = self._serve.deployment(ModelReplica).options(
                name=_MODEL_DEPLOYMENT,
                ray_actor_options={"num_cpus": self._replica_cpus},
                **_scaling(variant.workers, variant.autoscaling),
            )
            self._serve.run(
                deployment.bind(self._opener, applied.model, applied.trusted),
                name=self._prefix + version_id,
                route_prefix=None,
            )

    def _running(self) -> tuple[dict[str, int], IngressReplicas | None]:
        """Running replicas of each version's deployment (by model version id; the ingress's for the
        version it computes), and of the ingress (None before it is deployed)."""
        found: dict[str, int] = {}
        ingress: IngressReplicas | None = None
        with _SERVE_CALLS:
            applications = self._serve.status().applications
        for app, status in applications.items():
            if app.startswith(self._prefix):
                deployment = status.deployments.get(_MODEL_DEPLOYMENT)
                if deployment is not None:
                    found[app[len(self._prefix):]] = int(deployment.replica_states.get("RUNNING", 0))
            elif app == self.ingress_app and (deployment := status.deployments.get(_INGRESS_DEPLOYMENT)) is not None:
                ingress = IngressReplicas(running=int(deployment.replica_states.get("RUNNING", 0)),
                                          autoscaling=self._ingress.autoscaling if self._ingress else None)
        if self._ingress is not None and self._ingress.hosted is not None:
            found[self._ingress.hosted] = ingress.running if ingress is not None else 0
        return found, ingress

    def replicas(self) -> dict[str, int]:
        """Running replicas of each version's deployment, by model version id."""
        return self._running()[0]

    def run(self, stop: threading.Event) -> None:
        """Follow the endpoint every ``poll_seconds`` until ``stop`` is set (blocks)."""
        while not stop.wait(self._poll):
            try:
                self.follow()
            except SlipwayError as exc:
                _log.warning("following endpoint %r: %s", self.name, exc.message)
            except Exception:
                _log.exception("following endpoint %r failed; retrying", self.name)

    def close(self) -> None:
        """Delete the ingress (its replicas finish their requests, flush captured data and push their
        last counters), then every version's application and the metrics board."""
        self._serve.delete(self.ingress_app)
        self._ingress, self._deployed = None, False
        for version_id in list(self._applied):
            self._serve.delete(self._prefix + version_id)
        self._applied.clear()
        drop_board(self.name)
        with contextlib.suppress(NotFound):  # deleted meanwhile: nothing to show
            self._service.report_replicas(self.name, {})


__all__ = [
    "FollowedPlane",
    "Ingress",
    "ModelReplica",
    "RayEndpoint",
    "RemoteModel",
    "Services",
    "ServicesOpener",
    "bundle_services",
    "remote_loader",
]
