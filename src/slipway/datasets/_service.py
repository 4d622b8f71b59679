"""The dataset service: register immutable, content-hashed versions and read them back.

Every face (SDK, CLI, REST) calls these methods. A registration reads the source once, in
batches: the rows are written as canonical Parquet (see :mod:`._parquet`) while their statistics
are computed, the file's sha256 decides whether the dataset already holds this content, and only
new content is stored (``data.parquet`` and ``statistics.json`` as artifacts of the version).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal

import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy import Connection, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from slipway._ids import new_id
from slipway._kinds import ObjectKind
from slipway._limits import MAX_DESCRIPTION, check_text
from slipway._operations import FROM_SERVER, Api, Wire
from slipway._principal import current_principal
from slipway._references import check_name
from slipway._time import ms_to_datetime, now_ms
from slipway.datasets._diff import diff_versions
from slipway.datasets._names import check_tags
from slipway.datasets._parquet import Materialized, canonical_parquet
from slipway.datasets._records import ColumnSchema, Dataset, DatasetDiff, DatasetVersion, Ref, Registration
from slipway.datasets._sources import DataSource, SourcePolicy
from slipway.datasets._tables import dataset_versions, datasets
from slipway.errors import Conflict, InvalidInput, NotFound
from slipway.events import record_change
from slipway.lineage import LineageGraph, LineageService, NodeRef, record_edges
from slipway.security import Permission, requires
from slipway.statistics import DatasetStatistics
from slipway.store import Database
from slipway.store.artifacts import ArtifactStore, Owner

DATA_PATH = "data.parquet"
STATISTICS_PATH = "statistics.json"
_INSERT_ATTEMPTS = 5

ObjectRef = tuple[str, str]  # (kind, id) of a lineage node: ("run", run_id), ("step_execution", id)

# How the API's arguments travel (slipway._operations): a name checked before it goes into a URL path,
# a lineage node as {"kind", "id"}, statistics as their statistics.json document.
DatasetName = Annotated[str, Wire(to_wire=check_name)]
Node = Annotated[ObjectRef, Wire(Ref, to_wire=lambda ref: {"kind": ref[0], "id": ref[1]},
                                 from_wire=lambda ref: (ref.kind, ref.id))]
Statistics = Annotated[DatasetStatistics, Wire(dict[str, Any], to_wire=DatasetStatistics.to_dict,
                                               from_wire=DatasetStatistics.from_dict)]
# A route of a version has its number in the path: a client asks for the latest's when given None.
LATEST: dict[str, Any] = {"version": lambda client, args: client.get_version(args["name"]).version}
api = Api("datasets")  # the REST routes and remote methods derive from these declarations (slipway._operations)


class DatasetService:
    """Datasets and their versions over a metadata database and an artifact store.

    Safe to share between threads.

    Args:
        db: the metadata database.
        artifacts: where version data and statistics are stored.
        policy: which local paths registrations may read (a server restricts them).
        scratch: folder for the temporary Parquet file of a registration (system temp by default).

    Example:
        >>> service = DatasetService(db, artifacts)
        >>> first = service.register("abalone", "abalone.csv")
        >>> first.created, first.version.version, first.version.num_rows
        (True, 1, 4177)
        >>> service.register("abalone", pd.read_csv("abalone.csv")).created  # same content
        False
    """

    def __init__(
        self, db: Database, artifacts: ArtifactStore, *, policy: SourcePolicy | None = None,
        scratch: Path | None = None,
    ) -> None:
        self._db = db
        self._artifacts = artifacts
        self._policy = policy or SourcePolicy()
        self._scratch = scratch

    # ------------------------------------------------------------------------------ registering

    @requires(Permission.WRITE)
    def register(
        self,
        name: str,
        data: DataSource,
        *,
        format: str | None = None,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        produced_by: ObjectRef | None = None,
        derived_from: Sequence[ObjectRef] = (),
        source: str | None = None,
        policy: Annotated[SourcePolicy, FROM_SERVER] | None = None,
    ) -> Registration:
        """Register ``data`` as the next version of dataset ``name`` (created on first use).

        Content already registered under ``name`` is not stored again: the existing version is
        returned with ``created=False`` (its description and tags stay as they were; lineage
        edges given here are still recorded).

        Args:
            name: the dataset.
            data: a DataFrame, an Arrow table, a local file or folder, ``file://`` or ``s3://``
                URI (CSV, Parquet or JSON lines; a folder's files are concatenated in path order).
            format: ``csv``, ``parquet`` or ``jsonl`` when extensions do not tell.
            description: what this version is.
            tags: small text labels of the version.
            produced_by: the run or step execution that wrote this data (a lineage edge).
            derived_from: lineage nodes this data was made from, e.g. ``("feature_group", id)``.
            source: how to describe the source instead of the default (path, URI, ``DataFrame``).
            policy: which local paths this call may read, instead of the service's own: a
                server passes the folders it shares (none unless ``dataset_roots`` is set).

        Raises:
            InvalidInput: for a bad name or tags, an unsupported source or format, unreadable data.
            NotFound: if a path or object does not exist.
            PermissionDenied: if a local path is outside the allowed folders.

        Example:
            >>> service.register("trips", "s3://lake/trips/2024-06/", format="parquet").version.ref
            'trips:3'
        """
        name = check_name(name)
        tag_values = check_tags(tags)
        check_text(description, "description", MAX_DESCRIPTION)
        check_text(source, "source")
        with canonical_parquet(data, format=format, policy=policy or self._policy, scratch=self._scratch) as made:
            edges = [(NodeRef(*ref), "produced") for ref in ([produced_by] if produced_by else [])]
            edges += [(NodeRef(*ref), "derived_from") for ref in derived_from]
            existing = self._find_content(name, made.sha256)
            if existing is not None:
                self._link(existing, edges)
                return Registration(version=existing, created=False)
            return self._store(name, made, source or made.source, description, tag_values, edges)

    def _store(
        self, name: str, made: Materialized, source: str, description: str | None, tags: dict[str, str],
        edges: list[tuple[NodeRef, str]],
    ) -> Registration:
        version_id = new_id()
        owner = Owner(ObjectKind.DATASET_VERSION, version_id)
        self._artifacts.put_file(owner, DATA_PATH, made.path)
        self._artifacts.put_bytes(owner, STATISTICS_PATH, made.statistics.to_json().encode())
        row = {
            "id": version_id, "content_hash": made.sha256, "num_rows": made.num_rows, "num_bytes": made.num_bytes,
            "schema_json": json.dumps([{"name": f.name, "type": str(f.type), "nullable": f.nullable}
                                       for f in made.schema]),
            "preview_json": json.dumps(made.preview), "tags_json": json.dumps(tags), "source": source,
            "description": description,
        }
        for _ in range(_INSERT_ATTEMPTS):  # a concurrent registration may take the number first
            try:
                with self._db.write() as conn:
                    version, created = self._insert(conn, name, row)
                    if created:
                        self._record(conn, version, edges)
            except IntegrityError:
                continue
            if not created:  # the same content arrived meanwhile: drop our copy
                self._artifacts.delete(owner, "")
                self._link(version, edges)
            return Registration(version=version, created=created)
        raise Conflict(f"dataset {name!r} is being registered by others too often; try again", field="name")

    def _insert(self, conn: Connection, name: str, row: dict[str, Any]) -> tuple[DatasetVersion, bool]:
        now, who = now_ms(), current_principal().name
        dataset = conn.execute(select(datasets.c.id).where(datasets.c.name == name)).scalar()
        if dataset is None:
            dataset = new_id()
            conn.execute(insert(datasets).values(id=dataset, name=name, created_by=who, created_at=now,
                                                 updated_at=now))
            record_change(conn, action="dataset.create", object_kind=ObjectKind.DATASET, object_id=dataset,
                          event_type="dataset.created", payload={"name": name})
        v = dataset_versions.c
        same = conn.execute(_versions().where(v.dataset_id == dataset, v.content_hash == row["content_hash"])).first()
        if same is not None:
            return _version(same), False
        number = (conn.execute(select(func.max(v.version)).where(v.dataset_id == dataset)).scalar() or 0) + 1
        conn.execute(insert(dataset_versions).values(**row, dataset_id=dataset, version=number, created_by=who,
                                                     created_at=now))
        conn.execute(update(datasets).where(datasets.c.id == dataset).values(updated_at=now))
        return _version(conn.execute(_versions().where(v.id == row["id"])).one()), True

    def _record(self, conn: Connection, version: DatasetVersion, edges: list[tuple[NodeRef, str]]) -> None:
        record_change(
            conn, action="dataset_version.register", object_kind=ObjectKind.DATASET_VERSION, object_id=version.id,
            event_type="dataset_version.registered",
            payload={"dataset": version.dataset_name, "version": version.version, "id": version.id,
                     "content_hash": version.content_hash, "num_rows": version.num_rows},
        )
        node = _node(version)
        record_edges(conn, [(NodeRef(ObjectKind.DATASET, version.dataset_id, version.dataset_name), node, "contains")]
                     + [(other, node, relation) for other, relation in edges])

    def _find_content(self, name: str, sha256: str) -> DatasetVersion | None:
        v = dataset_versions.c
        with self._db.read() as conn:
            row = conn.execute(_versions().where(datasets.c.name == name, v.content_hash == sha256)).first()
        return None if row is None else _version(row)

    def _link(self, version: DatasetVersion, edges: list[tuple[NodeRef, str]]) -> None:
        if edges:
            with self._db.write() as conn:
                record_edges(conn, [(other, _node(version), relation) for other, relation in edges])

    # ---------------------------------------------------------------------------------- reading

    @api.get("/datasets/{name}")
    @requires(Permission.READ)
    def get_dataset(self, name: DatasetName) -> Dataset:
        """The dataset called ``name``.

        Raises:
            NotFound: if there is none.
        """
        with self._db.read() as conn:
            row = conn.execute(_datasets().where(datasets.c.name == name)).first()
        if row is None:
            raise NotFound(f"dataset {name!r} does not exist", field="name")
        return _dataset(row)

    @api.get("/datasets")
    @requires(Permission.READ)
    def list_datasets(self) -> list[Dataset]:
        """Every dataset, by name."""
        with self._db.read() as conn:
            rows = conn.execute(_datasets().order_by(datasets.c.name)).all()
        return [_dataset(row) for row in rows]

    @api.get("/datasets/{name}/versions")
    @requires(Permission.READ)
    def list_versions(self, name: DatasetName) -> list[DatasetVersion]:
        """The versions of ``name``, oldest first.

        Raises:
            NotFound: if the dataset does not exist.
        """
        self.get_dataset(name)
        with self._db.read() as conn:
            rows = conn.execute(_versions().where(datasets.c.name == name).order_by(dataset_versions.c.version)).all()
        return [_version(row) for row in rows]

    @api.get("/datasets/{name}/latest", fixed={"version": None}, name="get_latest")
    @api.get("/datasets/{name}/versions/{version}")
    @requires(Permission.READ)
    def get_version(self, name: DatasetName, version: int | None = None) -> DatasetVersion:
        """Version ``version`` of ``name``; the latest when ``version`` is None.

        Raises:
            NotFound: if the dataset or the version does not exist.
            InvalidInput: if ``version`` is not a positive integer.
        """
        query = _versions().where(datasets.c.name == name)
        if version is None:
            query = query.order_by(dataset_versions.c.version.desc()).limit(1)
        else:
            if isinstance(version, bool) or not isinstance(version, int) or version < 1:
                raise InvalidInput(f"version must be a positive integer, not {version!r}", field="version")
            query = query.where(dataset_versions.c.version == version)
        with self._db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            self.get_dataset(name)
            raise NotFound(f"dataset {name!r} has no version {version}", field="version")
        return _version(row)

    @api.get("/datasets/{name}/versions/{version}/statistics", fill=LATEST)
    @requires(Permission.READ)
    def get_statistics(self, name: DatasetName, version: int | None = None) -> Statistics:
        """The column statistics of a version (see ``docs/statistics.md``); over HTTP, its ``statistics.json``."""
        found = self.get_version(name, version)
        owner = Owner(ObjectKind.DATASET_VERSION, found.id)
        return DatasetStatistics.from_json(self._artifacts.read_bytes(owner, STATISTICS_PATH))

    @api.get("/datasets/{name}/versions/{version}/data", fill=LATEST, name="download_data")
    @requires(Permission.READ)
    def open(self, name: DatasetName, version: int | None = None) -> BinaryIO:
        """The version's Parquet file as a stream (over HTTP, streamed); the caller closes it."""
        found = self.get_version(name, version)
        return self._artifacts.open(Owner(ObjectKind.DATASET_VERSION, found.id), DATA_PATH)

    @requires(Permission.READ)
    def download(self, name: str, version: int | None, dst: Path) -> Path:
        """Copy the version's Parquet file to ``dst`` (a file path); return ``dst``."""
        found = self.get_version(name, version)
        return self._artifacts.download(Owner(ObjectKind.DATASET_VERSION, found.id), DATA_PATH, Path(dst))

    @requires(Permission.READ)
    def load(
        self, name: str, version: int | None = None, *, columns: Sequence[str] | None = None,
        reader: ObjectRef | None = None,
    ) -> pd.DataFrame:
        """The version's rows as a DataFrame (only ``columns``, if given).

        Args:
            reader: the run or step execution reading it, recorded in lineage.
        """
        found = self.get_version(name, version)
        with tempfile.TemporaryDirectory(prefix="slipway-load-") as tmp:
            owner = Owner(ObjectKind.DATASET_VERSION, found.id)
            path = self._artifacts.download(owner, DATA_PATH, Path(tmp) / DATA_PATH)
            frame = pq.read_table(path, columns=list(columns) if columns is not None else None).to_pandas()
        if reader is not None:
            self.record_read(name, found.version, reader)
        return frame

    @api.get("/datasets/{name}/diff")
    @requires(Permission.READ)
    def diff(self, name: DatasetName, first: int, second: int) -> DatasetDiff:
        """Schema and statistics of two versions side by side."""
        a, b = self.get_version(name, first), self.get_version(name, second)
        return diff_versions(a, b, self.get_statistics(name, first), self.get_statistics(name, second))

    # ---------------------------------------------------------------------------------- lineage

    @api.post("/datasets/{name}/versions/{version}/reads", body="reader", fill=LATEST)
    @requires(Permission.WRITE)
    def record_read(self, name: DatasetName, version: int | None, reader: Node) -> DatasetVersion:
        """Record that a run or step (``reader``) read this version: ``version -consumed-> reader``."""
        found = self.get_version(name, version)
        with self._db.write() as conn:
            record_edges(conn, [(_node(found), NodeRef(*reader), "consumed")])
        return found

    @api.post("/datasets/{name}/versions/{version}/writes", body="writer", fill=LATEST)
    @requires(Permission.WRITE)
    def record_write(self, name: DatasetName, version: int | None, writer: Node) -> DatasetVersion:
        """Record that a run or step (``writer``) produced this version: ``writer -produced-> version``."""
        found = self.get_version(name, version)
        self._link(found, [(NodeRef(*writer), "produced")])
        return found

    @api.get("/datasets/{name}/versions/{version}/lineage", fill=LATEST)
    @requires(Permission.READ)
    def lineage(
        self, name: DatasetName, version: int | None = None, *,
        direction: Literal["upstream", "downstream"] = "downstream", depth: int = 3,
    ) -> LineageGraph:
        """What was made from a version (downstream) or what it came from (upstream)."""
        found = self.get_version(name, version)
        if direction not in ("upstream", "downstream"):
            raise InvalidInput(f"direction must be upstream or downstream, not {direction!r}", field="direction")
        walk = LineageService(self._db)
        follow = walk.downstream if direction == "downstream" else walk.upstream
        return follow(ObjectKind.DATASET_VERSION, found.id, depth)


# ------------------------------------------------------------------------------------ rows out


def _datasets() -> Any:
    latest = select(func.max(dataset_versions.c.version)).where(
        dataset_versions.c.dataset_id == datasets.c.id).scalar_subquery()
    return select(datasets, latest.label("latest_version"))


def _versions() -> Any:
    return select(dataset_versions, datasets.c.name.label("dataset_name")).join(
        datasets, datasets.c.id == dataset_versions.c.dataset_id)


def _dataset(row: Row[Any]) -> Dataset:
    return Dataset(id=row.id, name=row.name, description=row.description, latest_version=row.latest_version,
                   created_by=row.created_by, created_at=ms_to_datetime(row.created_at),
                   updated_at=ms_to_datetime(row.updated_at))


def _version(row: Row[Any]) -> DatasetVersion:
    return DatasetVersion(
        id=row.id, dataset_id=row.dataset_id, dataset_name=row.dataset_name, version=row.version,
        content_hash=row.content_hash, num_rows=row.num_rows, num_bytes=row.num_bytes,
        columns=[ColumnSchema(**c) for c in json.loads(row.schema_json)], preview=json.loads(row.preview_json),
        source=row.source, description=row.description, tags=json.loads(row.tags_json),
        created_by=row.created_by, created_at=ms_to_datetime(row.created_at),
    )


def _node(version: DatasetVersion) -> NodeRef:
    return NodeRef(ObjectKind.DATASET_VERSION, version.id, version.ref)
