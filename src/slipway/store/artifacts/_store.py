"""The artifact store: content-addressed blobs on a BlobStorage, logical paths in the metadata DB.

The bytes of every file are stored once, under the sha256 of their content
(``blobs/ab/cd/abcd...``); each owner (a run, a step execution, a model version, ...) keeps a
tree of logical paths in the ``artifacts`` table, each row pointing at a blob. Logging the same
model twice stores it once, and a pipeline step's cache key can name its inputs by hash.

Every write follows one order: spool and hash the bytes locally, upload the blob unless it is
already there, then record the path in one transaction. A crash at any point leaves either the
old state or the new one; at worst an unreferenced blob, which garbage collection removes.

The garbage collector and writers meet at one lock (:func:`lock_blobs`): the collector deletes an
unreferenced blob's row and object while holding it exclusively, and a writer records its paths
holding it shared, after checking that every blob it did not upload itself is still there (and
uploading it again from its spool if the collector took it meanwhile). So a blob a path refers to
is never deleted, however the two interleave.

An owner's tree can be sealed (:func:`seal`, in the transaction that registers a model version):
from then on no file of it can be added, replaced or removed. Sealing and writing meet at a lock
per owner (:func:`lock_owner`): a writer records its paths holding it shared and refuses if the
owner is sealed; the sealer holds it exclusively while it seals and reads the files. So the files
a seal returns are exactly the files the owner will ever have, however a slow upload and the
registration interleave.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, Connection, and_, delete, func, literal, or_, select, text, true

from slipway._time import now_ms
from slipway.errors import Conflict, InvalidInput, NotFound, storage_error
from slipway.store._db import Database
from slipway.store._sql import insert_ignore, upsert
from slipway.store.artifacts._local import write_atomically
from slipway.store.artifacts._paths import join_path, normalize_file_path, normalize_path
from slipway.store.artifacts._storage import COPY_CHUNK_SIZE, BlobStorage
from slipway.store.artifacts._tables import artifact_seals, artifacts, blobs

# Widths of artifacts.owner_kind and artifacts.owner_id.
_OWNER_KIND_WIDTH = 32
_OWNER_ID_WIDTH = 64


class Owner(NamedTuple):
    """Whoever keeps a tree of files, e.g. ``Owner("run", run_id)`` or ``Owner("model_version", id)``."""

    kind: str
    id: str


class ArtifactInfo(BaseModel):
    """One entry of an owner's tree: a file, or a folder (``is_dir``) that holds files.

    Attributes:
        path: the normalised path below the owner's root.
        is_dir: whether the entry is a folder.
        size: bytes of a file; ``None`` for a folder.
        sha256: hex digest of a file's content; ``None`` for a folder.
    """

    model_config = ConfigDict(frozen=True)

    path: str
    is_dir: bool
    size: int | None = None
    sha256: str | None = None


def blob_key(sha256: str) -> str:
    """Where a blob lives in the storage; two levels of fan-out keep folders small."""
    return f"blobs/{sha256[:2]}/{sha256[2:4]}/{sha256}"


# The advisory lock key writers (shared) and the garbage collector (exclusive) meet at on PostgreSQL.
_PG_BLOB_LOCK = 0x5119_B10B


def lock_blobs(conn: Connection, *, exclusive: bool) -> None:
    """Take the blob lock for the transaction of ``conn``: shared to record paths, exclusive to delete blobs.

    SQLite needs none: its write transactions already run one at a time.
    """
    if conn.dialect.name == "postgresql":
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        conn.execute(text(f"SELECT {function}(:k)"), {"k": _PG_BLOB_LOCK})


# The first key of the per-owner advisory locks on PostgreSQL; the second is a hash of the owner.
# (Two-key advisory locks do not share a key space with the one-key blob lock.)
_PG_OWNER_LOCK_CLASS = 0x5EA1


def lock_owner(conn: Connection, owner: Owner, *, exclusive: bool) -> None:
    """Take ``owner``'s lock for the transaction of ``conn``: shared to write files, exclusive to seal.

    SQLite needs none: its write transactions already run one at a time.
    """
    if conn.dialect.name == "postgresql":
        digest = hashlib.sha256(f"{owner.kind}\0{owner.id}".encode()).digest()
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        conn.execute(
            text(f"SELECT {function}(:c, :k)"),
            {"c": _PG_OWNER_LOCK_CLASS, "k": int.from_bytes(digest[:4], "big", signed=True)},
        )


def seal(conn: Connection, owner: Owner) -> builtins.list[ArtifactInfo]:
    """Seal ``owner``'s tree in the caller's transaction; return its files, sorted by path.

    Once the transaction commits, writing or deleting a file of ``owner`` raises
    :class:`~slipway.errors.Conflict`; a write that was under way records its file before the seal
    (and is among the files returned) or is refused after it.

    Raises:
        sqlalchemy.exc.IntegrityError: if ``owner`` is already sealed.
    """
    owner = _check_owner(owner)
    lock_owner(conn, owner, exclusive=True)
    conn.execute(
        artifact_seals.insert().values(owner_kind=owner.kind, owner_id=owner.id, sealed_at=now_ms())
    )
    return tree_files(conn, owner)


def release(conn: Connection, owner: Owner) -> int:
    """Forget ``owner``'s whole tree, sealed or not, in the caller's transaction; return how many paths went.

    For an owner that is itself being deleted (a model version): its seal goes with its paths.
    The blobs stay until garbage collection finds nothing else refers to them.
    """
    owner = _check_owner(owner)
    lock_owner(conn, owner, exclusive=True)
    s = artifact_seals.c
    conn.execute(delete(artifact_seals).where(s.owner_kind == owner.kind, s.owner_id == owner.id))
    return int(conn.execute(delete(artifacts).where(_owned(owner))).rowcount)


def owners_before(conn: Connection, owner_kind: str, at_ms: int) -> builtins.list[str]:
    """The ids of the owners of ``owner_kind`` holding a file stored before ``at_ms`` (epoch milliseconds)."""
    a = artifacts.c
    query = select(a.owner_id).where(a.owner_kind == owner_kind, a.created_at < at_ms).distinct()
    return builtins.list(conn.execute(query).scalars())


def tree_files(conn: Connection, owner: Owner) -> builtins.list[ArtifactInfo]:
    """Every file of ``owner``, sorted by path, read in the caller's transaction."""
    a = artifacts.c
    files = conn.execute(select(a.path, a.size, a.sha256).where(_owned(_check_owner(owner)))).all()
    return sorted((_file_entry(row.path, row.size, row.sha256) for row in files), key=lambda entry: entry.path)


