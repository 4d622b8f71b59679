"""Feature group definitions in the metadata database: creation and checked schema changes.

A group's schema may grow (new features) but never change under existing data: a feature's type
cannot change and a feature cannot be removed, since the offline history was written with it.
Each accepted change is a new schema version, kept with all earlier ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from slipway._ids import new_id
from slipway._kinds import ObjectKind
from slipway._principal import current_principal
from slipway._references import check_name
from slipway._time import ms_to_datetime, now_ms
from slipway.datasets import check_tags
from slipway.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from slipway.events import record_change
from slipway.features._records import Feature, FeatureGroup
from slipway.features._tables import feature_group_schemas, feature_groups
from slipway.features._types import ID_TYPES, check_feature_type
from slipway.store import Database

FeatureSpec = Mapping[str, str] | Sequence[Feature | Mapping[str, str]]
UNCHANGED: Any = object()  # "leave as it is", where None is a value (no TTL)


def parse_features(features: FeatureSpec) -> list[Feature]:
    """``{"age": "int64"}`` or ``[Feature(...)]`` or ``[{"name", "type"}]`` as checked features."""
    if isinstance(features, Mapping):
        items = [Feature(name=name, type=kind) for name, kind in features.items()]
    elif isinstance(features, Sequence) and not isinstance(features, str):
        try:
            items = [f if isinstance(f, Feature) else Feature(**f) for f in features]
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"features must be name/type pairs: {exc}", field="features") from None
    else:
        raise InvalidInput("features must be a mapping of name to type, or a list of features", field="features")
    seen: set[str] = set()
    for feature in items:
        check_name(feature.name, f"features.{feature.name}")
        check_feature_type(feature.name, feature.type)
        if feature.name in seen:
            raise InvalidInput(f"feature {feature.name!r} is declared twice", field=f"features.{feature.name}")
        seen.add(feature.name)
    return items


def _check_keys(features: list[Feature], record_id: str, event_time: str) -> None:
    types = {f.name: f.type for f in features}
    if types.get(record_id) not in ID_TYPES:
        raise InvalidInput(f"the record id {record_id!r} must be a declared feature of type string or int64",
                           field="record_id")
    if types.get(event_time) != "timestamp":
        raise InvalidInput(f"the event time {event_time!r} must be a declared feature of type timestamp",
                           field="event_time")


def _check_ttl(ttl_seconds: int | None) -> int | None:
    if ttl_seconds is not None and (isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int)
                                    or ttl_seconds <= 0):
        raise InvalidInput(f"ttl_seconds must be a positive integer, not {ttl_seconds!r}", field="ttl_seconds")
    return ttl_seconds


class GroupCatalog:
    """Reads and writes feature group rows; the service builds on it."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self, name: str, features: FeatureSpec, *, record_id: str, event_time: str, description: str | None,
        tags: Mapping[str, Any] | None, ttl_seconds: int | None,
    ) -> FeatureGroup:
        name = check_name(name)
        parsed = parse_features(features)
        _check_keys(parsed, record_id, event_time)
        tag_values, ttl = check_tags(tags), _check_ttl(ttl_seconds)
        group_id, now, who = new_id(), now_ms(), current_principal().name
        try:
            with self._db.write() as conn:
                conn.execute(insert(feature_groups).values(
                    id=group_id, name=name, record_id=record_id, event_time=event_time, description=description,
                    tags_json=json.dumps(tag_values), ttl_seconds=ttl, schema_version=1, created_by=who,
                    created_at=now, updated_at=now))
                self._add_schema(conn, group_id, 1, parsed, now)
                record_change(conn, action="feature_group.create", object_kind=ObjectKind.FEATURE_GROUP,
                              object_id=group_id, event_type="feature_group.created", payload={"name": name})
        except IntegrityError:
            raise AlreadyExists(f"feature group {name!r} already exists", field="name") from None
        return self.get(name)

    @staticmethod
    def _add_schema(conn: Connection, group_id: str, version: int, features: list[Feature], now: int) -> None:
        conn.execute(insert(feature_group_schemas).values(
            group_id=group_id, version=version, created_at=now,
            features_json=json.dumps([f.model_dump() for f in features])))

    def get(self, name: str) -> FeatureGroup:
        with self._db.read() as conn:
            row = conn.execute(_groups().where(feature_groups.c.name == name)).first()
        if row is None:
            raise NotFound(f"feature group {name!r} does not exist", field="name")
        return _group(row)

    def all(self) -> list[FeatureGroup]:
        with self._db.read() as conn:
            rows = conn.execute(_groups().order_by(feature_groups.c.name)).all()
        return [_group(row) for row in rows]

    def update(
        self, name: str, *, features: FeatureSpec | None, description: str | None, ttl_seconds: int | None = UNCHANGED,
    ) -> FeatureGroup:
        """Apply a change; ``features`` is the whole new list (existing ones kept as they were)."""
        current = self.get(name)
        values: dict[str, Any] = {"updated_at": now_ms()}
        if description is not None:
            values["description"] = description
        if ttl_seconds is not UNCHANGED:
            values["ttl_seconds"] = _check_ttl(ttl_seconds)
        added = self._added_features(current, parse_features(features)) if features is not None else []
        if added:
            values["schema_version"] = current.schema_version + 1
        with self._db.write() as conn:
            # Guard on the schema version read above: a concurrent change makes this update miss.
            done = conn.execute(update(feature_groups).where(
                feature_groups.c.id == current.id, feature_groups.c.schema_version == current.schema_version,
            ).values(**values)).rowcount
            if not done:
                raise Conflict(f"feature group {name!r} changed meanwhile; read it again and retry", field="name")
            if added:
                self._add_schema(conn, current.id, current.schema_version + 1, current.features + added,
                                 values["updated_at"])
            record_change(conn, action="feature_group.update", object_kind=ObjectKind.FEATURE_GROUP,
                          object_id=current.id,
                          details={"added": [f.name for f in added], **{k: v for k, v in values.items()
                                                                        if k != "updated_at"}})
        return self.get(name)

    @staticmethod
    def _added_features(current: FeatureGroup, wanted: list[Feature]) -> list[Feature]:
        existing = {f.name: f.type for f in current.features}
        for feature in wanted:
            if feature.name in existing and existing[feature.name] != feature.type:
                raise Conflict(
                    f"feature {feature.name!r} of group {current.name!r} is {existing[feature.name]}; changing it to "
                    f"{feature.type} is refused, since stored history has the old type (add a new feature instead)",
                    field=f"features.{feature.name}")
        removed = sorted(set(existing) - {f.name for f in wanted})
        if removed:
            raise Conflict(f"removing features ({', '.join(removed)}) from group {current.name!r} is refused: "
                           "stored history has them", field="features")
        return [f for f in wanted if f.name not in existing]

    def schemas(self, name: str) -> list[list[Feature]]:
        """Every schema the group has had, oldest first."""
        group = self.get(name)
        with self._db.read() as conn:
            rows = conn.execute(select(feature_group_schemas.c.features_json).where(
                feature_group_schemas.c.group_id == group.id).order_by(feature_group_schemas.c.version)).all()
        return [[Feature(**f) for f in json.loads(row.features_json)] for row in rows]


def _groups() -> Any:
    s = feature_group_schemas
    return select(feature_groups, s.c.features_json).join(
        s, (s.c.group_id == feature_groups.c.id) & (s.c.version == feature_groups.c.schema_version))


def _group(row: Row[Any]) -> FeatureGroup:
    return FeatureGroup(
        id=row.id, name=row.name, record_id=row.record_id, event_time=row.event_time,
        features=[Feature(**f) for f in json.loads(row.features_json)], description=row.description,
        tags=json.loads(row.tags_json), ttl_seconds=row.ttl_seconds, schema_version=row.schema_version,
        created_by=row.created_by, created_at=ms_to_datetime(row.created_at), updated_at=ms_to_datetime(row.updated_at),
    )
