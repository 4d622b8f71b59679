"""The feature service: groups, ingestion, online reads and point-in-time training sets.

Every face (SDK, CLI, REST) calls these methods. Ingested rows go to the offline store (all of
history) and, unless asked otherwise, their latest value per id to the online store; the online
store can also be rebuilt from the offline one (:meth:`FeatureService.materialize`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeAlias

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from slipway._kinds import ObjectKind
from slipway._limits import MAX_DESCRIPTION, check_text
from slipway._operations import Api, Wire, composed
from slipway._references import check_name
from slipway._time import EPOCH, check_aware
from slipway.datasets import DatasetService, Registration
from slipway.errors import InvalidInput
from slipway.events import record_change
from slipway.features._frames import AnsweredTable, GroupNames, MaxAge, ParquetBody
from slipway.features._groups import UNCHANGED, FeatureSpec, GroupCatalog, parse_features
from slipway.features._latest import latest_per_id
from slipway.features._offline import OfflineStore
from slipway.features._online import OnlineStore, encode_table
from slipway.features._pit import (
    ENTITY_ROW,
    ENTITY_TIME,
    GroupQuery,
    all_rows,
    distinct_keys,
    point_in_time_join,
)
from slipway.features._prefetch import prefetched
from slipway.features._records import Feature, FeatureGroup, Freshness, IngestResult, MaterializeResult
from slipway.features._types import FEATURE_TYPES, to_event_micros, to_group_table
from slipway.security import Permission, requires
from slipway.store import Database

# Online reads look group definitions up in memory for this long, not in the database every call.
GROUP_CACHE_SECONDS = 5.0
# Rows encoded and written to the online store at a time (one transaction or pipeline each).
ONLINE_CHUNK = 10_000

Rows: TypeAlias = pd.DataFrame | pa.Table | Sequence[Mapping[str, Any]]
_MICROS = dt.timedelta(microseconds=1)


# How the API's arguments travel (slipway._operations); tables go as Parquet (see ._frames).
FeatureGroupName = Annotated[str, Wire(to_wire=check_name)]  # checked first: it goes into the URL path
FeatureList = Annotated[FeatureSpec, Wire(list[Feature], to_wire=lambda f: [x.model_dump() for x in parse_features(f)])]
Groups = Annotated[str | Sequence[str], GroupNames]
Entities = Annotated[pd.DataFrame, ParquetBody]
Age = Annotated[dt.timedelta, MaxAge]
_ONLY_GIVEN = "Only the fields given change; ``ttl_seconds: null`` removes the TTL."
api = Api("features")  # the REST routes and remote methods derive from these declarations (slipway._operations)


class FeatureService:
    """Feature groups over the metadata database, the artifact store (offline) and an online store.

    Safe to share between threads.

    Args:
        db: the metadata database (group definitions).
        offline: the offline store (history, in the artifact store).
        online: the online store (latest values).
        datasets: where training sets are registered as dataset versions.

    Example:
        >>> features = client.features
        >>> features.create_group("abalone_size", {"abalone_id": "int64", "ts": "timestamp", "length": "float64"},
        ...                       record_id="abalone_id", event_time="ts")
        >>> features.ingest("abalone_size", frame).rows
        4177
        >>> features.get_online_features("abalone_size", [0, 1])[0]["length"]
        0.455
    """

    def __init__(self, db: Database, offline: OfflineStore, online: OnlineStore, datasets: DatasetService) -> None:
        self._groups = GroupCatalog(db)
        self._db = db
        self._offline = offline
        self._online = online
        self._datasets = datasets
        self._cached: dict[tuple[str, ...], tuple[float, list[FeatureGroup]]] = {}

    def close(self) -> None:
        """Close the online store's connections."""
        self._online.close()

    # ----------------------------------------------------------------------------------- groups

    @api.post("/feature-groups", status=201)
    @requires(Permission.WRITE)
    def create_group(
        self, name: str, features: FeatureList, *, record_id: str, event_time: str, description: str | None = None,
        tags: Annotated[Mapping[str, Any], Wire(dict[str, str])] | None = None, ttl_seconds: int | None = None,
    ) -> FeatureGroup:
        """Create a feature group.

        Args:
            name: the group's name.
            features: every feature with its type (``int64``, ``float64``, ``string``, ``bool``,
                ``timestamp``), the record id and event time included: ``{"id": "string", ...}``.
            record_id: the feature identifying a record (``string`` or ``int64``).
            event_time: the feature saying when a record's values were true (``timestamp``).
            description: what the group holds.
            tags: small text labels.
            ttl_seconds: online values older than this (by event time) read as missing.

        Raises:
            InvalidInput: for a bad name, type, key feature or TTL (``field`` names it).
            AlreadyExists: if a group of that name exists.
        """
        return self._groups.create(name, features, record_id=record_id, event_time=event_time,
                                   description=check_text(description, "description", MAX_DESCRIPTION), tags=tags,
                                   ttl_seconds=ttl_seconds)

    @api.get("/feature-groups/{name}")
    @requires(Permission.READ)
    def get_group(self, name: FeatureGroupName) -> FeatureGroup:
        """The group called ``name``; :class:`~slipway.errors.NotFound` if none."""
        return self._groups.get(name)

    @api.get("/feature-groups")
    @requires(Permission.READ)
    def list_groups(self) -> list[FeatureGroup]:
        """Every group, by name."""
        return self._groups.all()

    @api.patch("/feature-groups/{name}", body_doc=_ONLY_GIVEN)
    @requires(Permission.WRITE)
    def update_group(
        self, name: FeatureGroupName, *, features: FeatureList | None = None, description: str | None = None,
        ttl_seconds: int | None = UNCHANGED,
    ) -> FeatureGroup:
        """Change a group: add features (give the whole list), set the description or the TTL.

        Raises:
            Conflict: if a feature would change type or disappear (history was written with it),
                or the group changed meanwhile.
        """
        description = check_text(description, "description", MAX_DESCRIPTION)
        return self._groups.update(name, features=features, description=description, ttl_seconds=ttl_seconds)

    @api.get("/feature-groups/{name}/schemas")
    @requires(Permission.READ)
    def schema_history(self, name: FeatureGroupName) -> list[list[Feature]]:
        """Every schema the group has had, oldest first (lists of features)."""
        return self._groups.schemas(name)

    @api.get("/feature-groups/{name}/freshness")
    @requires(Permission.READ)
    def freshness(self, name: FeatureGroupName) -> Freshness:
        """How recent the group's data is: its newest event date, its latest ingestion, and whether
        even the newest values are past the group's TTL (online reads then find nothing).

        Cheap: read from the offline files' paths, no data is loaded.
        """
        group = self.get_group(name)
        newest, ingested, files = self._offline.extent(group.id)
        stale = None
        if group.ttl_seconds is not None and newest is not None:
            latest_possible = dt.datetime.combine(newest + dt.timedelta(days=1), dt.time(), dt.UTC)
            stale = dt.datetime.now(dt.UTC) - latest_possible > dt.timedelta(seconds=group.ttl_seconds)
        return Freshness(group=name, newest_event_date=newest, last_ingested_at=ingested, offline_files=files,
                         stale=stale)

    # -------------------------------------------------------------------------------- ingesting

    @requires(Permission.WRITE)
    def ingest(self, name: str, rows: Rows, *, online: bool = True) -> IngestResult:
        """Append rows to the group's history and, with ``online``, update the online store.

        Every declared feature must be there, with values castable to its type; event times may
        be timestamps (naive ones are UTC), ISO text or epoch seconds. Nothing is stored unless
        all rows pass.

        Raises:
            InvalidInput: for unknown or missing columns, values of the wrong type, or rows
                without a record id or event time (the message lists their row numbers,
                ``details["rows"]`` holds them).
        """
        group = self.get_group(name)
        frame = pd.DataFrame(list(rows)) if isinstance(rows, Sequence) else rows
        table = self._offline.stamp(to_group_table(frame, group.features, group.record_id, group.event_time))
        files = self._offline.append(group.id, table, group.event_time) if table.num_rows else 0
        written = self._write_online(group, latest_per_id(table, group.record_id, group.event_time)) if online else 0
        with self._db.write() as conn:
            record_change(conn, action="feature_group.ingest", object_kind=ObjectKind.FEATURE_GROUP, object_id=group.id,
                          details={"rows": table.num_rows, "files": files})
        return IngestResult(group=name, rows=table.num_rows, offline_files=files, online_records=written)

    @composed
    @requires(Permission.WRITE)
    def put_record(self, name: str, record: Mapping[str, Any]) -> IngestResult:
        """Ingest one record (offline and online); see :meth:`ingest`."""
        return self.ingest(name, [record])

    @api.post("/feature-groups/{name}/materialize", job=True)
    @requires(Permission.WRITE)
    def materialize(self, name: FeatureGroupName, *, start: dt.datetime | None = None, end: dt.datetime | None = None
                    ) -> MaterializeResult:
        """Copy the latest offline value per id (event times within [start, end]) to the online store.

        Fresher values already online are kept: the online store only moves forward.
        """
        group = self.get_group(name)
        files = self._offline.files(group.id, since=start.date() if start else None, until=end.date() if end else None)
        if not files:
            return MaterializeResult(group=name, records=0)
        latest = latest_per_id(files, group.record_id, group.event_time,
                               start_us=_micros(start, "start"), end_us=_micros(end, "end"))
        return MaterializeResult(group=name, records=self._write_online(group, latest))

    def _write_online(self, group: FeatureGroup, latest: pa.Table) -> int:
        """Encode and write ``latest`` in chunks, the next chunk encoded while one is written."""
        names = [f.name for f in group.value_features]
        chunks = (encode_table(latest.slice(start, ONLINE_CHUNK), group.record_id, group.event_time, names)
                  for start in range(0, latest.num_rows, ONLINE_CHUNK))
        ttl_ms = _ttl_ms(group)
        return sum(self._online.write_encoded(group.id, records, ttl_ms=ttl_ms)
                   for records in (prefetched(chunks) if latest.num_rows > ONLINE_CHUNK else chunks))

    # ---------------------------------------------------------------------------------- reading

    @api.post("/online-features")
    @requires(Permission.READ)
    def get_online_features(
        self, groups: Groups, ids: Annotated[Sequence[Any], Wire(list[str | int])]
    ) -> list[dict[str, Any]]:
        """The latest values of each id, from one or more groups, in the order of ``ids``.

        Each answer is ``{"id": <id>, <feature>: <value>, ...}`` with every feature of every
        group; a feature is None where its group has no (unexpired) record for the id.

        Group definitions are cached for up to :data:`GROUP_CACHE_SECONDS`: a feature added
        meanwhile appears in answers after at most that long.

        Raises:
            InvalidInput: if two groups have a feature of the same name.
        """
        found = self._groups_cached(groups)
        keys = [str(i) for i in ids]
        rows: list[dict[str, Any]] = [{"id": i} for i in ids]
        answers = self._online.read_groups([(g.id, _ttl_ms(g)) for g in found], keys)
        for group, records in zip(found, answers, strict=True):
            names = [f.name for f in group.value_features]
            missing = dict.fromkeys(names)
            for row, record in zip(rows, records, strict=True):
                row.update(missing if record is None else {n: record.values.get(n) for n in names})
        return rows

    @requires(Permission.READ)
    def read_offline(self, name: str, *, start: dt.datetime | None = None, end: dt.datetime | None = None
                     ) -> pd.DataFrame:
        """Every stored row of a group (event times within [start, end]), in ingestion order."""
        group = self.get_group(name)
        files = self._offline.files(group.id, since=start.date() if start else None, until=end.date() if end else None)
        if not files:
            return pa.table({f.name: pa.array([], FEATURE_TYPES[f.type]) for f in group.features}).to_pandas()
        rows = all_rows(files, group.event_time, start_us=_micros(start, "start"), end_us=_micros(end, "end"))
        return rows.select([f.name for f in group.features]).to_pandas()

    # ------------------------------------------------------------------------------ training sets

    @api.post("/training-sets")
    @requires(Permission.READ)
    def training_set(
        self, entities: Entities, groups: Groups, *, event_time_column: str = "event_time", max_age: Age | None = None,
    ) -> AnsweredTable:
        """Features as they were at each entity row's time: never a value from its future.

        Args:
            entities: one row per example; it must hold each group's record id column and
                ``event_time_column``. Its columns and row order are kept.
            groups: the groups whose (value) features to add.
            event_time_column: the entity column with each row's time (naive times are UTC).
            max_age: a value older than this at the row's time counts as missing.

        Raises:
            InvalidInput: for a missing entity column, a name clash between features and
                entity columns or between groups.

        Example:
            >>> entities = pd.DataFrame({"abalone_id": [0, 1], "event_time": pd.to_datetime(["2024-06-01"] * 2)})
            >>> client.features.training_set(entities, ["abalone_size", "abalone_weight"]).columns.tolist()
            ['abalone_id', 'event_time', 'length', 'diameter', 'whole weight', 'rings']
        """
        found = self._groups_named(groups)
        if not isinstance(entities, pd.DataFrame):
            raise InvalidInput("entities must be a DataFrame", field="entities")
        if event_time_column not in entities.columns:
            raise InvalidInput(f"the entities have no {event_time_column!r} column", field="event_time_column")
        self._check_clashes(found, set(entities.columns))
        table = pa.Table.from_pandas(entities, preserve_index=False)
        for group in found:
            table = _cast_ids(table, group)
        table = table.append_column(ENTITY_ROW, pa.array(range(table.num_rows), pa.int64()))
        table = table.append_column(ENTITY_TIME, to_event_micros(table.column(event_time_column), event_time_column))
        return self._join(table, found, max_age, entities.index)

    @api.post("/historical-features")
    @requires(Permission.READ)
    def historical_features(
        self, groups: Groups, start: dt.datetime, end: dt.datetime, *, max_age: Age | None = None,
    ) -> AnsweredTable:
        """Without an entity frame: one row per (id, event time) any group has in [start, end],
        with every group's features as of that moment, ordered by time then id.

        The id and time columns are named after the first group's record id and event time.
        """
        found = self._groups_named(groups)
        first = found[0]
        queries = self._queries(found, until=end)
        keys = distinct_keys(queries, _micros(start, "start") or 0, _micros(end, "end") or 0,
                             first.record_id, first.event_time)
        self._check_clashes(found, set(keys.column_names))
        table = keys
        for group in found[1:]:
            if group.record_id not in table.column_names:
                table = table.append_column(group.record_id, table.column(first.record_id))
            table = _cast_ids(table, group)
        table = table.append_column(ENTITY_ROW, pa.array(range(table.num_rows), pa.int64()))
        table = table.append_column(ENTITY_TIME, pc.cast(keys.column(first.event_time), pa.int64()))
        return self._join(table, found, max_age, None)

    @api.post("/training-sets/register", status=201)
    @requires(Permission.WRITE)
    def register_training_set(
        self, dataset: str, entities: Entities, groups: Groups, *,
        event_time_column: str = "event_time", max_age: Age | None = None, description: str | None = None,
    ) -> Registration:
        """Build a training set (see :meth:`training_set`) and register it as a dataset version,
        with lineage from each group (``feature_group -derived_from-> dataset_version``)."""
        found = self._groups_named(groups)
        frame = self.training_set(entities, [g.name for g in found], event_time_column=event_time_column,
                                  max_age=max_age)
        return self._datasets.register(dataset, frame, description=description, source="training set",
                                       derived_from=[(ObjectKind.FEATURE_GROUP, g.id) for g in found])

    def _join(self, table: pa.Table, found: list[FeatureGroup], max_age: dt.timedelta | None,
              index: pd.Index | None) -> pd.DataFrame:
        if max_age is not None and max_age < dt.timedelta(0):
            raise InvalidInput("max_age must not be negative", field="max_age")
        times = pc.max(table.column(ENTITY_TIME)).as_py()
        until = None if times is None else dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + times * _MICROS
        types = {f.name: str(FEATURE_TYPES[f.type]) for g in found for f in g.features}
        joined = point_in_time_join(table, self._queries(found, until=until), types, max_age)
        frame = joined.to_pandas()
        if index is not None:
            frame.index = index
        return frame

    def _queries(self, found: list[FeatureGroup], *, until: dt.datetime | None) -> list[GroupQuery]:
        return [
            GroupQuery(name=g.name, record_id=g.record_id, event_time=g.event_time,
                       features=[f.name for f in g.value_features],
                       files=self._offline.files(g.id, until=until.date() if until else None),
                       id_type=FEATURE_TYPES[next(f.type for f in g.features if f.name == g.record_id)])
            for g in found
        ]

    def _groups_cached(self, groups: str | Sequence[str]) -> list[FeatureGroup]:
        key = (groups,) if isinstance(groups, str) else tuple(groups)
        hit = self._cached.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        found = self._groups_named(groups)
        self._cached[key] = (time.monotonic() + GROUP_CACHE_SECONDS, found)
        return found

    def _groups_named(self, groups: str | Sequence[str]) -> list[FeatureGroup]:
        names = [groups] if isinstance(groups, str) else list(groups)
        if not names:
            raise InvalidInput("name at least one feature group", field="groups")
        found = [self.get_group(n) for n in dict.fromkeys(names)]
        self._check_clashes(found, set())
        return found

    @staticmethod
    def _check_clashes(found: list[FeatureGroup], taken: set[str]) -> None:
        owner = dict.fromkeys(taken, "the entities")
        for group in found:
            for feature in group.value_features:
                if feature.name in owner:
                    raise InvalidInput(f"feature {feature.name!r} of group {group.name!r} clashes with "
                                       f"{owner[feature.name]}; rename one of them", field="groups")
                owner[feature.name] = f"group {group.name!r}"


def _ttl_ms(group: FeatureGroup) -> int | None:
    return None if group.ttl_seconds is None else group.ttl_seconds * 1000


def _micros(when: dt.datetime | None, field: str) -> int | None:
    if when is None:
        return None
    return (check_aware(when, field) - EPOCH) // _MICROS


def _cast_ids(table: pa.Table, group: FeatureGroup) -> pa.Table:
    """The entities' id column for ``group`` in the group's id type, or a clear error."""
    if group.record_id not in table.column_names:
        raise InvalidInput(f"the entities have no {group.record_id!r} column (the record id of {group.name!r})",
                           field="entities")
    kind = FEATURE_TYPES[next(f.type for f in group.features if f.name == group.record_id)]
    column = table.column(group.record_id)
    if column.type == kind:
        return table
    try:
        cast = column.cast(kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(f"the entities' {group.record_id!r} must be {kind}: {exc}", field="entities") from None
    return table.set_column(table.column_names.index(group.record_id), group.record_id, cast)

