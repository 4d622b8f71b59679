"""pipelines: executions owned by leases (queued, lease_token, lease_expires_at), claimed by any worker

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 18:50:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pipeline_executions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queued', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('lease_token', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('lease_expires_at', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_pipeline_executions_queue', ['queued', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pipeline_executions', schema=None) as batch_op:
        batch_op.drop_index('ix_pipeline_executions_queue')
        batch_op.drop_column('lease_expires_at')
        batch_op.drop_column('lease_token')
        batch_op.drop_column('queued')
