from sqlalchemy import BigInteger, Column, Index, String, Table, Text

from slipway.store import BigIntPK, metadata

# The outbox: domain events written in the same transaction as the change that caused them.
events = Table(
    "events",
    metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("id", String(26), nullable=False, unique=True),
    Column("type", String(64), nullable=False),
    Column("object_kind", String(32), nullable=False),
    Column("object_id", String(512), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_events_type", "type"),
)

# The audit trail: append-only, each entry hash-chained to the one before it.
audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("id", String(26), nullable=False, unique=True),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object_kind", String(32), nullable=False),
    Column("object_id", String(512), nullable=False),
    Column("source", String(256), nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_events_object", "object_kind", "object_id"),
    Index("ix_audit_events_actor", "actor"),
)
