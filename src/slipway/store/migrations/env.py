"""Alembic environment: runs on the connection handed in by slipway.store._migrate."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the programmatic path is supported
    raise RuntimeError("run migrations through `slipway db upgrade`")

context.configure(
    connection=connection,
    target_metadata=context.config.attributes.get("target_metadata"),  # set only when autogenerating
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
