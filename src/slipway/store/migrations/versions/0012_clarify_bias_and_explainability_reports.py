"""clarify: bias and explainability reports

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 14:23:21.897048
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('clarify_reports',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('model_version_id', sa.String(length=26), nullable=True),
    sa.Column('model', sa.String(length=300), nullable=True),
    sa.Column('dataset_version_id', sa.String(length=26), nullable=True),
    sa.Column('dataset', sa.String(length=300), nullable=True),
    sa.Column('config', sa.Text(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clarify_reports'))
    )
    with op.batch_alter_table('clarify_reports', schema=None) as batch_op:
        batch_op.create_index('ix_clarify_reports_dataset', ['dataset_version_id', 'created_at'], unique=False)
        batch_op.create_index('ix_clarify_reports_model', ['model_version_id', 'created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('clarify_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_clarify_reports_model')
        batch_op.drop_index('ix_clarify_reports_dataset')

    op.drop_table('clarify_reports')
