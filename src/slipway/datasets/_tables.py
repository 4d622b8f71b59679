from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from slipway.store import metadata

datasets = Table(
    "datasets",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# One immutable version per distinct content of a dataset. The data (data.parquet) and the
# statistics (statistics.json) are artifacts of Owner("dataset_version", id); the row keeps what
# listings show. JSON columns hold small documents: the schema, the first rows, the tags.
dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("dataset_id", String(26), ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("num_rows", BigInteger, nullable=False),
    Column("num_bytes", BigInteger, nullable=False),
    Column("schema_json", Text, nullable=False),
    Column("preview_json", Text, nullable=False),
    Column("tags_json", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("description", Text, nullable=True),
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_number"),
    Index("ix_dataset_versions_content", "dataset_id", "content_hash", unique=True),
)
