"""Records of the automation domain: what the service returns, immutable."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class RunStatus(StrEnum):
    """Where the run of one action stands.

    ``Running`` with a claim that ran out means the process running it died: the next dispatch
    takes it over, and the action checks what its first attempt already did before acting again.
    """

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class Schedule(Record):
    """A cron-driven action. ``next_run_at`` is the next occurrence it will fire (UTC)."""

    id: str
    name: str
    cron: str
    action: dict[str, Any]
    missed: str
    paused: bool
    next_run_at: dt.datetime
    last_run_at: dt.datetime | None
    created_by: str
    created_at: dt.datetime


class Rule(Record):
    """An event rule: on an outbox event of ``event_type`` whose fields match ``filters``, run ``action``."""

    id: str
    name: str
    event_type: str
    filters: dict[str, Any]
    action: dict[str, Any]
    enabled: bool
    created_by: str
    created_at: dt.datetime


class Hook(Record):
    """An incoming webhook: ``POST /hooks/{name}`` signed with its secret runs ``action``.

    ``secret`` is only set on the record :meth:`AutomationService.create_hook` returns: it is
    shown once, at creation, and never again.
    """

    id: str
    name: str
    action: dict[str, Any]
    created_by: str
    created_at: dt.datetime
    secret: str | None = None


class ActionRun(Record):
    """One run of an action, caused by a rule's event, a schedule's occurrence or a hook's call."""

    id: str
    source_kind: str
    source_name: str
    actor: str  # who the action acts as: the creator of its schedule, rule or hook
    event_id: str | None
    event: dict[str, Any]
    action: dict[str, Any]
    status: RunStatus
    attempts: int
    result: dict[str, Any] | None
    error: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None


class RetentionPolicy(Record):
    """How long stored things are kept; None keeps them for ever.

    Attributes:
        keep_executions: per pipeline, the number of newest finished executions kept.
        capture_days: captured endpoint traffic older than this many days is deleted.
    """

    keep_executions: int | None = None
    capture_days: int | None = None


class GcItem(Record):
    """One thing the collector deletes (or, in a dry run, would delete)."""

    kind: str  # pipeline_execution | capture | job_input | optuna_study (size 0: not measured) | blob | stray_blob
    name: str
    size: int


class GcReport(Record):
    """What one collection deleted (or would delete): each item, and the bytes of blobs freed."""

    dry_run: bool
    items: list[GcItem]
    freed_bytes: int
