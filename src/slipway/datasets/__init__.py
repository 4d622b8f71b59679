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
from slipway.datasets._service import DatasetName, DatasetService, Node, ObjectRef, Statistics
from slipway.datasets._sources import FORMATS, DataFile, DataSource, SourcePolicy, data_files, open_source, read_frames

__all__ = [
    "ColumnDiff",
    "ColumnSchema",
    "DataFile",
    "DataSource",
    "Dataset",
    "DatasetDiff",
    "DatasetName",
    "DatasetService",
    "DatasetVersion",
    "FORMATS",
    "Materialized",
    "Node",
    "ObjectRef",
    "Ref",
    "Registration",
    "SourcePolicy",
    "Statistics",
    "canonical_parquet",
    "check_tags",
    "column_summary",
    "data_files",
    "json_safe_row",
    "open_source",
    "read_frames",
    "service_for",
]
