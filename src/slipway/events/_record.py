"""The one way a change is recorded: a domain event in the outbox and an audit entry.

Call :func:`record_change` with the connection of the transaction that makes the change, so the
change, its event and its audit entry commit or roll back together.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select

from slipway._ids import new_id
from slipway._kinds import ObjectKind
from slipway._principal import current_principal
from slipway._time import now_ms
from slipway.events._tables import audit_events, events
from slipway.store import Prepared

GENESIS_HASH = "0" * 64
_PG_AUDIT_LOCK = 0x5119_A0D1
_EVENT_COLUMNS = ("id", "type", "object_kind", "object_id", "actor", "payload", "created_at")
_AUDIT_COLUMNS = ("id", "at", "actor", "action", "object_kind", "object_id", "source", "details", "prev_hash", "hash")
# Every change of every domain passes here: compiled once, run through the driver.
_INSERT_EVENT = Prepared(insert(events).values({c: bindparam(c) for c in _EVENT_COLUMNS}))
_INSERT_AUDIT = Prepared(insert(audit_events).values({c: bindparam(c) for c in _AUDIT_COLUMNS}))
_LAST_HASH = Prepared(select(audit_events.c.hash).order_by(audit_events.c.seq.desc()).limit(1))
_LOCK_AUDIT = Prepared(select(func.pg_advisory_xact_lock(bindparam("k"))))
_HEAD = "slipway.audit_head"  # in a connection's info: (transaction, hash of the entry it appended last)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, allow_nan=True)


def audit_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """The chain link: sha256 over the previous hash and the entry's canonical JSON."""
    return hashlib.sha256((prev_hash + _canonical(entry)).encode()).hexdigest()


def record_change(
    conn: Connection,
    *,
    action: str,
    object_kind: ObjectKind,
    object_id: str,
    event_type: str | None = None,
    payload: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append an audit entry for ``action`` and, when ``event_type`` is given, publish an event.

    Args:
        conn: the connection of the write transaction that makes the change.
        action: what was done, e.g. ``experiment.create``.
        object_kind, object_id: what it was done to.
        event_type: the domain event to publish (``model_version.registered``); None for none.
        payload: the event's data, for rules that act on it.
        details: small before/after values for the audit entry.
    """
    principal = current_principal()
    at = now_ms()
    if event_type is not None:
        _INSERT_EVENT(
            conn,
            {
                "id": new_id(),
                "type": event_type,
                "object_kind": object_kind,
                "object_id": object_id,
                "actor": principal.name,
                "payload": _canonical(payload or {}),
                "created_at": at,
            },
        )
    transaction = conn.get_transaction()
    head = conn.info.get(_HEAD)
    if head is not None and head[0] is transaction:
        # This transaction appended the chain's last entry: it holds the chain (the lock below, or
        # SQLite's write lock) until it ends, so that entry is still the last.
        prev = head[1]
    else:
        if conn.dialect.name == "postgresql":
            # Serialise chain appends; SQLite writers are already serialised by BEGIN IMMEDIATE.
            _LOCK_AUDIT(conn, {"k": _PG_AUDIT_LOCK}).fetchall()
        last = _LAST_HASH(conn, {}).fetchone()
        prev = None if last is None else last[0]
    entry: dict[str, Any] = {
        "id": new_id(),
        "at": at,
        "actor": principal.name,
        "action": action,
        "object_kind": object_kind,
        "object_id": object_id,
        "source": principal.source,
        "details": _canonical(details or {}),
    }
    prev_hash = prev or GENESIS_HASH
    link = audit_hash(prev_hash, entry)
    _INSERT_AUDIT(conn, {**entry, "prev_hash": prev_hash, "hash": link})
    conn.info[_HEAD] = (transaction, link)


_ENTRY_FIELDS = ("id", "at", "actor", "action", "object_kind", "object_id", "source", "details")


def first_broken_audit_entry(conn: Connection) -> int | None:
    """Walk the chain; return the ``seq`` of the first entry edited, inserted or deleted behind
    its back (its link no longer matches), or None when the whole chain holds."""
    prev = GENESIS_HASH
    for row in conn.execute(select(audit_events).order_by(audit_events.c.seq)).mappings():
        entry = {k: row[k] for k in _ENTRY_FIELDS}
        if row["prev_hash"] != prev or audit_hash(prev, entry) != row["hash"]:
            return int(row["seq"])
        prev = row["hash"]
    return None
