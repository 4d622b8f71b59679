"""Writing a new version: its number, its rows, its lineage and its event, in one transaction.

The number comes from the group row's counter, incremented in the same transaction: the update
locks the row, so concurrent registrations in one group queue there and get consecutive numbers
(the unique constraint on (group, version) backs this up).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from slipway._kinds import ObjectKind
from slipway._time import now_ms
from slipway.events import record_change
from slipway.lineage import NodeRef, record_edges
from slipway.models import ModelInfo
from slipway.registry._records import ApprovalStatus, MetricValue
from slipway.registry._tables import model_groups, model_version_metrics, model_version_tags, model_versions


@dataclass(frozen=True)
class NewVersion:
    """A checked registration request for the package stored under ``id``.

    Attributes:
        source: ``(kind, id)`` of the run or step execution the model came from.
        metadata_json: the free-form metadata, already dumped to JSON.
    """

    id: str
    metrics: dict[str, MetricValue]
    tags: dict[str, str]
    metadata_json: str
    description: str | None
    source: tuple[str, str] | None


def insert_version(
    conn: Connection, group: Any, new: NewVersion, info: ModelInfo, who: str, content_hash: str
) -> int:
    """Number and write ``new`` in ``group`` (a group row); return its number.

    ``content_hash`` is the hash of the files the caller sealed in this transaction. Records the
    lineage edges group --contains--> version and source --registered_as--> version (whatever the
    source consumed stays reachable upstream through the source), an audit entry and the
    ``model_version.registered`` event.
    """
    now = now_ms()
    g = model_groups.c
    conn.execute(
        update(model_groups)
        .where(g.id == group.id)
        .values(last_version=g.last_version + 1, updated_by=who, updated_at=now)
    )
    number: int = conn.execute(select(g.last_version).where(g.id == group.id)).scalar_one()
    source_kind, source_id = new.source or (None, None)
    conn.execute(
        insert(model_versions).values(
            id=new.id,
            group_id=group.id,
            version=number,
            flavor=info.flavor,
            signature=info.signature.model_dump_json() if info.signature is not None else None,
            meta=new.metadata_json,
            description=new.description,
            source_kind=source_kind,
            source_id=source_id,
            status=ApprovalStatus.PENDING.value,
            content_hash=content_hash,
            archived=False,
            registered_by=who,
            created_at=now,
            updated_by=who,
            updated_at=now,
        )
    )
    if new.metrics:
        conn.execute(
            insert(model_version_metrics),
            [{"version_id": new.id, "name": name, "value": m.value, "std": m.std} for name, m in new.metrics.items()],
        )
    if new.tags:
        conn.execute(
            insert(model_version_tags), [{"version_id": new.id, "key": k, "value": v} for k, v in new.tags.items()]
        )
    node = NodeRef(ObjectKind.MODEL_VERSION, new.id, f"{group.name}/{number}")
    edges = [(NodeRef(ObjectKind.MODEL_GROUP, group.id, group.name), node, "contains")]
    if new.source is not None:
        edges.append((NodeRef(*new.source), node, "registered_as"))
    record_edges(conn, edges)
    record_change(
        conn,
        action="model_version.register",
        object_kind=ObjectKind.MODEL_VERSION,
        object_id=new.id,
        event_type="model_version.registered",
        payload={
            "group": group.name,
            "version": number,
            "flavor": info.flavor,
            "source_kind": source_kind,
            "source_id": source_id,
            "content_hash": content_hash,
        },
    )
    return number
