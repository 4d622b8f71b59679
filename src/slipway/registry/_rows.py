"""Reading the registry tables: lookups that raise NotFound, and rows turned into records.

Everything here runs on a connection the service opened, so a read inside a write transaction
sees that transaction's own changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, Select, select

from slipway._references import check_name
from slipway._time import ms_to_datetime
from slipway.errors import NotFound
from slipway.registry._records import MetricValue, ModelGroup, ModelVersion
from slipway.registry._tables import (
    model_aliases,
    model_group_tags,
    model_groups,
    model_version_metrics,
    model_version_tags,
    model_versions,
)

_CHUNK = 500


def group_row(conn: Connection, name: str, *, lock: bool = False) -> Row[Any]:
    """The group named ``name``; with ``lock``, its row is locked until the transaction ends.

    The lock (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's write transactions are already
    serialised) is what makes alias moves and archiving within a group happen one at a time.

    Raises:
        InvalidInput: for a name no group can have (checked first, so that every mode, including
            a remote client that must put the name in a URL path, refuses it the same way).
        NotFound: naming the group.
    """
    query = select(model_groups).where(model_groups.c.name == check_name(name, "group"))
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"model group {name!r} does not exist", field="group")
    return row


def versions_query() -> Select[Any]:
    """Versions with their group's name, which every version record carries."""
    return select(model_versions, model_groups.c.name.label("group_name")).join(
        model_groups, model_groups.c.id == model_versions.c.group_id
    )


def version_row(conn: Connection, group: str, version: int) -> Row[Any]:
    """Version ``version`` of ``group``.

    Raises:
        NotFound: naming the group when it does not exist, else the version.
    """
    row = conn.execute(
        versions_query().where(model_groups.c.name == group, model_versions.c.version == version)
    ).first()
    if row is None:
        group_row(conn, group)
        raise NotFound(f"model group {group!r} has no version {version}", field="version")
    return row


def version_row_by_id(conn: Connection, version_id: str) -> Row[Any]:
    """The version with id ``version_id``.

    Raises:
        NotFound: naming the id.
    """
    row = conn.execute(versions_query().where(model_versions.c.id == version_id)).first()
    if row is None:
        raise NotFound(f"model version {version_id!r} does not exist", field="version_id")
    return row


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


def _key_values(conn: Connection, table: Any, owner: Any, ids: Sequence[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for chunk in _chunks(ids):
        query = select(owner, table.c.key, table.c.value).where(owner.in_(chunk))
        for owner_id, key, value in conn.execute(query):
            out.setdefault(owner_id, {})[key] = value
    return out


def versions(conn: Connection, rows: Sequence[Row[Any]]) -> list[ModelVersion]:
    """Records for rows of :func:`versions_query`, with their metrics, tags and aliases, in order."""
    ids = [r.id for r in rows]
    metrics: dict[str, dict[str, MetricValue]] = {}
    aliases: dict[str, list[str]] = {}
    for chunk in _chunks(ids):
        m = model_version_metrics.c
        query = select(model_version_metrics).where(m.version_id.in_(chunk)).order_by(m.name)
        for row in conn.execute(query):
            metrics.setdefault(row.version_id, {})[row.name] = MetricValue(value=row.value, std=row.std)
        a = model_aliases.c
        for version_id, alias in conn.execute(select(a.version_id, a.alias).where(a.version_id.in_(chunk))):
            aliases.setdefault(version_id, []).append(alias)
    tags = _key_values(conn, model_version_tags, model_version_tags.c.version_id, ids)
    return [
        ModelVersion(
            id=r.id,
            group=r.group_name,
            version=r.version,
            flavor=r.flavor,
            signature=json.loads(r.signature) if r.signature else None,
            metrics=metrics.get(r.id, {}),
            metadata=json.loads(r.meta),
            tags=tags.get(r.id, {}),
            description=r.description,
            source_kind=r.source_kind,
            source_id=r.source_id,
            status=r.status,
            content_hash=r.content_hash,
            approved_content_hash=r.approved_content_hash,
            aliases=sorted(aliases.get(r.id, [])),
            archived=r.archived,
            registered_by=r.registered_by,
            created_at=ms_to_datetime(r.created_at),
            updated_by=r.updated_by,
            updated_at=ms_to_datetime(r.updated_at),
            trusted=r.trusted_by is not None,
            trusted_by=r.trusted_by,
            trusted_at=ms_to_datetime(r.trusted_at),
        )
        for r in rows
    ]


def groups(conn: Connection, rows: Sequence[Row[Any]]) -> list[ModelGroup]:
    """Records for rows of ``model_groups``, with their tags and aliases, in order."""
    ids = [r.id for r in rows]
    tags = _key_values(conn, model_group_tags, model_group_tags.c.group_id, ids)
    aliases: dict[str, dict[str, int]] = {}
    a, v = model_aliases.c, model_versions.c
    for chunk in _chunks(ids):
        query = select(a.group_id, a.alias, v.version).join(model_versions, v.id == a.version_id)
        for group_id, alias, number in conn.execute(query.where(a.group_id.in_(chunk))):
            aliases.setdefault(group_id, {})[alias] = number
    return [
        ModelGroup(
            id=r.id,
            name=r.name,
            description=r.description,
            tags=tags.get(r.id, {}),
            latest_version=r.last_version,
            aliases=dict(sorted(aliases.get(r.id, {}).items())),
            created_by=r.created_by,
            created_at=ms_to_datetime(r.created_at),
            updated_by=r.updated_by,
            updated_at=ms_to_datetime(r.updated_at),
        )
        for r in rows
    ]
