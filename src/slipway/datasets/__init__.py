"""Datasets: named data with immutable, content-hashed versions, their statistics and lineage.

Example:
    >>> from slipway import Client
    >>> client = Client(home="/tmp/slipway-doc")
    >>> reg = client.datasets.register("abalone", "abalone.csv", description="UCI abalone")
    >>> reg.version.ref, reg.version.num_rows
    ('abalone:1', 4177)
    >>> client.datasets.get_statistics("abalone")["rings"].mean
    9.93...
"""

from slipway.datasets._configure import service_for
from slipway.datasets._diff import column_summary
from slipway.datasets._names import check_tags
from slipway.datasets._parquet import Materialized, canonical_parquet, json_safe_row
from slipway.datasets._records import (
    ColumnDiff,
    ColumnSchema,
    Dataset,
    DatasetDiff,
    DatasetVersion,
    Ref,
    Registration,
)
from slipway.datasets._service import DatasetService, ObjectRef
from slipway.datasets._sources import FORMATS, DataSource, SourcePolicy, open_source, read_frames

__all__ = [
    "FORMATS",
    "ColumnDiff",
    "Materialized",
    "ColumnSchema",
    "DataSource",
    "Dataset",
    "DatasetDiff",
    "DatasetService",
    "DatasetVersion",
    "ObjectRef",
    "Ref",
    "Registration",
    "SourcePolicy",
    "canonical_parquet",
    "column_summary",
    "json_safe_row",
    "open_source",
    "read_frames",
    "check_tags",
    "service_for",
]
