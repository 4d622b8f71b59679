"""rights at action time: token kinds (web UI sessions), automation creators looked up at each action

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 14:03:12.309938
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_SOURCES = ('automation_hooks', 'automation_rules', 'automation_schedules')


def upgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='api', nullable=False))
    for table in _SOURCES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('created_account', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('automation_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_account', sa.Boolean(), server_default=sa.false(), nullable=False))
    # What a user account set up before this revision is theirs too: from now on it acts with their
    # current roles, and not at all once they are disabled or gone.
    for table in _SOURCES:
        op.execute(f"UPDATE {table} SET created_account = true WHERE created_by IN (SELECT name FROM users)")
    op.execute("UPDATE automation_runs SET actor_account = true WHERE actor IN (SELECT name FROM users)")


def downgrade() -> None:
    with op.batch_alter_table('automation_runs', schema=None) as batch_op:
        batch_op.drop_column('actor_account')
    for table in _SOURCES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('created_account')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('kind')
