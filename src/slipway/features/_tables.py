from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table, Text

from slipway.store import metadata

# A feature group: its identity and current schema version. The offline history lives in the
# artifact store (Owner("feature_group", id), paths offline/event_date=YYYY-MM-DD/<ingest>.parquet);
# the latest values per record id live in the online store.
feature_groups = Table(
    "feature_groups",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("record_id", String(128), nullable=False),
    Column("event_time", String(128), nullable=False),
    Column("description", Text, nullable=True),
    Column("tags_json", Text, nullable=False),
    Column("ttl_seconds", BigInteger, nullable=True),
    Column("schema_version", Integer, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# Every schema a group has had: features_json is [{"name", "type"}, ...] in declaration order.
feature_group_schemas = Table(
    "feature_group_schemas",
    metadata,
    Column("group_id", String(26), ForeignKey("feature_groups.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("features_json", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
