"""Tables for what only MLflow's client logs: MLflow 3's logged models and the ones a run read or made.

Everything else the MLflow client sends lands in the tracking and registry tables. Params and
tags of a logged model are small JSON objects kept on its row: MLflow sets them a few at a time,
and nothing searches inside them.
"""

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Table, Text

from slipway.store import BigIntPK, metadata

logged_models = Table(
    "mlflow_logged_models",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("experiment_id", String(26), ForeignKey("experiments.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("source_run_id", String(26), ForeignKey("runs.id", ondelete="SET NULL"), nullable=True),
    Column("status", String(32), nullable=False),
    Column("model_type", String(256), nullable=True),
    Column("params", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_mlflow_logged_models_experiment", "experiment_id", "created_at"),
    Index("ix_mlflow_logged_models_run", "source_run_id"),
)

# One row per model input or model output of a run, as MLflow sent it (JSON). Dataset inputs,
# once kept here too, are the tracking domain's run_inputs since migration 0015.
run_links = Table(
    "mlflow_run_links",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("run_id", String(26), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),  # model_input | model_output
    Column("key", String(512), nullable=False),  # what makes an entry unique within its run and kind
    Column("body", Text, nullable=False),
    Index("ix_mlflow_run_links_run", "run_id", "kind", "key", unique=True),
)
