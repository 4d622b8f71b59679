"""Clarify tables: the stored reports, and what each is attached to.

A report's files (``analysis.json``, ``report.html``, local attributions) live in the artifact
store under ``Owner("clarify_report", id)``; the row holds what is listed and filtered: the kind,
the model or dataset version it describes, its configuration and a small summary.
"""

from sqlalchemy import BigInteger, Column, Index, String, Table, Text

from slipway.store import metadata

clarify_reports = Table(
    "clarify_reports",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("kind", String(16), nullable=False),  # bias | explainability
    Column("model_version_id", String(26), nullable=True),
    Column("model", String(300), nullable=True),  # GROUP/VERSION, as shown
    Column("dataset_version_id", String(26), nullable=True),
    Column("dataset", String(300), nullable=True),  # name:version, as shown
    Column("config", Text, nullable=False),  # JSON: the bias configuration or the explanation's settings
    Column("summary", Text, nullable=False),  # JSON: Analysis.summary()
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_clarify_reports_model", "model_version_id", "created_at"),
    Index("ix_clarify_reports_dataset", "dataset_version_id", "created_at"),
)
