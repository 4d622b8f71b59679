"""Reading the outbox: the domain events that :func:`~slipway.events.record_change` published.

The outbox is this package's table; a domain that reacts to events (automation's rules) reads it
through these functions, in its own transaction, by sequence number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from slipway.events._tables import events


@dataclass(frozen=True)
class OutboxEvent:
    """One published event, as stored.

    Attributes:
        seq: its position in the outbox (increasing).
        created_at: milliseconds since the epoch.
        payload: the fields the publisher gave.
    """

    seq: int
    id: str
    type: str
    object_kind: str
    object_id: str
    actor: str
    payload: dict[str, Any]
    created_at: int


def last_event_seq(conn: Connection) -> int:
    """The sequence number of the newest event (0 for an empty outbox)."""
    return int(conn.execute(select(func.max(events.c.seq))).scalar() or 0)


def events_after(conn: Connection, event_type: str, after_seq: int, limit: int) -> list[OutboxEvent]:
    """Up to ``limit`` events of ``event_type`` published after ``after_seq``, oldest first."""
    e = events.c
    rows = conn.execute(
        select(events).where(e.type == event_type, e.seq > after_seq).order_by(e.seq).limit(limit)
    ).all()
    return [
        OutboxEvent(seq=r.seq, id=r.id, type=r.type, object_kind=r.object_kind, object_id=r.object_id,
                    actor=r.actor, payload=json.loads(r.payload), created_at=r.created_at)
        for r in rows
    ]
