"""Approval status changes: a compare-and-set on the version row plus its history entry.

A change is applied only if the version still has the status the caller read
(``UPDATE ... WHERE status = :seen``). Two writers that read the same status cannot both win:
the second one's update matches no row (on PostgreSQL it waits for the first to commit, then
re-checks the condition), so it re-reads and tries again. Every change that lands therefore has
one history entry whose ``from_status`` is the status it really replaced.
"""

from __future__ import annotations

from sqlalchemy import Connection, Row, insert, select, update

from slipway._kinds import ObjectKind
from slipway._principal import Principal
from slipway._time import ms_to_datetime, now_ms
from slipway.events import record_change
from slipway.registry._records import ApprovalStatus, ModelVersion, StatusChange
from slipway.registry._tables import model_status_history, model_versions


def compare_and_set_status(
    conn: Connection,
    seen: ModelVersion,
    to: ApprovalStatus,
    comment: str | None,
    who: Principal,
    approved_content_hash: str | None = None,
) -> bool:
    """Move ``seen`` to ``to`` if its status is still ``seen.status``; False if it changed meanwhile.

    ``approved_content_hash`` is the hash of the files being approved (when ``to`` is Approved): it
    is kept on the version until the version leaves Approved. The audit entry records the hash of
    the files the change was about, whatever the change.
    """
    now = now_ms()
    v = model_versions.c
    swapped = conn.execute(
        update(model_versions)
        .where(v.id == seen.id, v.status == seen.status.value)
        .values(status=to.value, approved_content_hash=approved_content_hash, updated_by=who.name, updated_at=now)
    ).rowcount
    if not swapped:
        return False
    conn.execute(
        insert(model_status_history).values(
            version_id=seen.id,
            from_status=seen.status.value,
            to_status=to.value,
            comment=comment,
            changed_by=who.name,
            changed_at=now,
        )
    )
    record_change(
        conn,
        action="model_version.status",
        object_kind=ObjectKind.MODEL_VERSION,
        object_id=seen.id,
        event_type="model_version.status_changed",
        payload={
            "group": seen.group,
            "version": seen.version,
            "from": seen.status.value,
            "to": to.value,
            "comment": comment,
            "content_hash": seen.content_hash,
        },
        # The files the decision was about: `slipway audit verify` proves the entry unchanged since.
        details={"before": seen.status.value, "after": to.value, "content_hash": seen.content_hash},
    )
    return True


def status_changes(conn: Connection, version: Row[object], group: str) -> list[StatusChange]:
    """Every status change of ``version`` (a version row), oldest first."""
    h = model_status_history.c
    found = conn.execute(select(model_status_history).where(h.version_id == version.id).order_by(h.seq)).all()
    return [
        StatusChange(
            group=group,
            version=version.version,
            from_status=r.from_status,
            to_status=r.to_status,
            comment=r.comment,
            changed_by=r.changed_by,
            changed_at=ms_to_datetime(r.changed_at),
        )
        for r in found
    ]