def _check_unsealed(conn: Connection, owner: Owner) -> None:
    """Refuse a change to a sealed owner's tree; the caller holds the owner's lock (shared)."""
    s = artifact_seals.c
    if conn.execute(select(literal(1)).where(s.owner_kind == owner.kind, s.owner_id == owner.id)).first():
        raise Conflict(
            f"the files of {_describe(owner)} are sealed: none can be added, replaced or removed", field="path"
        )


@dataclass(frozen=True)
class _Blob:
    sha256: str
    size: int
    spool: Path  # the local copy, kept until the paths are recorded (see lock_blobs)


SPOOL_PREFIX = "slipway-spool-"


def sweep_spools(folder: str | Path | None = None) -> list[Path]:
    """Remove the spool files that processes killed mid-upload left in ``folder`` (the temp folder).

    A spool's name holds its process id; a spool whose process no longer runs is nobody's.
    Returns what was removed. A server calls it as it starts.
    """
    removed = []
    with os.scandir(folder or tempfile.gettempdir()) as entries:
        for entry in entries:
            pid = entry.name.removeprefix(SPOOL_PREFIX).partition("-")[0]
            if entry.name.startswith(SPOOL_PREFIX) and pid.isdigit() and not _running(int(pid)):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class ArtifactStore:
    """Files of runs, models and reports: stored once by content, found by owner and path.

    Paths are relative POSIX paths checked by :func:`normalize_path`; no request path can reach
    anything but the owner's own entries, since paths never become storage keys. An owner's
    tree behaves like a file system: a path is a file or a folder, never both (writing
    ``a/b`` when ``a`` is a file raises :class:`~slipway.errors.Conflict`).

    Safe to share between threads. The database must already be at the current schema
    (``Database.ensure_schema()``).

    Args:
        db: the metadata database holding the ``blobs`` and ``artifacts`` tables.
        storage: where the blob bytes go.

    Example:
        >>> store = ArtifactStore(db, LocalStorage(Path(".slipway/artifacts")))
        >>> run = Owner("run", run_id)
        >>> store.put_bytes(run, "metrics/summary.json", b'{"auc": 0.91}')
        ArtifactInfo(path='metrics/summary.json', is_dir=False, size=13, sha256='...')
        >>> [entry.path for entry in store.list(run)]
        ['metrics']
    """

    def __init__(self, db: Database, storage: BlobStorage) -> None:
        self._db = db
        self._storage = storage

    def __repr__(self) -> str:
        return f"ArtifactStore({self._db!r}, {self._storage!r})"

    @property
    def storage(self) -> BlobStorage:
        """The raw-bytes layer under the blobs (for the garbage collector, which deletes stray ones)."""
        return self._storage

    # -- writing ---------------------------------------------------------------------------

    def put_stream(self, owner: Owner, path: str, stream: BinaryIO) -> ArtifactInfo:
        """Store everything read from ``stream`` as the file ``path`` of ``owner``.

        The stream is copied in chunks to a local spool file while being hashed, so a stream
        larger than memory is fine; it is read to its end but not closed. If reading fails
        midway, nothing is stored. Writing an existing path replaces it.

        Raises:
            InvalidInput: for an invalid owner or path (``field`` names it).
            Conflict: if a file of ``owner`` is in the way (``path`` would be below a file, or
                ``path`` is already a folder), or ``owner`` is sealed (see :func:`seal`).
        """
        owner = _check_owner(owner)
        path = normalize_file_path(path)
        return self._record(owner, [(path, self._ingest(stream))])[0]

    def put_bytes(self, owner: Owner, path: str, data: bytes) -> ArtifactInfo:
        """Store ``data`` as the file ``path`` of ``owner``; see :meth:`put_stream`."""
        return self.put_stream(owner, path, io.BytesIO(data))

    def put_file(self, owner: Owner, path: str, local_path: Path) -> ArtifactInfo:
        """Store a copy of a local file as the file ``path`` of ``owner``; see :meth:`put_stream`.

        What is stored is exactly what was hashed, even if the local file changes meanwhile.

        Raises:
            NotFound: if ``local_path`` is not a file.
        """
        owner = _check_owner(owner)
        path = normalize_file_path(path)
        with _open_local(local_path) as src:
            return self._record(owner, [(path, self._ingest(src))])[0]

    def put_dir(self, owner: Owner, prefix: str, local_dir: Path) -> builtins.list[ArtifactInfo]:
        """Store every file below ``local_dir`` (recursively) under the folder ``prefix``.

        The paths appear together in one transaction, or none of them do. Linked folders are
        not followed; linked files are stored with the content they point at.

        Args:
            owner: who keeps the files.
            prefix: the folder to put them in; ``""`` for the owner's root.
            local_dir: the local folder to copy.

        Returns:
            One entry per stored file, sorted by path.

        Raises:
            NotFound: if ``local_dir`` is not a folder.
            InvalidInput: if ``prefix`` or a file name below ``local_dir`` is not a valid path;
                checked before anything is uploaded.
        """
        owner = _check_owner(owner)
        prefix = normalize_path(prefix, field="prefix")
        local_dir = Path(local_dir)
        if not local_dir.is_dir():
            raise NotFound(f"no local folder {str(local_dir)!r}")
        files = {
            normalize_file_path(join_path(prefix, file.relative_to(local_dir).as_posix())): file
            for file in _walk_files(local_dir)
        }
        entries = []
        try:
            for path, file in sorted(files.items()):
                with _open_local(file) as src:
                    entries.append((path, self._ingest(src)))
        except BaseException:
            _discard(entries)
            raise
        return self._record(owner, entries)

    def _ingest(self, stream: BinaryIO) -> _Blob:
        """Spool and hash a stream, then upload it unless a blob with that content exists.

        The spool stays until :meth:`_record` is done with it (which removes it).
        """
        # The process id in the name tells a spool left by a process killed mid-upload (sweep_spools).
        fd, name = tempfile.mkstemp(prefix=f"{SPOOL_PREFIX}{os.getpid()}-")
        spool = Path(name)
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(COPY_CHUNK_SIZE):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            blob = _Blob(digest.hexdigest(), size, spool)
            key = blob_key(blob.sha256)
            if not self._storage.exists(key):
                self._storage.put_file(key, spool)
        except BaseException as exc:
            spool.unlink(missing_ok=True)
            if (full := storage_error(exc)) is not None:
                raise full from exc
            raise
        return blob

    def _record(self, owner: Owner, entries: Sequence[tuple[str, _Blob]]) -> builtins.list[ArtifactInfo]:
        now = now_ms()
        try:
            with self._db.write() as conn:
                lock_blobs(conn, exclusive=False)
                lock_owner(conn, owner, exclusive=False)
                _check_unsealed(conn, owner)
                for path, _blob in entries:
                    _check_tree(conn, owner, path)
                unique_blobs = {blob.sha256: blob for _path, blob in entries}.values()
                self._restore_collected(conn, unique_blobs)
                blob_rows = [{"sha256": b.sha256, "size": b.size, "created_at": now} for b in unique_blobs]
                insert_ignore(conn, blobs, blob_rows)
                upsert(
                    conn,
                    artifacts,
                    [
                        {"owner_kind": owner.kind, "owner_id": owner.id, "path": path,
                         "sha256": blob.sha256, "size": blob.size, "created_at": now}
                        for path, blob in entries
                    ],
                    keys=("owner_kind", "owner_id", "path"),
                    update=("sha256", "size", "created_at"),
                )
        finally:
            _discard(entries)
        return [_file_entry(path, blob.size, blob.sha256) for path, blob in entries]

    def _restore_collected(self, conn: Connection, candidates: Iterable[_Blob]) -> None:
        """Upload again any blob without a row whose object is gone: the collector took it after
        :meth:`_ingest` found it. Under the blob lock, a blob with a row keeps its object."""
        wanted = {b.sha256: b for b in candidates}
        known = set(conn.execute(select(blobs.c.sha256).where(blobs.c.sha256.in_(list(wanted)))).scalars())
        for sha256, blob in wanted.items():
            if sha256 not in known and not self._storage.exists(blob_key(sha256)):
                self._storage.put_file(blob_key(sha256), blob.spool)

    # -- reading ---------------------------------------------------------------------------

    def info(self, owner: Owner, path: str) -> ArtifactInfo:
        """The file or folder at ``path`` (``""``: the owner's root, if it holds anything).

        Raises:
            NotFound: if ``owner`` has nothing at ``path``; the message names both.
        """
        owner = _check_owner(owner)
        path = normalize_path(path)
        with self._db.read() as conn:
            row = conn.execute(
                select(artifacts.c.size, artifacts.c.sha256).where(_owned(owner), artifacts.c.path == path)
            ).first()
            if row is not None:
                return _file_entry(path, row.size, row.sha256)
            if conn.execute(select(literal(1)).where(_owned(owner), _below(conn, path)).limit(1)).first():
                return ArtifactInfo(path=path, is_dir=True)
        raise NotFound(f"{_describe(owner)} has no artifact {path!r}")

    def list(self, owner: Owner, prefix: str = "", recursive: bool = False) -> builtins.list[ArtifactInfo]:
        """The entries below the folder ``prefix``, sorted by path.

        Non-recursive, the immediate children: files, and folders as ``is_dir=True`` entries
        (as MLflow's ``list_artifacts``). Recursive, every file below ``prefix`` and no folders.
        A prefix that is not a folder (a file, or nothing) lists nothing.
        """
        owner = _check_owner(owner)
        prefix = normalize_path(prefix, field="prefix")
        a = artifacts.c
        with self._db.read() as conn:
            below = and_(_owned(owner), _below(conn, prefix))
            if recursive:
                files = conn.execute(select(a.path, a.size, a.sha256).where(below)).all()
                folders: Sequence[str] = []
            else:
                # The rest of each path after "prefix/", and where its first "/" is (0: none).
                rest = func.substr(a.path, len(prefix) + 2) if prefix else a.path
                slash = (func.instr if conn.dialect.name == "sqlite" else func.strpos)(rest, "/")
                files = conn.execute(select(a.path, a.size, a.sha256).where(below, slash == 0)).all()
                first_segment = select(func.substr(rest, 1, slash - 1)).where(below, slash > 0).distinct()
                folders = conn.execute(first_segment).scalars().all()
        entries = [_file_entry(row.path, row.size, row.sha256) for row in files]
        entries += [ArtifactInfo(path=join_path(prefix, name), is_dir=True) for name in folders]
        # Sorted here, not in SQL: PostgreSQL would order by its collation, SQLite by code point.
        return sorted(entries, key=lambda entry: entry.path)

    def open(self, owner: Owner, path: str) -> BinaryIO:
        """Open the file at ``path`` for streaming reads; the caller closes it.

        Raises:
            NotFound: if ``owner`` has no artifact at ``path``.
            InvalidInput: if ``path`` is a folder.
        """
        return self._open_blob(owner, self._file_info(owner, path))

    def read_bytes(self, owner: Owner, path: str) -> bytes:
        """The whole content of the file at ``path``; for small files (see :meth:`open`)."""
        with self.open(owner, path) as src:
            return src.read()

    def download(self, owner: Owner, path: str, dst: Path) -> Path:
        """Copy the file or folder at ``path`` to the local path ``dst``; return ``dst``.

        A file is written at ``dst`` itself; a folder's files land below ``dst`` with their
        paths relative to ``path`` (``path=""`` copies the owner's whole tree). Files are
        streamed, and each appears complete or not at all.

        Raises:
            NotFound: if ``owner`` has nothing at ``path``.
            InvalidInput: (``field="dst"``) if ``dst`` is a folder for a file, or a file for a
                folder.
        """
        owner = _check_owner(owner)
        entry = self.info(owner, path)
        dst = Path(dst)
        if not entry.is_dir:
            if dst.is_dir():
                raise InvalidInput(f"cannot download the file {entry.path!r} onto the folder {dst}",
                                   field="dst")
            self._copy_out(owner, entry, dst)
            return dst
        if dst.exists() and not dst.is_dir():
            raise InvalidInput(f"cannot download the folder {entry.path!r} onto the file {dst}", field="dst")
        start = len(entry.path) + 1 if entry.path else 0
        for file in self.list(owner, entry.path, recursive=True):
            # Stored paths passed normalize_path, so the joined target stays below dst.
            self._copy_out(owner, file, dst.joinpath(*file.path[start:].split("/")))
        return dst

    def _file_info(self, owner: Owner, path: str) -> ArtifactInfo:
        entry = self.info(owner, path)
        if entry.is_dir:
            raise InvalidInput(f"{entry.path!r} of {_describe(owner)} is a folder, not a file", field="path")
        return entry

    def _open_blob(self, owner: Owner, entry: ArtifactInfo) -> BinaryIO:
        assert entry.sha256 is not None, "only files have blobs"
        try:
            return self._storage.open_read(blob_key(entry.sha256))
        except NotFound:
            raise NotFound(
                f"the content of {entry.path!r} of {_describe(owner)} (blob {entry.sha256}) "
                f"is missing from {self._storage!r}"
            ) from None

    def _copy_out(self, owner: Owner, entry: ArtifactInfo, target: Path) -> None:
        with self._open_blob(owner, entry) as src:
            write_atomically(target, src, durable=False)

    # -- deleting --------------------------------------------------------------------------

    def delete(self, owner: Owner, path: str) -> None:
        """Remove the file at ``path``, or every file below the folder ``path``.

        ``path=""`` removes the owner's whole tree. Only the paths go: the blobs stay (another
        path may share them) until garbage collection removes unreferenced ones.

        Raises:
            NotFound: if ``owner`` has nothing at ``path``.
            Conflict: if ``owner`` is sealed.
        """
        owner = _check_owner(owner)
        path = normalize_path(path)
        with self._db.write() as conn:
            lock_owner(conn, owner, exclusive=False)
            _check_unsealed(conn, owner)
            result = conn.execute(
                delete(artifacts).where(_owned(owner), or_(artifacts.c.path == path, _below(conn, path)))
            )
        if result.rowcount == 0:
            raise NotFound(f"{_describe(owner)} has no artifact {path!r}")


