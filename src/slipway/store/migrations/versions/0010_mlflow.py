"""mlflow compatibility: MLflow 3 logged models, and the inputs and outputs MLflow records on runs

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 18:40:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mlflow_logged_models',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('experiment_id', sa.String(length=26), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('source_run_id', sa.String(length=26), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('model_type', sa.String(length=256), nullable=True),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('lifecycle_stage', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiments.id'], name=op.f('fk_mlflow_logged_models_experiment_id_experiments')),
    sa.ForeignKeyConstraint(['source_run_id'], ['runs.id'], name=op.f('fk_mlflow_logged_models_source_run_id_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mlflow_logged_models'))
    )
    with op.batch_alter_table('mlflow_logged_models', schema=None) as batch_op:
        batch_op.create_index('ix_mlflow_logged_models_experiment', ['experiment_id', 'created_at'], unique=False)
        batch_op.create_index('ix_mlflow_logged_models_run', ['source_run_id'], unique=False)

    op.create_table('mlflow_run_links',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=26), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_mlflow_run_links_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mlflow_run_links'))
    )
    with op.batch_alter_table('mlflow_run_links', schema=None) as batch_op:
        batch_op.create_index('ix_mlflow_run_links_run', ['run_id', 'kind', 'key'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('mlflow_run_links', schema=None) as batch_op:
        batch_op.drop_index('ix_mlflow_run_links_run')
    op.drop_table('mlflow_run_links')
    with op.batch_alter_table('mlflow_logged_models', schema=None) as batch_op:
        batch_op.drop_index('ix_mlflow_logged_models_run')
        batch_op.drop_index('ix_mlflow_logged_models_experiment')
    op.drop_table('mlflow_logged_models')
