"""Pipeline records: immutable values returned by the service and sent over the wire."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class StepStatus(StrEnum):
    """Where a step execution stands. Every transition is written to the store as it happens."""

    PENDING = "Pending"
    RUNNING = "Running"
    WAITING = "Waiting"
    SUCCEEDED = "Succeeded"
    CACHED = "Cached"
    SKIPPED = "Skipped"
    FAILED = "Failed"
    STOPPED = "Stopped"

    @property
    def terminal(self) -> bool:
        return self in _STEP_TERMINAL

    @property
    def completed(self) -> bool:
        """Finished with outputs that downstream steps can use."""
        return self in (StepStatus.SUCCEEDED, StepStatus.CACHED)


_STEP_TERMINAL = frozenset(
    {StepStatus.SUCCEEDED, StepStatus.CACHED, StepStatus.SKIPPED, StepStatus.FAILED, StepStatus.STOPPED}
)


class ExecutionStatus(StrEnum):
    """Where a pipeline execution stands.

    ``Interrupted`` is what an execution becomes when the process orchestrating it died without
    finishing it (killed, crashed, machine lost): ``resume`` carries on from there.
    """

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    STOPPED = "Stopped"
    INTERRUPTED = "Interrupted"

    @property
    def terminal(self) -> bool:
        return self in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.STOPPED)

    @property
    def resumable(self) -> bool:
        return self in (ExecutionStatus.INTERRUPTED, ExecutionStatus.STOPPED)


def _duration(start: dt.datetime | None, end: dt.datetime | None) -> dt.timedelta | None:
    return None if start is None or end is None else end - start


class PipelineSummary(Record):
    """A named pipeline and the number of its newest version."""

    id: str
    name: str
    description: str | None = None
    latest_version: int
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class PipelineVersion(Record):
    """One definition of a pipeline, as JSON; a changed definition is a new version."""

    id: str
    pipeline: str
    version: int
    digest: str
    definition: dict[str, Any]
    created_by: str
    created_at: dt.datetime


class StepArtifact(Record):
    """A file or folder a step consumed or produced, by reference into the artifact store.

    ``digest`` is the content hash: the file's sha256, or for a folder the sha256 over its
    files' paths and hashes. Two artifacts with the same digest hold the same bytes.
    """

    name: str
    owner_kind: str
    owner_id: str
    path: str
    is_dir: bool
    digest: str


class OutputFile(Record):
    """One file of a step's output, as ``slipway pipelines outputs`` lists it.

    Attributes:
        output: the output's name (``train``, ``evaluation``).
        path: the file's path within the output (``train.csv``, ``evaluation.json``).
        size: bytes.
        sha256: its content hash.
    """

    output: str
    path: str
    size: int
    sha256: str


class StepAttempt(Record):
    """One try of a step: retries and resumed executions add attempts."""

    attempt: int
    status: StepStatus
    worker: str | None = None
    started_at: dt.datetime
    ended_at: dt.datetime | None = None
    error_type: str | None = None
    error: str | None = None

    @property
    def duration(self) -> dt.timedelta | None:
        return _duration(self.started_at, self.ended_at)


class StepExecution(Record):
    """One step of one execution: status, times, attempts, cache use, inputs, outputs, errors."""

    id: str
    execution_id: str
    step_name: str
    step_type: str
    status: StepStatus
    depends_on: list[str] = []
    attempts: int = 0
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    cache_key: str | None = None
    cached_from: str | None = None
    run_id: str | None = None
    properties: dict[str, Any] | None = None
    error_type: str | None = None
    error: str | None = None
    wait_deadline: dt.datetime | None = None
    inputs: list[StepArtifact] = []
    outputs: list[StepArtifact] = []
    attempt_history: list[StepAttempt] = []

    @property
    def duration(self) -> dt.timedelta | None:
        return _duration(self.started_at, self.ended_at)


class PipelineExecution(Record):
    """One run of one pipeline version, with its steps when described.

    ``queued``: started through a server, so any worker may orchestrate it; ``orchestrator`` is the
    process holding it (``host:pid:start``) until ``lease_expires_at``, unless it renews its lease.
    """

    id: str
    pipeline: str
    version: int
    version_id: str
    status: ExecutionStatus
    parameters: dict[str, Any]
    options: dict[str, Any] = {}
    reference_execution_id: str | None = None
    failure_reason: str | None = None
    stop_requested: bool = False
    queued: bool = False
    orchestrator: str | None = None
    lease_expires_at: dt.datetime | None = None
    created_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    steps: list[StepExecution] = []

    @property
    def duration(self) -> dt.timedelta | None:
        return _duration(self.started_at, self.ended_at)

    def step(self, name: str) -> StepExecution:
        """The step execution called ``name``.

        Raises:
            KeyError: if the execution has no such step (or was listed without its steps).
        """
        for step in self.steps:
            if step.step_name == name:
                return step
        raise KeyError(name)


class CacheDifference(Record):
    """One reason a step missed the cache: what differs from the run it was compared with.

    ``kind`` is ``code``, ``input``, ``parameter``, ``environment`` or ``definition``; ``name``
    says which one (an input, a parameter, a package); ``detail`` is a diff of the code when
    both sources are known.
    """

    kind: str
    name: str
    before: Any = None
    after: Any = None
    detail: str | None = None


class CacheExplanation(Record):
    """Why a step was, or was not, served from the cache.

    Attributes:
        hit: whether the step's outputs were reused.
        reason: one sentence for people.
        compared_with: the earlier step execution the differences are taken against: the
            latest one of the same step that ran, or the one whose outputs were reused.
        differences: what changed since ``compared_with``; empty for a hit.
    """

    execution_id: str
    step_name: str
    status: StepStatus
    hit: bool
    reason: str
    compared_with: str | None = None
    differences: list[CacheDifference] = []


class DefinitionChange(Record):
    """One difference between two definitions: ``path`` names the field, e.g. ``steps.Train.inputs``."""

    path: str
    change: str  # added | removed | changed
    before: Any = None
    after: Any = None


class DefinitionDiff(Record):
    """What changed from one version of a pipeline to another."""

    pipeline: str
    from_version: int
    to_version: int
    changes: list[DefinitionChange]


class ExpiredExecution(Record):
    """A finished execution a retention limit lets go (see ``PipelineService.expired_executions``).

    Attributes:
        owners: the artifact owners (kind, id) that keep its files: the execution and its steps.
    """

    id: str
    pipeline: str
    owners: list[tuple[str, str]]

    @property
    def name(self) -> str:
        """``pipeline/execution id``, as reports name it."""
        return f"{self.pipeline}/{self.id}"
