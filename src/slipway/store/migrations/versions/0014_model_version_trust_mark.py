"""model version trust mark: the admin who marked a version loadable with formats that run code, and when

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 14:47:13.227581
"""

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trusted_by', sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column('trusted_at', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.drop_column('trusted_at')
        batch_op.drop_column('trusted_by')
