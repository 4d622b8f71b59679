"""tracking: the data sets runs read (run_inputs), moved out of the MLflow compatibility links

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 16:30:00.000000
"""

import hashlib
import json

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

_FIELDS = ("name", "digest", "source_type", "source", "schema", "profile")
_CONTEXT = "mlflow.data.context"


def upgrade() -> None:
    op.create_table('run_inputs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=26), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('digest', sa.String(length=36), nullable=False),
    sa.Column('context', sa.String(length=500), nullable=True),
    sa.Column('source_type', sa.String(length=64), nullable=True),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('data_schema', sa.Text(), nullable=True),
    sa.Column('profile', sa.Text(), nullable=True),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_inputs_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_run_inputs'))
    )
    with op.batch_alter_table('run_inputs', schema=None) as batch_op:
        batch_op.create_index('ix_run_inputs_name', ['name'], unique=False)
        batch_op.create_index('ix_run_inputs_run_key', ['run_id', 'key'], unique=True)

    # The dataset inputs MLflow's client logged so far were kept as JSON links of the MLflow
    # compatibility domain: they move into the table, as the service would have written them.
    conn = op.get_bind()
    links = sa.table('mlflow_run_links', sa.column('id'), sa.column('run_id'), sa.column('kind'),
                     sa.column('body'))
    inputs = sa.table('run_inputs', *(sa.column(c) for c in (
        'run_id', 'key', 'name', 'digest', 'context', 'source_type', 'source', 'data_schema', 'profile', 'tags')))
    rows = []
    for link in conn.execute(sa.select(links.c.run_id, links.c.body).where(links.c.kind == 'dataset_input')
                             .order_by(links.c.id)):
        body = json.loads(link.body)
        dataset = body.get("dataset", {})
        tags = {t["key"]: t["value"] for t in body.get("tags", [])}
        context = tags.pop(_CONTEXT, None) or None
        values = {f: dataset.get(f) or None for f in _FIELDS}
        key = hashlib.sha256("\x1f".join((values["name"] or "", values["digest"] or "", context or "")).encode())
        rows.append({
            "run_id": link.run_id, "key": key.hexdigest(), "name": values["name"] or "", "digest": values["digest"] or "",
            "context": context, "source_type": values["source_type"], "source": values["source"],
            "data_schema": values["schema"], "profile": values["profile"], "tags": json.dumps(tags),
        })
    if rows:
        op.bulk_insert(inputs, rows)
    conn.execute(sa.delete(links).where(links.c.kind == 'dataset_input'))


def downgrade() -> None:
    conn = op.get_bind()
    inputs = sa.table('run_inputs', *(sa.column(c) for c in (
        'id', 'run_id', 'name', 'digest', 'context', 'source_type', 'source', 'data_schema', 'profile', 'tags')))
    links = sa.table('mlflow_run_links', sa.column('run_id'), sa.column('kind'), sa.column('key'), sa.column('body'))
    rows = []
    for row in conn.execute(sa.select(inputs).order_by(inputs.c.id)):
        tags = json.loads(row.tags)
        if row.context:
            tags[_CONTEXT] = row.context
        dataset = {"name": row.name, "digest": row.digest, "source_type": row.source_type, "source": row.source,
                   "schema": row.data_schema, "profile": row.profile}
        body = {"tags": [{"key": k, "value": v} for k, v in tags.items()],
                "dataset": {k: v for k, v in dataset.items() if v is not None}}
        rows.append({"run_id": row.run_id, "kind": "dataset_input",
                     "key": f"{row.name}\x1f{row.digest}\x1f{row.context or ''}", "body": json.dumps(body)})
    if rows:
        op.bulk_insert(links, rows)
    with op.batch_alter_table('run_inputs', schema=None) as batch_op:
        batch_op.drop_index('ix_run_inputs_run_key')
        batch_op.drop_index('ix_run_inputs_name')

    op.drop_table('run_inputs')
