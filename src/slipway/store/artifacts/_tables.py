from sqlalchemy import BigInteger, Column, Index, String, Table

from slipway.store._schema import metadata

# Every stored blob, once, named by the sha256 of its bytes.
blobs = Table(
    "blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Logical paths: (owner kind, owner id, path) -> blob. Owners are runs, step executions,
# model versions, reports ... anything that keeps files.
artifacts = Table(
    "artifacts",
    metadata,
    Column("owner_kind", String(32), primary_key=True),
    Column("owner_id", String(64), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_artifacts_sha256", "sha256"),
)

# Owners whose trees can no longer change (a registered model version): no file may be added,
# replaced or removed. Writers check it under the owner's lock (see slipway.store.artifacts.seal).
artifact_seals = Table(
    "artifact_seals",
    metadata,
    Column("owner_kind", String(32), primary_key=True),
    Column("owner_id", String(64), primary_key=True),
    Column("sealed_at", BigInteger, nullable=False),
)
