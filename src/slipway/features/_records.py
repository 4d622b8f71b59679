"""Feature store records: immutable values returned by the service and sent over the wire."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class Feature(Record):
    """A typed feature: ``type`` is one of ``int64``, ``float64``, ``string``, ``bool``, ``timestamp``."""

    name: str
    type: str


class FeatureGroup(Record):
    """Typed features keyed by a record id, with an event time.

    Attributes:
        record_id: the feature holding each record's identifier (``string`` or ``int64``).
        event_time: the feature holding when each value was true (``timestamp``).
        features: every feature, the two above included, in declaration order.
        ttl_seconds: online values older than this (by event time) read as missing; None: never.
        schema_version: 1 at creation, one more for each change of ``features``.
    """

    id: str
    name: str
    record_id: str
    event_time: str
    features: list[Feature]
    description: str | None = None
    tags: dict[str, str] = {}
    ttl_seconds: int | None = None
    schema_version: int
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def value_features(self) -> list[Feature]:
        """The features other than the record id and the event time."""
        return [f for f in self.features if f.name not in (self.record_id, self.event_time)]


class IngestResult(Record):
    """What one ingestion wrote: rows, offline files (one per event date) and online records."""

    group: str
    rows: int
    offline_files: int
    online_records: int


class MaterializeResult(Record):
    """What one materialization wrote to the online store."""

    group: str
    records: int


class Freshness(Record):
    """How recent a group's data is, read from its offline files' names (no data is read).

    Attributes:
        newest_event_date: the latest event date any ingested row has (None: nothing ingested).
        last_ingested_at: when the latest ingestion happened.
        offline_files: how many offline files the group has (one per event date per ingestion).
        stale: whether even the newest event date is older than the group's TTL, so online reads
            of every record come back missing; None when the group has no TTL or no data.
    """

    group: str
    newest_event_date: dt.date | None = None
    last_ingested_at: dt.datetime | None = None
    offline_files: int = 0
    stale: bool | None = None
