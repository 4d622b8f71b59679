"""sealed model versions: artifact seals, and the content hash of each version at registration and approval

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 10:00:00.000000

Versions registered before this migration get their content hash from their files as they are
now, are sealed, and if Approved, are taken as approved with that hash.
"""

import hashlib
import time

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def _digest(files: list[tuple[str, str]]) -> str:
    # As slipway.store.artifacts.tree_digest at the time of writing: the sha256sum listing's hash.
    digest = hashlib.sha256()
    for path, sha256 in sorted(files, key=lambda file: file[0].encode()):
        digest.update(f"{sha256}  {path}\n".encode())
    return digest.hexdigest()


def upgrade() -> None:
    op.create_table('artifact_seals',
    sa.Column('owner_kind', sa.String(length=32), nullable=False),
    sa.Column('owner_id', sa.String(length=64), nullable=False),
    sa.Column('sealed_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('owner_kind', 'owner_id', name=op.f('pk_artifact_seals'))
    )
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('approved_content_hash', sa.String(length=64), nullable=True))

    conn = op.get_bind()
    versions = sa.table('model_versions', sa.column('id'), sa.column('status'), sa.column('content_hash'),
                        sa.column('approved_content_hash'))
    artifacts = sa.table('artifacts', sa.column('owner_kind'), sa.column('owner_id'), sa.column('path'),
                         sa.column('sha256'))
    seals = sa.table('artifact_seals', sa.column('owner_kind'), sa.column('owner_id'), sa.column('sealed_at'))
    files: dict[str, list[tuple[str, str]]] = {}
    query = sa.select(artifacts.c.owner_id, artifacts.c.path, artifacts.c.sha256).where(
        artifacts.c.owner_kind == 'model_version')
    for owner_id, path, sha256 in conn.execute(query):
        files.setdefault(owner_id, []).append((path, sha256))
    now = int(time.time() * 1000)
    for version_id, status in conn.execute(sa.select(versions.c.id, versions.c.status)).all():
        content = _digest(files.get(version_id, []))
        conn.execute(versions.update().where(versions.c.id == version_id).values(
            content_hash=content, approved_content_hash=content if status == 'Approved' else None))
        conn.execute(seals.insert().values(owner_kind='model_version', owner_id=version_id, sealed_at=now))

    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.alter_column('content_hash', existing_type=sa.String(length=64), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.drop_column('approved_content_hash')
        batch_op.drop_column('content_hash')
    op.drop_table('artifact_seals')
