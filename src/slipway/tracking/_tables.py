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
)

from slipway.store import BigIntPK, metadata

experiments = Table(
    "experiments",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("lifecycle_stage", String(16), nullable=False, default="active"),
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", String(26), ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("experiment_id", String(26), ForeignKey("experiments.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("parent_run_id", String(26), nullable=True),
    Column("user", String(256), nullable=False),
    Column("lifecycle_stage", String(16), nullable=False, default="active"),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    Index("ix_runs_parent", "parent_run_id"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(26), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_params_key_value", "key", "value"),
)

run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", String(26), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

# Full history. A series is one run's metric key, named once here; each logged point is then a
# few integers and a float (its series, step, timestamp, seq, value): logging stores one row per
# point, and bulk logging is as fast as that row is small.
metric_series = Table(
    "metric_series",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("run_id", String(26), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Index("ix_metric_series_run_key", "run_id", "key", unique=True),
)

# One row per logged point, clustered by (series, step, timestamp, seq) on SQLite (WITHOUT ROWID:
# the key is the table, no second B-tree to maintain): a metric's history is one range read in
# order. ``seq`` numbers the points of a series that share a step and timestamp in the order they
# were logged (0 for the first: nearly always). NaN is stored as is_nan=1 with value 0, because
# SQLite turns NaN into NULL.
metric_points = Table(
    "metric_points",
    metadata,
    Column(
        "series_id", BigInteger, ForeignKey("metric_series.id", ondelete="CASCADE"),
        primary_key=True, autoincrement=False,
    ),
    Column("step", BigInteger, primary_key=True, autoincrement=False),
    Column("timestamp", BigInteger, primary_key=True, autoincrement=False),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("value", Float(precision=53), nullable=False),
    Column("is_nan", Boolean, nullable=False),
    sqlite_with_rowid=False,
)

# The latest point per (run, key): what searches filter and order by.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", String(26), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Float(precision=53), nullable=False),
    Column("is_nan", Boolean, nullable=False, default=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_latest_metrics_key_value", "key", "value"),
)

# The data sets runs read (MLflow's dataset inputs). ``key`` hashes (name, digest, context): one
# entry per run and key, whatever the length of the name, so the unique index stays small.
run_inputs = Table(
    "run_inputs",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("run_id", String(26), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(64), nullable=False),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("context", String(500), nullable=True),
    Column("source_type", String(64), nullable=True),
    Column("source", Text, nullable=True),
    Column("data_schema", Text, nullable=True),
    Column("profile", Text, nullable=True),
    Column("tags", Text, nullable=False),
    Index("ix_run_inputs_run_key", "run_id", "key", unique=True),
    Index("ix_run_inputs_name", "name"),
)
