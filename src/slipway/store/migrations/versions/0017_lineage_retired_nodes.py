"""lineage: nodes can be retired (a variant no longer serving); an endpoint is made of its variants

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 19:26:42.731650
"""

from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

_EDGES = sa.table('lineage_edges', sa.column('src_kind'), sa.column('src_id'), sa.column('dst_kind'),
                  sa.column('dst_id'), sa.column('relation'))


def _turn(conn: sa.Connection, old: tuple[str, str, str], new: tuple[str, str, str]) -> None:
    """Rewrite the edges ``src_kind -relation-> dst_kind`` of ``old`` as ``new`` (ends swapped)."""
    e = _EDGES.c
    (src, relation, dst), (new_src, new_relation, new_dst) = old, new
    conn.execute(sa.update(_EDGES).where(e.src_kind == src, e.dst_kind == dst, e.relation == relation).values(
        src_kind=e.dst_kind, src_id=e.dst_id, dst_kind=e.src_kind, dst_id=e.src_id, relation=new_relation))
    assert (new_src, new_dst) == (dst, src)


def upgrade() -> None:
    with op.batch_alter_table('lineage_nodes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_at', sa.BigInteger(), nullable=True))
    # "endpoint contains variant" pointed downstream from the endpoint, so walking up from an
    # endpoint found nothing: an endpoint is made of its variants, "variant deployed_as endpoint".
    _turn(op.get_bind(), ('endpoint', 'contains', 'endpoint_variant'), ('endpoint_variant', 'deployed_as', 'endpoint'))


def downgrade() -> None:
    _turn(op.get_bind(), ('endpoint_variant', 'deployed_as', 'endpoint'), ('endpoint', 'contains', 'endpoint_variant'))
    with op.batch_alter_table('lineage_nodes', schema=None) as batch_op:
        batch_op.drop_column('retired_at')
