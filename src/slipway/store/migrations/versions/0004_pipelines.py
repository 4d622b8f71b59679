"""pipelines: pipelines, versions, executions, step executions, attempts and step artifacts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 16:05:27.126938
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipelines")),
        sa.UniqueConstraint("name", name=op.f("uq_pipelines_name")),
    )
    op.create_table(
        "pipeline_versions",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("pipeline_id", sa.String(length=26), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipelines.id"],
            name=op.f("fk_pipeline_versions_pipeline_id_pipelines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_versions")),
        sa.UniqueConstraint("pipeline_id", "digest", name="uq_pipeline_versions_digest"),
        sa.UniqueConstraint("pipeline_id", "version", name="uq_pipeline_versions_number"),
    )
    op.create_table(
        "pipeline_executions",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("pipeline_id", sa.String(length=26), nullable=False),
        sa.Column("version_id", sa.String(length=26), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("environment", sa.Text(), nullable=False),
        sa.Column("reference_execution_id", sa.String(length=26), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("orchestrator", sa.String(length=256), nullable=True),
        sa.Column("heartbeat_at", sa.BigInteger(), nullable=True),
        sa.Column("stop_requested", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipelines.id"],
            name=op.f("fk_pipeline_executions_pipeline_id_pipelines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["pipeline_versions.id"], name=op.f("fk_pipeline_executions_version_id_pipeline_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_executions")),
    )
    with op.batch_alter_table("pipeline_executions", schema=None) as batch_op:
        batch_op.create_index("ix_pipeline_executions_pipeline", ["pipeline_id", "created_at"], unique=False)
        batch_op.create_index("ix_pipeline_executions_status", ["status"], unique=False)

    op.create_table(
        "pipeline_step_executions",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("execution_id", sa.String(length=26), nullable=False),
        sa.Column("step_name", sa.String(length=128), nullable=False),
        sa.Column("step_type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.Column("cache_key", sa.String(length=64), nullable=True),
        sa.Column("cache_parts", sa.Text(), nullable=True),
        sa.Column("cached_from", sa.String(length=26), nullable=True),
        sa.Column("run_id", sa.String(length=26), nullable=True),
        sa.Column("properties", sa.Text(), nullable=True),
        sa.Column("error_type", sa.String(length=128), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("wait_deadline", sa.BigInteger(), nullable=True),
        sa.Column("signal", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["pipeline_executions.id"],
            name=op.f("fk_pipeline_step_executions_execution_id_pipeline_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_step_executions")),
        sa.UniqueConstraint("execution_id", "step_name", name="uq_pipeline_step_executions_step"),
    )
    with op.batch_alter_table("pipeline_step_executions", schema=None) as batch_op:
        batch_op.create_index("ix_pipeline_step_executions_cache_key", ["cache_key"], unique=False)

    op.create_table(
        "pipeline_step_artifacts",
        sa.Column("step_execution_id", sa.String(length=26), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("owner_kind", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("is_dir", sa.Boolean(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["step_execution_id"],
            ["pipeline_step_executions.id"],
            name=op.f("fk_pipeline_step_artifacts_step_execution_id_pipeline_step_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("step_execution_id", "direction", "name", name=op.f("pk_pipeline_step_artifacts")),
    )
    op.create_table(
        "pipeline_step_attempts",
        sa.Column("step_execution_id", sa.String(length=26), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("worker", sa.String(length=128), nullable=True),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.Column("error_type", sa.String(length=128), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["step_execution_id"],
            ["pipeline_step_executions.id"],
            name=op.f("fk_pipeline_step_attempts_step_execution_id_pipeline_step_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("step_execution_id", "attempt", name=op.f("pk_pipeline_step_attempts")),
    )


def downgrade() -> None:
    op.drop_table("pipeline_step_attempts")
    op.drop_table("pipeline_step_artifacts")
    with op.batch_alter_table("pipeline_step_executions", schema=None) as batch_op:
        batch_op.drop_index("ix_pipeline_step_executions_cache_key")

    op.drop_table("pipeline_step_executions")
    with op.batch_alter_table("pipeline_executions", schema=None) as batch_op:
        batch_op.drop_index("ix_pipeline_executions_status")
        batch_op.drop_index("ix_pipeline_executions_pipeline")

    op.drop_table("pipeline_executions")
    op.drop_table("pipeline_versions")
    op.drop_table("pipelines")
