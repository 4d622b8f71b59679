"""Garbage collection's view of the artifact store: which files exist, which blobs they free.

The ``artifacts`` and ``blobs`` tables belong to this package. The retention policy that decides
*what* goes lives above (in the automation domain, asking each owning domain what has expired);
this module answers *where* it is stored and deletes it, under the store's own rules:

- a blob goes only when, checked in the deleting transaction and under the exclusive blob lock
  (:func:`~slipway.store.artifacts.lock_blobs`), no path refers to it;
- an object under ``blobs/`` with no blob row (a stray: an upload whose record never came) goes
  only when, under the same lock, no row for it has appeared.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, delete, exists, func, or_, select, tuple_

from slipway.errors import NotFound
from slipway.store._db import Database
from slipway.store.artifacts._storage import BlobStorage
from slipway.store.artifacts._store import Owner, _escape_like, blob_key, lock_blobs
from slipway.store.artifacts._tables import artifacts, blobs

_CHUNK = 500


class StoredFile(NamedTuple):
    """One stored path: its owner's kind and id, and the path below the owner's root."""

    owner_kind: str
    owner_id: str
    path: str


def stored_at(owner_kind: Any, owner_id: Any, path: Any) -> ColumnElement[bool]:
    """SQL that is true when the store holds a file at ``path`` of that owner, or files below it.

    For a domain's query that must know, row by row, whether the files it points at are still
    there (a pipeline's cache lookup), without reading the store's tables itself. The arguments
    are SQL expressions (columns of the caller's tables).
    """
    a = artifacts.c
    return exists().where(
        a.owner_kind == owner_kind,
        a.owner_id == owner_id,
        or_(a.path == path, func.substr(a.path, 1, func.length(path) + 1) == path + "/"),
    )


class BlobCollector:
    """Lists, measures and deletes stored files and blobs for a garbage collector."""

    def __init__(self, db: Database, storage: BlobStorage) -> None:
        self._db = db
        self._storage = storage

    def files_of(self, owners: Sequence[Owner]) -> list[StoredFile]:
        """Every file the ``owners`` keep."""
        c = artifacts.c
        found: list[StoredFile] = []
        with self._db.read() as conn:
            for chunk in _chunks(list(owners)):
                rows = conn.execute(select(c.owner_kind, c.owner_id, c.path)
                                    .where(tuple_(c.owner_kind, c.owner_id).in_(chunk))).all()
                found += [StoredFile(*r) for r in rows]
        return found

    def files_below(self, owner_kind: str, prefix: str) -> list[StoredFile]:
        """Every file of any owner of ``owner_kind`` whose path starts with ``prefix``."""
        c = artifacts.c
        with self._db.read() as conn:
            rows = conn.execute(select(c.owner_kind, c.owner_id, c.path).where(
                c.owner_kind == owner_kind, c.path.like(_escape_like(prefix) + "%", escape="\\"))).all()
        return [StoredFile(*r) for r in rows]

    def sizes(self, files: Sequence[StoredFile]) -> dict[StoredFile, int]:
        """Bytes of each file (0 for one that is not stored)."""
        c = artifacts.c
        found: dict[StoredFile, int] = defaultdict(int)
        with self._db.read() as conn:
            for chunk in _chunks(list(files)):
                rows = conn.execute(select(c.owner_kind, c.owner_id, c.path, c.size)
                                    .where(tuple_(c.owner_kind, c.owner_id, c.path).in_(chunk))).all()
                found.update({StoredFile(r.owner_kind, r.owner_id, r.path): r.size for r in rows})
        return found

    def freed_blobs(self, doomed: Sequence[StoredFile], created_before: int) -> dict[str, int]:
        """Blobs nothing will refer to once ``doomed`` files are gone: sha256 -> size.

        Blobs no path names already count only when created at or before ``created_before``
        (epoch milliseconds): a younger one may belong to a write that has not recorded its path yet.
        """
        c, b = artifacts.c, blobs.c
        with self._db.read() as conn:
            idle = conn.execute(select(b.sha256, b.size).where(
                b.created_at <= created_before, ~exists().where(c.sha256 == b.sha256))).all()
            freed = {r.sha256: r.size for r in idle}
            if doomed:
                dropping: dict[str, int] = defaultdict(int)
                for chunk in _chunks(list(doomed)):
                    for sha in conn.execute(select(c.sha256).where(
                            tuple_(c.owner_kind, c.owner_id, c.path).in_(chunk))).scalars():
                        dropping[sha] += 1
                for chunk in _chunks(list(dropping)):
                    counts = conn.execute(select(c.sha256, func.count(), b.size).join(blobs, b.sha256 == c.sha256)
                                          .where(c.sha256.in_(chunk)).group_by(c.sha256, b.size)).all()
                    freed.update({sha: size for sha, count, size in counts if count == dropping[sha]})
        return freed

    def delete_files(self, files: Sequence[StoredFile]) -> None:
        """Forget the paths (their blobs stay until :meth:`delete_blob`)."""
        c = artifacts.c
        with self._db.write() as conn:
            for chunk in _chunks(list(files)):
                conn.execute(delete(artifacts).where(tuple_(c.owner_kind, c.owner_id, c.path).in_(chunk)))

    def delete_blob(self, sha256: str) -> bool:
        """Delete a blob if, checked in the deleting transaction, no path names it; return whether it went.

        Row and object go under the exclusive blob lock, so a writer recording a path to this
        content meanwhile either comes first (and the blob stays) or finds it gone and uploads it
        again (see :func:`~slipway.store.artifacts.lock_blobs`).
        """
        with self._db.write() as conn:
            lock_blobs(conn, exclusive=True)
            gone = conn.execute(delete(blobs).where(
                blobs.c.sha256 == sha256, ~exists().where(artifacts.c.sha256 == sha256))).rowcount == 1
            if gone:
                self._storage.delete(blob_key(sha256))
        return bool(gone)

    def stray_keys(self) -> set[str]:
        """Storage keys under ``blobs/`` that no blob row names."""
        keys = {key.rsplit("/", 1)[-1]: key for key in self._storage.iter_keys("blobs")}
        if not keys:
            return set()
        known: set[str] = set()
        with self._db.read() as conn:
            for chunk in _chunks(list(keys)):
                known |= set(conn.execute(select(blobs.c.sha256).where(blobs.c.sha256.in_(chunk))).scalars())
        return {key for sha, key in keys.items() if sha not in known}

    def object_size(self, key: str) -> int:
        """Bytes of the object at ``key`` (0 when it is gone)."""
        try:
            with self._storage.open_read(key) as src:
                return int(src.seek(0, 2))
        except NotFound:
            return 0

    def delete_stray(self, key: str) -> bool:
        """Delete a stray object unless, under the exclusive blob lock, a row for it has appeared."""
        with self._db.write() as conn:
            lock_blobs(conn, exclusive=True)
            recorded = conn.execute(select(blobs.c.sha256).where(blobs.c.sha256 == key.rsplit("/", 1)[-1])).first()
            if recorded is None:
                self._storage.delete(key)
        return recorded is None


def _chunks(values: list[Any], size: int = _CHUNK) -> list[list[Any]]:
    return [values[i:i + size] for i in range(0, len(values), size)]
