"""Clarify records: immutable values returned by the service and sent over the wire."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from pydantic import BaseModel, ConfigDict


class ReportKind(enum.StrEnum):
    BIAS = "bias"
    EXPLAINABILITY = "explainability"


class ClarifyReport(BaseModel):
    """One stored report: its files are artifacts (``analysis.json``, ``report.html``, local attributions).

    Attributes:
        model: the model version it describes (``GROUP/VERSION``): the report shows on the
            version's page and in its model card.
        dataset: the dataset version it describes (``name:version``), when the data was a
            registered dataset.
        config: the bias configuration, or the explanation's settings.
        summary: headline numbers: metrics per facet value, top features.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    kind: ReportKind
    model: str | None = None
    dataset: str | None = None
    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    created_by: str
    created_at: dt.datetime
