"""What a rule, a schedule or a hook does: start a pipeline, deploy, move an alias, call a webhook,
run a monitor, collect garbage.

An action is a small frozen dataclass that can be written as JSON (``{"kind": ..., fields}``),
so rules survive restarts and travel over HTTP. String fields may name fields of the event that
caused the run as ``{event.<field>}``: ``MoveAlias("churn", "staging", "{event.version}")``
moves the alias to the version an event names. A string that is exactly one reference takes the
field's value with its type (an int stays an int); otherwise references are formatted in.

Running is at-least-once: a run whose process died is taken over and its action called again.
Each action is written so a second call has no second effect: moving an alias, deploying what
an endpoint already serves and collecting garbage again are no-ops, a pipeline or monitor
started by an earlier attempt of the same run is found instead of started again, and a webhook
carries the run's ``delivery`` id so the receiver can drop a repeat.
"""

from __future__ import annotations

import abc
import dataclasses
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from urllib.parse import urlsplit

import httpx

from slipway._confinement import Confinement
from slipway._time import ms_to_datetime
from slipway._urls import UrlPolicy, post_json
from slipway.errors import InvalidInput, NotFound, SlipwayError

if TYPE_CHECKING:
    from slipway.automation._service import AutomationService
    from slipway.monitoring import MonitoringService
    from slipway.pipelines import PipelineService
    from slipway.registry import RegistryService
    from slipway.serving import ServingService


class Services(Protocol):
    """The domain services actions call (a :class:`~slipway._backend.Backend` is one)."""

    @property
    def pipelines(self) -> PipelineService: ...

    @property
    def serving(self) -> ServingService: ...

    @property
    def registry(self) -> RegistryService: ...

    @property
    def monitoring(self) -> MonitoringService: ...

    @property
    def urls(self) -> UrlPolicy: ...

    @property
    def automation(self) -> AutomationService: ...

    @property
    def confinement(self) -> Confinement: ...


@dataclasses.dataclass(frozen=True)
class Attempt:
    """The run an action is called for: ``delivery`` identifies it across attempts, and
    ``first_started_at`` (epoch ms) is when its first attempt began, if this is not the first."""

    delivery: str
    source: str
    event: Mapping[str, Any]
    first_started_at: int | None


WEBHOOK_TIMEOUT = 5.0
_REFERENCE = re.compile(r"\{event\.([A-Za-z_][A-Za-z0-9_.]*)\}")


class Action(abc.ABC):
    """Base of the actions; subclasses are frozen dataclasses with a ``kind``."""

    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"kind": ..., <fields>}``."""
        return {"kind": self.kind, **dataclasses.asdict(self)}  # type: ignore[call-overload]

    def render(self, event: Mapping[str, Any]) -> Action:
        """A copy with every ``{event.<field>}`` replaced by the event's value.

        Raises:
            InvalidInput: if a reference names a field the event does not have.
        """
        values = {k: _render(v, event) for k, v in self.to_dict().items() if k != "kind"}
        return type(self)(**values)

    @abc.abstractmethod
    def run(self, services: Services, attempt: Attempt) -> dict[str, Any]:
        """Do it; return what was done (ids of what was started), for the run's history."""


@dataclasses.dataclass(frozen=True)
class StartPipeline(Action):
    """Start a stored pipeline with parameters (a version, or its newest)."""

    pipeline: str
    parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    version: int | str | None = None
    kind: ClassVar[str] = "start_pipeline"

    def __post_init__(self) -> None:
        _need_text(self.pipeline, "pipeline")
        if not isinstance(self.parameters, Mapping):
            raise InvalidInput("parameters must be an object of name: value", field="parameters")

    def run(self, services: Services, attempt: Attempt) -> dict[str, Any]:
        parameters = dict(self.parameters)
        if attempt.first_started_at is not None:
            since = ms_to_datetime(attempt.first_started_at)
            for execution in services.pipelines.list_executions(pipeline=self.pipeline, limit=20):
                started = execution.created_at
                if started >= since and all(execution.parameters.get(k) == v for k, v in parameters.items()):
                    return {"execution": execution.id, "reused": True}
        version = None if self.version is None else _int(self.version, "version")
        execution = services.pipelines.start(self.pipeline, parameters=parameters, version=version)
        return {"execution": execution.id}


@dataclasses.dataclass(frozen=True)
class Deploy(Action):
    """Deploy a model version (``GROUP/VERSION``) to an endpoint by a strategy; create the endpoint
    if it does not exist. ``strategy`` is as :class:`~slipway.serving.Strategy`:
    ``{"kind": "canary", "share": 0.1, "bake_seconds": 60}``."""

    endpoint: str
    model: str
    strategy: Mapping[str, Any] | None = None
    kind: ClassVar[str] = "deploy"

    def __post_init__(self) -> None:
        _need_text(self.endpoint, "endpoint")
        _need_text(self.model, "model")
        if self.strategy is not None and not isinstance(self.strategy, Mapping):
            raise InvalidInput('strategy must be an object such as {"kind": "canary"}', field="strategy")

    def run(self, services: Services, attempt: Attempt) -> dict[str, Any]:
        variant = {"model": self.model}
        try:
            endpoint = services.serving.get_endpoint(self.endpoint)
        except NotFound:
            created = services.serving.create_endpoint(self.endpoint, [variant])
            return {"endpoint": created.name, "revision": created.revision, "created": True}
        serving = [v.model for v in endpoint.variants if not v.shadow]
        target = [v.model for v in endpoint.deployment.target] if endpoint.deployment else []
        if serving == [self.model] or target == [self.model]:
            return {"endpoint": endpoint.name, "revision": endpoint.revision, "already": True}
        updated = services.serving.update_endpoint(self.endpoint, [variant], strategy=self.strategy)
        return {"endpoint": updated.name, "revision": updated.revision}


