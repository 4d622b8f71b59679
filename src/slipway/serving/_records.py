"""Serving records: what an endpoint serves, how a change rolls out, and what watches it.

Inputs (:class:`VariantSpec`, :class:`Strategy`, :class:`Alarms`, :class:`CaptureConfig`) are
checked on construction, so every face refuses a bad value with the same message and field.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from slipway.errors import InvalidInput


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def parse(cls, value: Any, field: str) -> Any:
        """``value`` as this record, or InvalidInput naming ``field`` and the first bad key."""
        if isinstance(value, cls):
            return value
        try:
            return cls.model_validate(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in (field, *first["loc"]))
            raise InvalidInput(f"{where}: {first['msg']}", field=where) from None


class EndpointStatus(StrEnum):
    """Where an endpoint stands; the serving process moves it to InService once it serves."""

    CREATING = "Creating"
    IN_SERVICE = "InService"
    UPDATING = "Updating"
    ROLLING_BACK = "RollingBack"
    FAILED = "Failed"


class DeploymentStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"


class Autoscaling(Record):
    """How many replicas a variant runs on Ray Serve (``slipway serve --engine ray``), by load.

    Ray Serve's autoscaler adds replicas while the requests in flight per replica, averaged over
    ``look_back_seconds``, stay above ``target_ongoing`` (for ``upscale_delay_seconds``) and removes
    them while they stay below (for ``downscale_delay_seconds``), between ``min_replicas`` and
    ``max_replicas``. Local serving (uvicorn worker processes) ignores it and starts the variant's
    ``workers``. The same settings scale an endpoint's ingress (``slipway serve --engine ray
    --ingress-max-replicas``).

    Attributes:
        min_replicas: the fewest replicas, also the number started (0: none while idle).
        max_replicas: the most replicas.
        target_ongoing: requests in flight per replica the autoscaler aims at.
        upscale_delay_seconds: how long the load must stay above target before a replica is added.
        downscale_delay_seconds: how long it must stay below before one is removed.
        look_back_seconds: the window the load is averaged over; the replicas report it four times
            per window (at most every 10 s), so a short window answers a step of load sooner.
    """

    min_replicas: int = Field(1, ge=0, le=1000)
    max_replicas: int = Field(1, ge=1, le=1000)
    target_ongoing: float = Field(2.0, gt=0, le=10_000, allow_inf_nan=False)
    upscale_delay_seconds: float = Field(30.0, ge=0, le=3600, allow_inf_nan=False)
    downscale_delay_seconds: float = Field(600.0, ge=0, le=86_400, allow_inf_nan=False)
    look_back_seconds: float = Field(30.0, ge=0.1, le=3600, allow_inf_nan=False)

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) is above max_replicas ({self.max_replicas})")
        return self

    def describe(self) -> str:
        """``1-4 replicas, 2 ongoing each``: what the CLI and the web UI show."""
        return f"{self.min_replicas}-{self.max_replicas} replicas, {self.target_ongoing:g} ongoing each"


class IngressReplicas(Record):
    """An endpoint's ingress on Ray Serve (routing, capture, ``/metrics``), as the engine last reported it.

    Attributes:
        running: replicas running now.
        autoscaling: its bounds when it scales by load; None: a fixed number of replicas.
    """

    running: int = Field(ge=0)
    autoscaling: Autoscaling | None = None

    def describe(self) -> str:
        """``2 running; 1-4 replicas, 8 ongoing each``: what the CLI and the web UI show."""
        return "; ".join([f"{self.running} running", *([self.autoscaling.describe()] if self.autoscaling else [])])


class VariantSpec(Record):
    """One model version behind an endpoint.

    Attributes:
        name: unique within the endpoint; defaults to ``GROUP-vVERSION``.
        model: ``GROUP/VERSION``.
        weight: share of live traffic relative to the other (non-shadow) variants.
        workers: worker processes this variant asks for: ``slipway serve`` starts the total of
            the live variants' workers (each process serves every variant, by weight). On Ray
            Serve, the variant's replicas when ``autoscaling`` is unset.
        shadow: receives a copy of live traffic; its answers are captured, never returned.
        autoscaling: replicas by load on Ray Serve (:class:`Autoscaling`); None: ``workers`` replicas.
    """

    name: str = Field("", pattern=r"^$|^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    model: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[1-9][0-9]*$")
    weight: float = Field(1.0, ge=0, allow_inf_nan=False)
    workers: int = Field(1, ge=1, le=64)
    shadow: bool = False
    autoscaling: Autoscaling | None = None

    @model_validator(mode="after")
    def _default_name(self) -> VariantSpec:
        if not self.name:
            group, version = self.model.rsplit("/", 1)
            object.__setattr__(self, "name", f"{group}-v{version}")
        return self

    @property
    def group(self) -> str:
        return self.model.rsplit("/", 1)[0]

    @property
    def version(self) -> int:
        return int(self.model.rsplit("/", 1)[1])


class Strategy(Record):
    """How a change of variants reaches traffic.

    ``all_at_once`` switches at once; ``canary`` sends ``share`` of traffic to the new variants for
    ``bake_seconds``, then all of it; ``linear`` adds ``share`` every ``bake_seconds``. During each
    bake the endpoint's :class:`Alarms` are watched on the new variants' traffic.
    """

    kind: Literal["all_at_once", "canary", "linear"] = "all_at_once"
    share: float = Field(0.1, gt=0, le=1, allow_inf_nan=False)
    bake_seconds: float = Field(60.0, ge=0, le=86_400, allow_inf_nan=False)


class Alarms(Record):
    """Thresholds on the new variants' traffic during a bake; crossing one rolls the change back.

    ``min_requests`` keeps one early error from deciding: below it, only time decides.
    """

    max_error_rate: float = Field(0.05, ge=0, le=1, allow_inf_nan=False)
    max_p99_ms: float | None = Field(None, gt=0, allow_inf_nan=False)
    min_requests: int = Field(10, ge=1)


class CaptureConfig(Record):
    """Data capture: the percentage of requests recorded with their answers (0 for none).

    A file of captured records is written to the artifact store when it holds
    ``max_records_per_file`` records, or ``flush_interval_seconds`` after its first request,
    whichever comes first.
    """

    sampling_percent: float = Field(0.0, ge=0, le=100, allow_inf_nan=False)
    max_records_per_file: int = Field(1000, ge=1, le=1_000_000)
    flush_interval_seconds: float = Field(60.0, gt=0, le=86_400, allow_inf_nan=False)


class CaptureFile(Record):
    """One file of captured records in the artifact store.

    Attributes:
        path: below the endpoint's artifacts (``capture/YYYY/MM/DD/HH/...jsonl``): what
            ``read_capture`` takes.
        size: bytes.
        records: how many records it holds (None for files written before names carried it).
        first_at: the time of its first request (None likewise).
        uploaded_at: when it was written to the store; it holds no record after that.
    """

    path: str
    size: int
    records: int | None = None
    first_at: dt.datetime | None = None
    uploaded_at: dt.datetime


class Variant(VariantSpec):
    """A variant as served: its spec and the id of the model version it names."""

    model_version_id: str


class WindowStats(Record):
    """What the data plane saw of the new variants' traffic since the current step began."""

    requests: int = Field(ge=0)
    errors: int = Field(ge=0)
    p99_ms: float | None = None
    # How long the reporting server has routed the current step's traffic (0: it does not yet, e.g. its
    # new variants' replicas are still starting); None: not said, the bake counts from the step's start.
    serving_seconds: float | None = Field(None, ge=0)


