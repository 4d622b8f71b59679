"""Registry records: immutable values returned by the service and sent over the wire."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from slipway._references import ModelUri, Selector
from slipway.errors import InvalidInput


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class ApprovalStatus(StrEnum):
    """Whether a version may go to production; every version starts pending."""

    PENDING = "PendingManualApproval"
    APPROVED = "Approved"
    REJECTED = "Rejected"

    @classmethod
    def parse(cls, value: ApprovalStatus | str) -> ApprovalStatus:
        """Accept the value or, for people typing it, ``pending``/``approved``/``rejected`` in any case.

        Raises:
            InvalidInput: naming ``status`` and the accepted values.
        """
        if isinstance(value, ApprovalStatus):
            return value
        text = str(value).strip().lower()
        for status in cls:
            if text in (status.value.lower(), status.name.lower()):
                return status
        raise InvalidInput(
            f"unknown approval status {value!r}; use one of {', '.join(s.value for s in cls)}", field="status"
        )


class MetricValue(Record):
    """A metric of a model version, with its standard deviation when it was estimated."""

    value: float
    std: float | None = None

    def __str__(self) -> str:
        return f"{self.value:.6g}" if self.std is None else f"{self.value:.6g} ± {self.std:.2g}"


class ModelGroup(Record):
    """A registered model: a named group of versions."""

    id: str
    name: str
    description: str | None = None
    tags: dict[str, str] = {}
    latest_version: int = 0  # the highest number handed out so far, archived versions included
    aliases: dict[str, int] = {}  # alias -> version number
    created_by: str
    created_at: dt.datetime
    updated_by: str
    updated_at: dt.datetime


class ModelVersion(Record):
    """One version of a model group: its package, where it came from, and where it stands.

    ``content_hash`` identifies the package's files (one SHA-256 over each file's path and
    SHA-256, see :func:`slipway.store.artifacts.tree_digest`); registration fixes it, since a
    registered version's files never change. ``approved_content_hash`` is the hash the approval
    recorded (None unless Approved): loading checks the files against it before a model is served.
    """

    id: str
    group: str
    version: int
    flavor: str | None = None
    signature: dict[str, Any] | None = None
    metrics: dict[str, MetricValue] = {}
    metadata: dict[str, Any] = {}
    tags: dict[str, str] = {}
    description: str | None = None
    source_kind: str | None = None  # "run" or "step_execution"
    source_id: str | None = None
    status: ApprovalStatus = ApprovalStatus.PENDING
    content_hash: str | None = None
    approved_content_hash: str | None = None
    aliases: list[str] = []
    archived: bool = False
    registered_by: str
    created_at: dt.datetime
    updated_by: str
    updated_at: dt.datetime
    trusted: bool = False  # an admin vouched for its files: loadable with formats that run code
    trusted_by: str | None = None
    trusted_at: dt.datetime | None = None

    @property
    def uri(self) -> str:
        """The URI that fetches exactly this version, e.g. ``models:/abalone/3``."""
        return str(ModelUri(self.group, Selector.NUMBER, version=self.version))


class StatusChange(Record):
    """One entry of a version's approval history."""

    group: str
    version: int
    from_status: ApprovalStatus
    to_status: ApprovalStatus
    comment: str | None = None
    changed_by: str
    changed_at: dt.datetime


class AliasChange(Record):
    """One move of an alias: ``version`` is None when the alias was removed."""

    group: str
    alias: str
    version: int | None
    previous_version: int | None = None
    comment: str | None = None
    changed_by: str
    changed_at: dt.datetime


class VersionComparison(Record):
    """Versions side by side: one column per version, one row per metric (None where absent)."""

    group: str
    versions: list[int]
    statuses: list[ApprovalStatus]
    metrics: dict[str, list[MetricValue | None]]