@dataclasses.dataclass(frozen=True)
class MoveAlias(Action):
    """Point a model group's alias (``staging``, ``production``...) at a version."""

    group: str
    alias: str
    version: int | str
    kind: ClassVar[str] = "move_alias"

    def __post_init__(self) -> None:
        _need_text(self.group, "group")
        _need_text(self.alias, "alias")

    def run(self, services: Services, attempt: Attempt) -> dict[str, Any]:
        version = _int(self.version, "version")
        services.registry.set_alias(self.group, self.alias, version, comment=f"by {attempt.source}")
        return {"group": self.group, "alias": self.alias, "version": version}


@dataclasses.dataclass(frozen=True)
class Webhook(Action):
    """POST Slack-compatible JSON to a URL: ``{"text": ..., "event": {...}, "delivery": id}``.

    ``delivery`` is the same on every attempt of one run, so a receiver can drop repeats.
    """

    url: str
    text: str | None = None
    kind: ClassVar[str] = "webhook"

    def __post_init__(self) -> None:
        parts = urlsplit(str(self.url))
        if "{event." not in str(self.url) and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise InvalidInput(f"webhook url {self.url!r} is not an http(s) URL", field="url")

    def run(self, services: Services, attempt: Attempt) -> dict[str, Any]:
        text = self.text or f"Slipway: {attempt.event.get('type', 'event')} ({attempt.source})"
        payload = {"text": text, "event": dict(attempt.event), "delivery": attempt.delivery}
        try:
            response = post_json(services.urls, self.url, payload, timeout=WEBHOOK_TIMEOUT)
        except httpx.HTTPError as exc:
            raise SlipwayError(f"webhook {self.url} failed: {exc}") from None
        return {"url": self.url, "status_code": response.status_code}


@dataclasses.dataclass(frozen=True)
class RunMonitor(Action):
    """Run a stored monitor once (over its endpoint's captured traffic)."""

    monitor: str
    kind: ClassVar[str] = "run_monitor"

    def __post_init__(self) -> None:
        _need_text(self.monitor, "monitor")

    @property
    def schedule_name(self) -> str:
        """The name of the schedule that runs this monitor and nothing else (``slipway monitor create
        --schedule``): ``monitor-NAME``, cut to the 64 characters a schedule name may hold."""
        return f"monitor-{self.monitor}"[:64]

    def run(self, services: Services, attempt: Attempt) -> dict[str, Any]:
        if attempt.first_started_at is not None:
            since = ms_to_datetime(attempt.first_started_at)
            for execution in services.monitoring.list_executions(self.monitor, limit=5):
                if execution.started_at >= since:
                    return {"execution": execution.id, "status": str(execution.status), "reused": True}
        execution = services.monitoring.run_monitor(self.monitor)
        return {"execution": execution.id, "status": str(execution.status), "violations": execution.violation_count}


@dataclasses.dataclass(frozen=True)
class CollectGarbage(Action):
    """Apply the retention policy and free unreferenced blobs (``slipway gc``), e.g. nightly.

    Needs its creator to be an admin, as ``slipway gc`` does.
    """

    grace_seconds: float = 3600.0
    kind: ClassVar[str] = "collect_garbage"

    def __post_init__(self) -> None:
        if not isinstance(self.grace_seconds, int | float) or self.grace_seconds < 0:
            raise InvalidInput("grace_seconds must be a number >= 0", field="grace_seconds")

    def run(self, services: Services, attempt: Attempt) -> dict[str, Any]:
        report = services.automation.collect_garbage(grace_seconds=float(self.grace_seconds))
        return {"deleted": len(report.items), "freed_bytes": report.freed_bytes}


ACTIONS: dict[str, type[Action]] = {
    cls.kind: cls for cls in (StartPipeline, Deploy, MoveAlias, Webhook, RunMonitor, CollectGarbage)
}


def action_from_dict(data: Any) -> Action:
    """Build an action from its JSON form, naming what is wrong.

    Raises:
        InvalidInput: (``field="action"`` or the field at fault) for an unknown kind or bad fields.
    """
    if isinstance(data, Action):
        return data
    if not isinstance(data, Mapping) or "kind" not in data:
        raise InvalidInput(f'an action is an object with a "kind", one of {", ".join(ACTIONS)}', field="action")
    fields = dict(data)
    kind = fields.pop("kind")
    cls = ACTIONS.get(str(kind))
    if cls is None:
        raise InvalidInput(f"unknown action kind {kind!r}; known: {', '.join(ACTIONS)}", field="action")
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(fields) - known)
    if unknown:
        raise InvalidInput(f"{kind} has no field(s) {', '.join(unknown)}; it takes {', '.join(sorted(known))}",
                           field="action")
    try:
        return cls(**fields)
    except TypeError as exc:
        raise InvalidInput(f"{kind}: {exc}", field="action") from None


def _render(value: Any, event: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value)
        if whole:
            return _lookup(event, whole.group(1))
        return _REFERENCE.sub(lambda m: str(_lookup(event, m.group(1))), value)
    if isinstance(value, Mapping):
        return {k: _render(v, event) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, event) for v in value]
    return value


def _lookup(event: Mapping[str, Any], dotted: str) -> Any:
    value: Any = event
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise InvalidInput(f"the event has no field {dotted!r}; it has {', '.join(sorted(event))}", field="action")
        value = value[part]
    return value


def _need_text(value: Any, field: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} must be a non-empty string", field=field)


def _int(value: Any, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must be an integer, not {value!r}", field=field) from None
