"""Reading the audit trail: entries filtered by who, what and when, and the check of its chain.

Entries are written only by :func:`slipway.events.record_change`; this module never changes them.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, computed_field
from sqlalchemy import Connection, func, select

from slipway._time import datetime_to_ms, ms_to_datetime
from slipway.events._record import first_broken_audit_entry
from slipway.events._tables import audit_events


class AuditEntry(BaseModel):
    """One change: who did what to which object, when, from where, with small before/after values."""

    model_config = ConfigDict(frozen=True)

    seq: int
    id: str
    at: dt.datetime
    actor: str
    action: str
    object_kind: str
    object_id: str
    source: str
    details: dict[str, Any]
    hash: str


class AuditCheck(BaseModel):
    """The result of walking the chain: how many entries, and the first one that does not hold."""

    model_config = ConfigDict(frozen=True)

    entries: int
    head: str | None = None  # the newest entry's hash: keep it elsewhere to detect later removal of the tail
    first_broken: AuditEntry | None = None
    first_broken_seq: int | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        """Every link holds."""
        return self.first_broken_seq is None


def _entry(row: Any) -> AuditEntry:
    try:
        details = json.loads(row.details)
    except ValueError:  # an edited row may hold anything; show it rather than fail the listing
        details = {"unparsed": row.details}
    at = ms_to_datetime(row.at)
    assert at is not None
    return AuditEntry(
        seq=row.seq,
        id=row.id,
        at=at,
        actor=row.actor,
        action=row.action,
        object_kind=row.object_kind,
        object_id=row.object_id,
        source=row.source,
        details=details if isinstance(details, dict) else {"value": details},
        hash=row.hash,
    )


def audit_entries(
    conn: Connection,
    *,
    actor: str | None = None,
    object_id: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """The newest ``limit`` entries matching every filter given, oldest first.

    Args:
        actor: only changes made by this user.
        object_id: only changes to this object.
        since, until: only entries at or after ``since`` and before ``until`` (aware datetimes).
    """
    a = audit_events.c
    query = select(audit_events)
    if actor is not None:
        query = query.where(a.actor == actor)
    if object_id is not None:
        query = query.where(a.object_id == object_id)
    if since is not None:
        query = query.where(a.at >= datetime_to_ms(since, "since"))
    if until is not None:
        query = query.where(a.at < datetime_to_ms(until, "until"))
    rows = conn.execute(query.order_by(a.seq.desc()).limit(limit)).all()
    return [_entry(row) for row in reversed(rows)]


def check_audit_chain(conn: Connection) -> AuditCheck:
    """Walk the whole chain (see :func:`first_broken_audit_entry`) and describe what was found."""
    count = conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
    head = conn.execute(select(audit_events.c.hash).order_by(audit_events.c.seq.desc()).limit(1)).scalar()
    seq = first_broken_audit_entry(conn)
    if seq is None:
        return AuditCheck(entries=count, head=head)
    row = conn.execute(select(audit_events).where(audit_events.c.seq == seq)).one()
    return AuditCheck(entries=count, head=head, first_broken=_entry(row), first_broken_seq=seq)


def holds_hash(conn: Connection, hash_: str) -> bool:
    """Whether an entry with this hash is still in the trail (a head recorded earlier must be)."""
    return conn.execute(select(audit_events.c.seq).where(audit_events.c.hash == hash_)).first() is not None
