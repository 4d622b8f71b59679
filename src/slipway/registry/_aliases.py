"""Alias moves and their history, inside a transaction that holds the group's lock.

The caller locks the group row first (``group_row(conn, name, lock=True)``), so the alias row's
update and its history entry are written by one mover at a time: the alias ends on exactly one
version, and the history is in the order the moves committed. History times never go backwards,
even when writers' clocks differ, so :func:`holder_at` answers "which version was ``prod`` on
date X" in that same order.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from slipway._kinds import ObjectKind
from slipway._principal import current_principal
from slipway._time import ms_to_datetime, now_ms
from slipway.events import record_change
from slipway.registry._records import AliasChange
from slipway.registry._tables import model_alias_history, model_aliases, model_versions
from slipway.store import upsert


def version_numbers(conn: Connection, version_ids: set[str]) -> dict[str, int]:
    """Version id -> number, for the ids given."""
    v = model_versions.c
    return {row.id: row.version for row in conn.execute(select(v.id, v.version).where(v.id.in_(version_ids)))}


def move_alias(conn: Connection, group: Any, alias: str, version_id: str | None, comment: str | None) -> bool:
    """Point ``alias`` of ``group`` (a locked group row) at ``version_id``, or remove it for None.

    Returns:
        False if the alias already was where it is asked to be (nothing is recorded).
    """
    a, h = model_aliases.c, model_alias_history.c
    previous = conn.execute(select(a.version_id).where(a.group_id == group.id, a.alias == alias)).scalar()
    if previous == version_id:
        return False
    last = conn.execute(select(func.max(h.changed_at)).where(h.group_id == group.id)).scalar()
    at, who = max(now_ms(), last or 0), current_principal().name
    if version_id is None:
        conn.execute(delete(model_aliases).where(a.group_id == group.id, a.alias == alias))
    else:
        row = {"group_id": group.id, "alias": alias, "version_id": version_id, "updated_by": who, "updated_at": at}
        upsert(
            conn, model_aliases, [row], keys=("group_id", "alias"), update=("version_id", "updated_by", "updated_at")
        )
    conn.execute(
        insert(model_alias_history).values(
            group_id=group.id,
            alias=alias,
            version_id=version_id,
            previous_version_id=previous,
            comment=comment,
            changed_by=who,
            changed_at=at,
        )
    )
    numbers = version_numbers(conn, {i for i in (version_id, previous) if i is not None})
    payload = {
        "group": group.name,
        "alias": alias,
        "version": numbers.get(version_id or ""),
        "previous_version": numbers.get(previous or ""),
        "comment": comment,
    }
    record_change(
        conn,
        action="model_version.alias",
        object_kind=ObjectKind.MODEL_VERSION,
        object_id=version_id or previous or group.id,
        event_type="model_version.alias_moved",
        payload=payload,
        details=payload,
    )
    return True


def alias_changes(conn: Connection, group: Any, alias: str) -> list[AliasChange]:
    """Every move of ``alias`` in ``group`` (a group row), oldest first."""
    h = model_alias_history.c
    query = select(model_alias_history).where(h.group_id == group.id, h.alias == alias)
    found = conn.execute(query.order_by(h.changed_at, h.seq)).all()
    numbers = version_numbers(conn, {i for r in found for i in (r.version_id, r.previous_version_id) if i})
    return [
        AliasChange(
            group=group.name,
            alias=alias,
            version=numbers.get(r.version_id or ""),
            previous_version=numbers.get(r.previous_version_id or ""),
            comment=r.comment,
            changed_by=r.changed_by,
            changed_at=ms_to_datetime(r.changed_at),
        )
        for r in found
    ]


def holder_at(conn: Connection, group: Any, alias: str, at: int) -> str | None:
    """The id of the version ``alias`` pointed at at ``at`` (ms since the epoch); None if unset then."""
    h = model_alias_history.c
    return conn.execute(
        select(h.version_id)
        .where(h.group_id == group.id, h.alias == alias, h.changed_at <= at)
        .order_by(h.changed_at.desc(), h.seq.desc())
        .limit(1)
    ).scalar()
