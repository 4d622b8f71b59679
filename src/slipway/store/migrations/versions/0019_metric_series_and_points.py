"""metrics as series and points: one integer series per (run, key); points clustered by (series, step, timestamp, seq)

The ``metrics`` table carried the run id and the key as text in every point, in a heap with a
second B-tree over (run_id, key, step): two inserts of wide rows per point. A point is now a row
of ``metric_points`` (integers and a float) keyed by its series; on SQLite the key is the table
(WITHOUT ROWID). Every point is copied; points that share run, key, step and timestamp keep the
order they were logged in (``metrics.id``) as ``seq``.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 03:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table('metric_series',
    sa.Column('id', BigIntPK, autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=26), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_metric_series_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_metric_series'))
    )
    op.create_index('ix_metric_series_run_key', 'metric_series', ['run_id', 'key'], unique=True)
    op.create_table('metric_points',
    sa.Column('series_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('step', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('timestamp', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('value', sa.Float(precision=53), nullable=False),
    sa.Column('is_nan', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['series_id'], ['metric_series.id'], name=op.f('fk_metric_points_series_id_metric_series'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('series_id', 'step', 'timestamp', 'seq', name=op.f('pk_metric_points')),
    sqlite_with_rowid=False,
    )
    op.execute('INSERT INTO metric_series (run_id, "key") SELECT DISTINCT run_id, "key" FROM metrics')
    op.execute(
        'INSERT INTO metric_points (series_id, step, "timestamp", seq, value, is_nan) '
        'SELECT s.id, m.step, m."timestamp", '
        'ROW_NUMBER() OVER (PARTITION BY m.run_id, m."key", m.step, m."timestamp" ORDER BY m.id) - 1, '
        'm.value, m.is_nan '
        'FROM metrics m JOIN metric_series s ON s.run_id = m.run_id AND s."key" = m."key"'
    )
    op.drop_index('ix_metrics_run_key_step', table_name='metrics')
    op.drop_table('metrics')


def downgrade() -> None:
    op.create_table('metrics',
    sa.Column('id', BigIntPK, autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=26), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Float(precision=53), nullable=False),
    sa.Column('is_nan', sa.Boolean(), nullable=False),
    sa.Column('step', sa.BigInteger(), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_metrics_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_metrics'))
    )
    op.create_index('ix_metrics_run_key_step', 'metrics', ['run_id', 'key', 'step'], unique=False)
    op.execute(
        'INSERT INTO metrics (run_id, "key", value, is_nan, step, "timestamp") '
        'SELECT s.run_id, s."key", p.value, p.is_nan, p.step, p."timestamp" '
        'FROM metric_points p JOIN metric_series s ON s.id = p.series_id '
        'ORDER BY p.series_id, p.step, p."timestamp", p.seq'
    )
    op.drop_table('metric_points')
    op.drop_index('ix_metric_series_run_key', table_name='metric_series')
    op.drop_table('metric_series')
