"""The feature store: typed feature groups, offline history, online latest values, training sets.

Example:
    >>> from slipway import Client
    >>> client = Client(home="/tmp/slipway-doc")
    >>> client.features.create_group(
    ...     "customers", {"customer_id": "string", "ts": "timestamp", "spend": "float64"},
    ...     record_id="customer_id", event_time="ts", ttl_seconds=86_400)
    >>> client.features.ingest("customers", frame).rows
    1000
    >>> client.features.get_online_features("customers", ["c1"])
    [{'id': 'c1', 'spend': 12.5}]
"""

from slipway.features._configure import service_for
from slipway.features._frames import PARQUET, AnsweredTable, TableAnswer, answered_frame, parquet_bytes, read_parquet
from slipway.features._groups import UNCHANGED, FeatureSpec, parse_features
from slipway.features._offline import OfflineStore
from slipway.features._online import EncodedRecords, OnlineRecord, OnlineStore
from slipway.features._online_redis import RedisOnlineStore
from slipway.features._online_sqlite import SqliteOnlineStore
from slipway.features._online_url import online_store_from_url
from slipway.features._records import Feature, FeatureGroup, Freshness, IngestResult, MaterializeResult
from slipway.features._service import Age, Entities, FeatureGroupName, FeatureList, FeatureService, Groups, Rows
from slipway.features._types import FEATURE_TYPES

__all__ = [
    "FEATURE_TYPES",
    "PARQUET",
    "Age",
    "AnsweredTable",
    "EncodedRecords",
    "Entities",
    "Feature",
    "FeatureGroup",
    "FeatureGroupName",
    "FeatureList",
    "FeatureService",
    "FeatureSpec",
    "Groups",
    "Freshness",
    "IngestResult",
    "MaterializeResult",
    "OfflineStore",
    "OnlineRecord",
    "OnlineStore",
    "RedisOnlineStore",
    "Rows",
    "SqliteOnlineStore",
    "TableAnswer",
    "UNCHANGED",
    "answered_frame",
    "online_store_from_url",
    "parquet_bytes",
    "parse_features",
    "read_parquet",
    "service_for",
]
