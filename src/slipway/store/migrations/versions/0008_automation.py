"""automation schedules rules webhooks

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 18:40:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('automation_schedules',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('cron', sa.String(length=128), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('missed', sa.String(length=16), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('next_run_at', sa.BigInteger(), nullable=False),
    sa.Column('last_run_at', sa.BigInteger(), nullable=True),
    sa.Column('created_by', sa.String(length=256), nullable=False),
    sa.Column('created_roles', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_schedules')),
    sa.UniqueConstraint('name', name=op.f('uq_automation_schedules_name'))
    )
    with op.batch_alter_table('automation_schedules', schema=None) as batch_op:
        batch_op.create_index('ix_automation_schedules_due', ['paused', 'next_run_at'], unique=False)

    op.create_table('automation_rules',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('filters', sa.Text(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('scanned_seq', sa.BigInteger(), nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=False),
    sa.Column('created_roles', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_rules')),
    sa.UniqueConstraint('name', name=op.f('uq_automation_rules_name'))
    )
    op.create_table('automation_hooks',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('secret', sa.String(length=128), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=False),
    sa.Column('created_roles', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_hooks')),
    sa.UniqueConstraint('name', name=op.f('uq_automation_hooks_name'))
    )
    op.create_table('automation_runs',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('source_kind', sa.String(length=16), nullable=False),
    sa.Column('source_id', sa.String(length=26), nullable=False),
    sa.Column('source_name', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=256), nullable=False),
    sa.Column('roles', sa.String(length=128), nullable=False),
    sa.Column('event_id', sa.String(length=26), nullable=True),
    sa.Column('event', sa.Text(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=256), nullable=True),
    sa.Column('claimed_until', sa.BigInteger(), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('started_at', sa.BigInteger(), nullable=True),
    sa.Column('ended_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_runs')),
    sa.UniqueConstraint('key', name=op.f('uq_automation_runs_key'))
    )
    with op.batch_alter_table('automation_runs', schema=None) as batch_op:
        batch_op.create_index('ix_automation_runs_source', ['source_id', 'created_at'], unique=False)
        batch_op.create_index('ix_automation_runs_status', ['status'], unique=False)

    op.create_table('automation_retention',
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.Column('updated_by', sa.String(length=256), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('kind', name=op.f('pk_automation_retention'))
    )
    op.create_table('automation_stray_blobs',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('first_seen_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_automation_stray_blobs'))
    )


def downgrade() -> None:
    op.drop_table('automation_stray_blobs')
    op.drop_table('automation_retention')
    with op.batch_alter_table('automation_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_automation_runs_status')
        batch_op.drop_index('ix_automation_runs_source')
    op.drop_table('automation_runs')
    op.drop_table('automation_hooks')
    op.drop_table('automation_rules')
    with op.batch_alter_table('automation_schedules', schema=None) as batch_op:
        batch_op.drop_index('ix_automation_schedules_due')
    op.drop_table('automation_schedules')
