from sqlalchemy import BigInteger, Column, Index, String, Table

from slipway.store import metadata

lineage_nodes = Table(
    "lineage_nodes",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("object_id", String(512), primary_key=True),
    Column("name", String(512), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("retired_at", BigInteger, nullable=True),  # set when the object no longer serves (a replaced variant)
)

lineage_edges = Table(
    "lineage_edges",
    metadata,
    Column("src_kind", String(32), primary_key=True),
    Column("src_id", String(512), primary_key=True),
    Column("dst_kind", String(32), primary_key=True),
    Column("dst_id", String(512), primary_key=True),
    Column("relation", String(32), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_lineage_edges_dst", "dst_kind", "dst_id"),
)
