"""Monitoring tables: baseline versions, monitors, their executions and metrics, and alarms.

A baseline's files and an execution's report live in the artifact store; these tables hold what
is listed, filtered and compared: names, versions, states, counts and the metrics alarms read.
"""

from sqlalchemy import BigInteger, Column, Float, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from slipway.store import metadata

monitoring_baselines = Table(
    "monitoring_baselines",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("item_count", BigInteger, nullable=False),
    Column("feature_count", Integer, nullable=False),
    Column("source", Text, nullable=True),
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("name", "version"),
)

monitors = Table(
    "monitors",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("baseline_id", String(26), ForeignKey("monitoring_baselines.id"), nullable=True),
    Column("config", Text, nullable=False),  # JSON: problem type, metric thresholds, schedule
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

monitor_executions = Table(
    "monitor_executions",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("monitor_id", String(26), ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("item_count", BigInteger, nullable=False),
    Column("violation_count", Integer, nullable=False),
    Column("message", Text, nullable=True),
    Column("started_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=False),
    # The time span of the data checked: the requested window, or that of the captured records read.
    Column("window_start", BigInteger, nullable=True),
    Column("window_end", BigInteger, nullable=True),
    Index("ix_monitor_executions_monitor", "monitor_id", "started_at"),
)

monitor_metrics = Table(
    "monitor_metrics",
    metadata,
    Column("execution_id", String(26), ForeignKey("monitor_executions.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(256), primary_key=True),
    Column("value", Float(precision=53), nullable=False),
)

alarms = Table(
    "monitoring_alarms",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("monitor_id", String(26), ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False),
    Column("metric", String(256), nullable=False),
    Column("comparison", String(2), nullable=False),
    Column("threshold", Float(precision=53), nullable=False),
    Column("evaluation_periods", Integer, nullable=False),
    Column("datapoints_to_alarm", Integer, nullable=False),
    Column("webhooks", Text, nullable=False),  # JSON list of URLs
    Column("state", String(32), nullable=False),
    Column("state_reason", Text, nullable=False),
    Column("state_changed_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