class Deployment(Record):
    """A change of an endpoint's variants and how far it got.

    ``share`` is the part of live traffic the ``target`` variants receive now; ``step_started_at``
    is when the current bake began.
    """

    id: str
    endpoint: str
    strategy: Strategy
    status: DeploymentStatus
    previous: list[Variant]
    target: list[Variant]
    share: float
    step_started_at: dt.datetime
    reason: str | None = None
    started_by: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None


class Endpoint(Record):
    """A served model: its live variants, capture and alarms, and the deployment in progress."""

    id: str
    name: str
    status: EndpointStatus
    reason: str | None = None
    variants: list[Variant]
    capture: CaptureConfig
    alarms: Alarms
    revision: int  # grows with every change of what traffic reaches, so servers know to reload
    production: bool = False  # changing it needs the deploy_production permission (approvers, admins)
    deployment: Deployment | None = None  # the one in progress
    # Running replicas of each variant, as the Ray Serve engine last reported them (none for local serving).
    replicas: dict[str, int] = Field(default_factory=dict)
    ingress: IngressReplicas | None = None  # its ingress's replicas, reported likewise (None: not on Ray Serve)
    created_by: str
    created_at: dt.datetime
    updated_by: str
    updated_at: dt.datetime


class GroundTruth(Record):
    """A label uploaded after the fact for one captured inference."""

    inference_id: str = Field(min_length=1, max_length=64)
    label: Any


class Stored(BaseModel):
    """How many labels an upload stored: the JSON answer of ``put_ground_truth``."""

    stored: int
