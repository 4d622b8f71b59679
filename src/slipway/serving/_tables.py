"""Serving tables: endpoints, their deployments, and ground-truth labels for captured inferences.

An endpoint's variants, capture and alarm settings are one JSON document (``config``): they are
always read and replaced together, and each deployment keeps the before and after documents, so
the history of what an endpoint served never depends on rows that were since changed.
"""

from sqlalchemy import BigInteger, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from slipway.store import metadata

endpoints = Table(
    "endpoints",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("status", String(32), nullable=False),
    Column("reason", Text, nullable=True),
    Column("config", Text, nullable=False),  # JSON: variants, capture, alarms
    Column("revision", Integer, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_by", String(256), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

endpoint_deployments = Table(
    "endpoint_deployments",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("endpoint_id", String(26), ForeignKey("endpoints.id", ondelete="CASCADE"), nullable=False),
    Column("strategy", Text, nullable=False),  # JSON
    Column("status", String(32), nullable=False),
    Column("previous", Text, nullable=False),  # JSON list of variants
    Column("target", Text, nullable=False),  # JSON list of variants
    Column("share", Float(precision=53), nullable=False),
    Column("step_started_at", BigInteger, nullable=False),
    Column("reason", Text, nullable=True),
    Column("started_by", String(256), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
    Index("ix_endpoint_deployments_endpoint", "endpoint_id", "started_at"),
)

endpoint_ground_truth = Table(
    "endpoint_ground_truth",
    metadata,
    Column("endpoint_id", String(26), ForeignKey("endpoints.id", ondelete="CASCADE"), primary_key=True),
    Column("inference_id", String(64), primary_key=True),
    Column("label", Text, nullable=False),  # JSON
    Column("uploaded_by", String(256), nullable=False),
    Column("uploaded_at", BigInteger, nullable=False),
)
