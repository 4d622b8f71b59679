"""Pipeline tables: pipelines, their versions, executions, step executions, attempts and step I/O.

Times are integer milliseconds since the epoch (UTC), as everywhere in the store. JSON values
(definitions, parameters, properties, cache keys' parts) are stored as text.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from slipway.store import metadata

pipelines = Table(
    "pipelines",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    # The highest version number handed out: incremented in the transaction that adds a version.
    Column("latest_version", Integer, nullable=False, default=0),
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# Each distinct JSON definition of a pipeline, numbered from 1; ``digest`` is its sha256.
pipeline_versions = Table(
    "pipeline_versions",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("pipeline_id", String(26), ForeignKey("pipelines.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("definition", Text, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("pipeline_id", "version", name="uq_pipeline_versions_number"),
    UniqueConstraint("pipeline_id", "digest", name="uq_pipeline_versions_digest"),
)

pipeline_executions = Table(
    "pipeline_executions",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("pipeline_id", String(26), ForeignKey("pipelines.id", ondelete="CASCADE"), nullable=False),
    Column("version_id", String(26), ForeignKey("pipeline_versions.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("parameters", Text, nullable=False),  # JSON: the resolved value of every parameter
    Column("options", Text, nullable=False),  # JSON: executor, max_parallel, cache, selected steps
    Column("environment", Text, nullable=False),  # JSON: installed package -> version
    Column("reference_execution_id", String(26), nullable=True),
    Column("failure_reason", Text, nullable=True),
    # Who runs it: "host:pid:process-start", and when it last said it is alive.
    Column("orchestrator", String(256), nullable=True),
    Column("heartbeat_at", BigInteger, nullable=True),
    # The orchestrator's lease (see _leases.py): it holds the execution until ``lease_expires_at``
    # and renews it at every heartbeat; each claim adds one to ``lease_token``, so a write made by
    # an orchestrator that lost its lease is refused. ``queued``: any worker may claim it (started
    # through a server), not only the process that started it.
    Column("queued", Boolean, nullable=False, default=False, server_default=false()),
    Column("lease_token", Integer, nullable=False, default=0, server_default="0"),
    Column("lease_expires_at", BigInteger, nullable=True),
    Column("stop_requested", Boolean, nullable=False, default=False),
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("ended_at", BigInteger, nullable=True),
    Index("ix_pipeline_executions_pipeline", "pipeline_id", "created_at"),
    Index("ix_pipeline_executions_status", "status"),
    Index("ix_pipeline_executions_queue", "queued", "status"),
)

pipeline_step_executions = Table(
    "pipeline_step_executions",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("execution_id", String(26), ForeignKey("pipeline_executions.id", ondelete="CASCADE"), nullable=False),
    Column("step_name", String(128), nullable=False),
    Column("step_type", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("started_at", BigInteger, nullable=True),
    Column("ended_at", BigInteger, nullable=True),
    Column("cache_key", String(64), nullable=True),
    Column("cache_parts", Text, nullable=True),  # JSON: what the cache key was made of
    Column("cached_from", String(26), nullable=True),  # the step execution whose outputs were reused
    Column("run_id", String(26), nullable=True),  # the tracked run of a training or tuning step
    Column("properties", Text, nullable=True),  # JSON object
    Column("error_type", String(128), nullable=True),
    Column("error", Text, nullable=True),
    Column("wait_deadline", BigInteger, nullable=True),
    Column("signal", Text, nullable=True),  # JSON: the payload a Wait step was released with
    UniqueConstraint("execution_id", "step_name", name="uq_pipeline_step_executions_step"),
    Index("ix_pipeline_step_executions_cache_key", "cache_key"),
)

# One row per attempt of a step: retries and resumed runs keep the earlier attempts' outcome.
pipeline_step_attempts = Table(
    "pipeline_step_attempts",
    metadata,
    Column(
        "step_execution_id",
        String(26),
        ForeignKey("pipeline_step_executions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("attempt", Integer, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("worker", String(128), nullable=True),
    Column("started_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),
    Column("error_type", String(128), nullable=True),
    Column("error", Text, nullable=True),
)

# What each step execution consumed and produced: references into the artifact store.
pipeline_step_artifacts = Table(
    "pipeline_step_artifacts",
    metadata,
    Column(
        "step_execution_id",
        String(26),
        ForeignKey("pipeline_step_executions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("direction", String(8), primary_key=True),  # input | output
    Column("name", String(128), primary_key=True),
    Column("owner_kind", String(32), nullable=False),
    Column("owner_id", String(64), nullable=False),
    Column("path", String(1024), nullable=False),
    Column("is_dir", Boolean, nullable=False),
    Column("digest", String(64), nullable=False),
)
