"""The artifact store: files of runs, models and reports, stored once by content on local disk or S3.

Two layers: :class:`BlobStorage` moves raw bytes under keys (:class:`LocalStorage` for a folder,
:class:`FsspecStorage` for S3 and other fsspec URLs; :func:`storage_from_url` picks one), and
:class:`ArtifactStore` keeps each owner's tree of logical paths in the metadata database, every
file pointing at a content-addressed blob.
"""

from slipway.store.artifacts._collect import BlobCollector, StoredFile, stored_at
from slipway.store.artifacts._digest import file_sha256, folder_digest, tree_digest
from slipway.store.artifacts._fsspec import FsspecStorage, s3_options
from slipway.store.artifacts._local import LocalStorage, write_atomically
from slipway.store.artifacts._paths import normalize_path
from slipway.store.artifacts._storage import BlobStorage
from slipway.store.artifacts._store import (
    ArtifactInfo,
    ArtifactStore,
    Owner,
    blob_key,
    lock_blobs,
    lock_owner,
    owners_before,
    release,
    seal,
    sweep_spools,
    tree_files,
)
from slipway.store.artifacts._url import storage_from_url

__all__ = [
    "ArtifactInfo",
    "ArtifactStore",
    "BlobCollector",
    "BlobStorage",
    "FsspecStorage",
    "LocalStorage",
    "Owner",
    "StoredFile",
    "blob_key",
    "file_sha256",
    "folder_digest",
    "lock_blobs",
    "lock_owner",
    "normalize_path",
    "owners_before",
    "release",
    "s3_options",
    "seal",
    "storage_from_url",
    "stored_at",
    "sweep_spools",
    "tree_digest",
    "tree_files",
    "write_atomically",
]
