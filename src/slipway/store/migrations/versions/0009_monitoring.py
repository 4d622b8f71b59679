"""monitoring schedules and windows

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 18:40:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('monitor_executions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('window_start', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('window_end', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('monitor_executions', schema=None) as batch_op:
        batch_op.drop_column('window_end')
        batch_op.drop_column('window_start')
