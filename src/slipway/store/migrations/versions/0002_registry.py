"""model registry: groups, versions, metrics, tags, approval and alias history

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 15:46:57.939362
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(table: str, column: str, target: str, *, cascade: bool = True) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete="CASCADE" if cascade else None,
    )


def upgrade() -> None:
    op.create_table(
        "model_groups",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("last_version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=256), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_model_groups_name")),
    )
    op.create_table(
        "model_group_tags",
        sa.Column("group_id", sa.String(length=26), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        _fk("model_group_tags", "group_id", "model_groups"),
        sa.PrimaryKeyConstraint("group_id", "key", name=op.f("pk_model_group_tags")),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("group_id", sa.String(length=26), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("flavor", sa.String(length=64), nullable=True),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("meta", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source_kind", sa.String(length=32), nullable=True),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("registered_by", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=256), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        _fk("model_versions", "group_id", "model_groups", cascade=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("group_id", "version", name="uq_model_versions_group_version"),
    )
    op.create_index("ix_model_versions_status", "model_versions", ["status"])
    op.create_index("ix_model_versions_source", "model_versions", ["source_kind", "source_id"])
    op.create_table(
        "model_version_metrics",
        sa.Column("version_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("std", sa.Float(precision=53), nullable=True),
        _fk("model_version_metrics", "version_id", "model_versions"),
        sa.PrimaryKeyConstraint("version_id", "name", name=op.f("pk_model_version_metrics")),
    )
    op.create_index("ix_model_version_metrics_name_value", "model_version_metrics", ["name", "value"])
    op.create_table(
        "model_version_tags",
        sa.Column("version_id", sa.String(length=26), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        _fk("model_version_tags", "version_id", "model_versions"),
        sa.PrimaryKeyConstraint("version_id", "key", name=op.f("pk_model_version_tags")),
    )
    op.create_table(
        "model_status_history",
        sa.Column("seq", BigIntPK, autoincrement=True, nullable=False),
        sa.Column("version_id", sa.String(length=26), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=False),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(length=256), nullable=False),
        sa.Column("changed_at", sa.BigInteger(), nullable=False),
        _fk("model_status_history", "version_id", "model_versions"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_model_status_history")),
    )
    op.create_index("ix_model_status_history_version", "model_status_history", ["version_id", "seq"])
    op.create_table(
        "model_aliases",
        sa.Column("group_id", sa.String(length=26), nullable=False),
        sa.Column("alias", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.String(length=26), nullable=False),
        sa.Column("updated_by", sa.String(length=256), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        _fk("model_aliases", "group_id", "model_groups"),
        _fk("model_aliases", "version_id", "model_versions", cascade=False),
        sa.PrimaryKeyConstraint("group_id", "alias", name=op.f("pk_model_aliases")),
    )
    op.create_index("ix_model_aliases_version", "model_aliases", ["version_id"])
    op.create_table(
        "model_alias_history",
        sa.Column("seq", BigIntPK, autoincrement=True, nullable=False),
        sa.Column("group_id", sa.String(length=26), nullable=False),
        sa.Column("alias", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.String(length=26), nullable=True),
        sa.Column("previous_version_id", sa.String(length=26), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(length=256), nullable=False),
        sa.Column("changed_at", sa.BigInteger(), nullable=False),
        _fk("model_alias_history", "group_id", "model_groups"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_model_alias_history")),
    )
    op.create_index("ix_model_alias_history_alias", "model_alias_history", ["group_id", "alias", "changed_at"])


def downgrade() -> None:
    # Dropping a table drops its indexes; children go before the tables they reference.
    for table in (
        "model_alias_history",
        "model_aliases",
        "model_status_history",
        "model_version_tags",
        "model_version_metrics",
        "model_versions",
        "model_group_tags",
        "model_groups",
    ):
        op.drop_table(table)
