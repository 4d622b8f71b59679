"""Registry tables: model groups, their versions, approval and alias history.

Times are integer milliseconds since the epoch (UTC), as everywhere in the store. History tables
carry an auto-incremented ``seq`` so entries written in the same millisecond keep their order.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from slipway.store import BigIntPK, metadata

model_groups = Table(
    "model_groups",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    # The counter versions are numbered from: incremented in the registering transaction, whose
    # row lock also serialises alias moves within the group.
    Column("last_version", Integer, nullable=False, default=0),
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_by", String(256), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

model_group_tags = Table(
    "model_group_tags",
    metadata,
    Column("group_id", String(26), ForeignKey("model_groups.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("group_id", String(26), ForeignKey("model_groups.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("flavor", String(64), nullable=True),
    Column("signature", Text, nullable=True),  # JSON
    Column("meta", Text, nullable=False),  # JSON: the version's free-form metadata
    Column("description", Text, nullable=True),
    Column("source_kind", String(32), nullable=True),  # run | step_execution
    Column("source_id", String(64), nullable=True),
    Column("status", String(32), nullable=False),
    # The hash of the version's files (slipway.store.artifacts.tree_digest), taken as registration
    # sealed them; and the one the approval saw, while the version is Approved (NULL otherwise).
    Column("content_hash", String(64), nullable=False),
    Column("approved_content_hash", String(64), nullable=True),
    Column("archived", Boolean, nullable=False, default=False),
    Column("registered_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_by", String(256), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # The admin who marked the version trusted (loadable with formats that run code), and when;
    # NULL while it is not (registry/_trust.py).
    Column("trusted_by", String(256), nullable=True),
    Column("trusted_at", BigInteger, nullable=True),
    UniqueConstraint("group_id", "version", name="uq_model_versions_group_version"),
    Index("ix_model_versions_status", "status"),
    Index("ix_model_versions_source", "source_kind", "source_id"),
)

model_version_metrics = Table(
    "model_version_metrics",
    metadata,
    Column("version_id", String(26), ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(250), primary_key=True),
    Column("value", Float(precision=53), nullable=False),
    Column("std", Float(precision=53), nullable=True),
    Index("ix_model_version_metrics_name_value", "name", "value"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("version_id", String(26), ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

model_status_history = Table(
    "model_status_history",
    metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("version_id", String(26), ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False),
    Column("from_status", String(32), nullable=False),
    Column("to_status", String(32), nullable=False),
    Column("comment", Text, nullable=True),
    Column("changed_by", String(256), nullable=False),
    Column("changed_at", BigInteger, nullable=False),
    Index("ix_model_status_history_version", "version_id", "seq"),
)

# The current holder of each alias: one row per (group, alias), so one version per alias.
model_aliases = Table(
    "model_aliases",
    metadata,
    Column("group_id", String(26), ForeignKey("model_groups.id", ondelete="CASCADE"), primary_key=True),
    Column("alias", String(64), primary_key=True),
    Column("version_id", String(26), ForeignKey("model_versions.id"), nullable=False),
    Column("updated_by", String(256), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_model_aliases_version", "version_id"),
)

# Every move of an alias; version_id is NULL when the alias was removed.
model_alias_history = Table(
    "model_alias_history",
    metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("group_id", String(26), ForeignKey("model_groups.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(64), nullable=False),
    Column("version_id", String(26), nullable=True),
    Column("previous_version_id", String(26), nullable=True),
    Column("comment", Text, nullable=True),
    Column("changed_by", String(256), nullable=False),
    Column("changed_at", BigInteger, nullable=False),
    Index("ix_model_alias_history_alias", "group_id", "alias", "changed_at"),
)
