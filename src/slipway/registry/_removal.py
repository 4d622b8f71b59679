"""Deleting versions and groups, inside a transaction that holds the group's lock.

A deleted version leaves no row behind: its metrics, tags and status history go with it, each
alias it held is removed (written to the alias history and the audit trail as any alias move), and
its files are released to garbage collection. What stays is the audit trail (who deleted what,
when) and the lineage edges that name its id.

Nothing outside the registry may still use what is deleted. The registry cannot look (serving sits
above it and keeps its own tables), so whoever composes the services hands it a
:data:`VersionUsers` check; the backend's asks the serving domain which endpoints serve a version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, select

from slipway._kinds import ObjectKind
from slipway.errors import Conflict
from slipway.events import record_change
from slipway.registry._aliases import move_alias
from slipway.registry._queries import version_owner
from slipway.registry._tables import (
    model_alias_history,
    model_aliases,
    model_group_tags,
    model_groups,
    model_status_history,
    model_version_metrics,
    model_version_tags,
    model_versions,
)
from slipway.store.artifacts import release

VersionUsers = Callable[[Sequence[str]], Mapping[str, Sequence[str]]]
"""Which of the given version ids something outside the registry still uses, and what uses each:
``{version_id: ["endpoint 'abalone-prod'", ...]}`` (ids nothing uses may be left out)."""


def check_unused(users: VersionUsers | None, versions: Sequence[Any], what: str) -> None:
    """Refuse to delete ``versions`` (version rows) while anything uses one of them.

    Raises:
        Conflict: naming the first version in use and what uses it.
    """
    if users is None or not versions:
        return
    found = users([v.id for v in versions])
    for v in sorted(versions, key=lambda row: row.version):
        holders = list(found.get(v.id, ()))
        if holders:
            raise Conflict(
                f"{what} cannot be deleted: {v.group_name} version {v.version} is served by {', '.join(holders)}. "
                "Delete the endpoint, or move it to another model's version, first",
                field="version",
                details={"version": v.version, "used_by": holders},
            )


def held_aliases(conn: Connection, version_ids: Iterable[str]) -> list[str]:
    """The aliases the versions hold, sorted."""
    a = model_aliases.c
    return sorted(set(conn.execute(select(a.alias).where(a.version_id.in_(list(version_ids)))).scalars()))


def delete_version(conn: Connection, group: Any, row: Any) -> None:
    """Delete the version of ``row`` from ``group`` (a locked group row), with its aliases and files."""
    a = model_aliases.c
    for alias in conn.execute(select(a.alias).where(a.version_id == row.id).order_by(a.alias)).scalars().all():
        move_alias(conn, group, alias, None, f"{group.name} version {row.version} was deleted")
    for table in (model_version_metrics, model_version_tags, model_status_history):
        conn.execute(delete(table).where(table.c.version_id == row.id))
    conn.execute(delete(model_versions).where(model_versions.c.id == row.id))
    files = release(conn, version_owner(row.id))
    record_change(
        conn,
        action="model_version.delete",
        object_kind=ObjectKind.MODEL_VERSION,
        object_id=row.id,
        event_type="model_version.deleted",
        payload={"group": group.name, "version": row.version},
        details={"group": group.name, "version": row.version, "status": row.status, "files": files},
    )


def delete_group(conn: Connection, group: Any, versions: Sequence[Any]) -> None:
    """Delete ``group`` (a locked group row) and its ``versions`` (all of them), tags and alias history."""
    for row in sorted(versions, key=lambda r: r.version):
        delete_version(conn, group, row)
    conn.execute(delete(model_alias_history).where(model_alias_history.c.group_id == group.id))
    conn.execute(delete(model_group_tags).where(model_group_tags.c.group_id == group.id))
    conn.execute(delete(model_groups).where(model_groups.c.id == group.id))
    record_change(
        conn,
        action="model_group.delete",
        object_kind=ObjectKind.MODEL_GROUP,
        object_id=group.id,
        event_type="model_group.deleted",
        payload={"name": group.name},
        details={"name": group.name, "versions": [r.version for r in versions]},
    )