def _discard(entries: Iterable[tuple[str, _Blob]]) -> None:
    for _path, blob in entries:
        blob.spool.unlink(missing_ok=True)


def _check_owner(owner: Owner) -> Owner:
    kind, id_ = owner
    for value, name, width in ((kind, "kind", _OWNER_KIND_WIDTH), (id_, "id", _OWNER_ID_WIDTH)):
        if not isinstance(value, str) or not value or len(value) > width:
            raise InvalidInput(
                f"the owner {name} must be a non-empty string of at most {width} characters, not {value!r}",
                field="owner",
            )
    return Owner(kind, id_)


def _file_entry(path: str, size: int, sha256: str) -> ArtifactInfo:
    return ArtifactInfo(path=path, is_dir=False, size=size, sha256=sha256)


def _describe(owner: Owner) -> str:
    return f"{owner.kind} {owner.id!r}"


def _owned(owner: Owner) -> ColumnElement[bool]:
    return and_(artifacts.c.owner_kind == owner.kind, artifacts.c.owner_id == owner.id)


def _below(conn: Connection, folder: str) -> ColumnElement[bool]:
    """Rows whose path is strictly below ``folder`` (every row for the root ``""``)."""
    if not folder:
        return true()
    path = artifacts.c.path
    if conn.dialect.name == "sqlite":
        # SQLite's LIKE ignores ASCII case ("Data/" would match "data/"). Paths compare as
        # bytes there, so a range is exact and walks the primary key: every path starting
        # with "a/" sorts in ["a/", "a0"), as "0" is the character after "/".
        return and_(path >= f"{folder}/", path < f"{folder}0")
    return path.like(f"{_escape_like(folder)}/%", escape="\\")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _check_tree(conn: Connection, owner: Owner, path: str) -> None:
    """Keep the owner's tree a tree: no file below a file, no file replacing a folder."""
    segments = path.split("/")
    ancestors = ["/".join(segments[:i]) for i in range(1, len(segments))]
    if ancestors:
        blocking = conn.execute(
            select(artifacts.c.path).where(_owned(owner), artifacts.c.path.in_(ancestors)).limit(1)
        ).scalar()
        if blocking is not None:
            raise Conflict(
                f"{_describe(owner)} has a file at {blocking!r}, so {path!r} cannot be created below it",
                field="path",
            )
    inside = conn.execute(select(artifacts.c.path).where(_owned(owner), _below(conn, path)).limit(1)).scalar()
    if inside is not None:
        raise Conflict(
            f"{path!r} of {_describe(owner)} is a folder (it holds {inside!r}), not a file", field="path"
        )


@contextlib.contextmanager
def _open_local(local_path: Path) -> Iterator[BinaryIO]:
    path = Path(local_path)
    if not path.is_file():
        raise NotFound(f"no local file {str(path)!r}")
    with path.open("rb") as src:
        yield src


def _walk_files(folder: Path) -> Iterator[Path]:
    # os.walk does not descend into linked folders, so a link cycle cannot trap the walk.
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            yield Path(dirpath, name)
