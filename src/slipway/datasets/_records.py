"""Dataset records: immutable values returned by the service and sent over the wire."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class ColumnSchema(Record):
    """One column of a version: its name, Arrow type (as Arrow spells it) and nullability."""

    name: str
    type: str
    nullable: bool = True


class Dataset(Record):
    """A named data set: the versions are where the data is."""

    id: str
    name: str
    description: str | None = None
    latest_version: int | None = None
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class DatasetVersion(Record):
    """One immutable version: content-hashed data stored as Parquet, with its description.

    Attributes:
        version: 1, 2, ... in registration order within the dataset.
        content_hash: sha256 of the stored Parquet file; equal data gives an equal hash.
        num_bytes: the size of the stored Parquet file.
        columns: the schema.
        preview: the first rows (at most 20), JSON-ready (times as ISO text, bytes as hex).
        source: where the data came from (a path, a URI, ``DataFrame``, ``upload:NAME``...).
    """

    id: str
    dataset_id: str
    dataset_name: str
    version: int
    content_hash: str
    num_rows: int
    num_bytes: int
    columns: list[ColumnSchema]
    preview: list[dict[str, Any]]
    source: str
    description: str | None = None
    tags: dict[str, str] = {}
    created_by: str
    created_at: dt.datetime

    @property
    def ref(self) -> str:
        """``name:version``, the way the CLI names a version."""
        return f"{self.dataset_name}:{self.version}"


class Registration(Record):
    """What :meth:`DatasetService.register` did: ``created`` is False when the content was known.

    Registering content a dataset already holds returns that version instead of a new one.
    """

    version: DatasetVersion
    created: bool


class ColumnDiff(Record):
    """One column of two versions side by side.

    Attributes:
        change: ``added`` (only in the second), ``removed`` (only in the first),
            ``type_changed`` or ``unchanged``.
        types: the Arrow type in each version (None where absent).
        statistics: statistic name -> [first, second], e.g. ``{"mean": [4.1, 4.3]}``.
    """

    name: str
    change: str
    types: list[str | None]
    statistics: dict[str, list[Any]] = {}


class DatasetDiff(Record):
    """Schema and statistics of two versions of a dataset side by side."""

    dataset_name: str
    versions: list[int]
    num_rows: list[int]
    same_content: bool
    columns: list[ColumnDiff]


class Ref(BaseModel):
    """A lineage node: ``{"kind": "run", "id": "..."}``."""

    kind: str
    id: str
