"""Storage hygiene: retention policies, and a garbage collector for blobs nothing refers to.

Every stored file is a row of the ``artifacts`` table (an owner's path) pointing at a
content-addressed blob (see :mod:`slipway.store.artifacts`), so "what refers to a blob" is exactly
"which rows name its sha256". The collector works in three passes:

1. **Retention**: per pipeline, finished executions beyond the newest ``keep_executions`` go
   (their rows, step records and files), except one whose step results a kept execution reuses
   from the cache; captured endpoint traffic older than ``capture_days`` goes.
2. **Unreferenced blobs**: a blob no row names any more, unreferenced for longer than the grace
   period, is deleted from the database and the storage. Each is deleted in a transaction that
   checks again that no row names it, so a blob a live object refers to is never deleted.
3. **Stray objects**: an object under ``blobs/`` with no blob row is an upload whose record never
   came (a crash between the two). One is deleted only when a previous collection already saw it
   more than the grace period ago, so an upload in flight is never taken for litter.

A dry run reports the same list, with sizes, and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import delete, exists, func, select, tuple_

from slipway._kinds import ObjectKind
from slipway._principal import current_principal
from slipway._time import now_ms
from slipway.automation._records import GcItem, GcReport, RetentionPolicy
from slipway.automation._tables import automation_retention, automation_stray_blobs
from slipway.errors import InvalidInput, NotFound
from slipway.events import record_change
from slipway.pipelines._tables import (
    pipeline_executions,
    pipeline_step_artifacts,
    pipeline_step_executions,
    pipelines,
)
from slipway.store import Database, insert_ignore, upsert
from slipway.store.artifacts import ArtifactStore, blob_key, lock_blobs
from slipway.store.artifacts._tables import artifacts, blobs

_TERMINAL = ("Succeeded", "Failed", "Stopped")
_CAPTURE_PREFIX = "capture/"
_DAY_MS = 86_400_000
# Far beyond any real policy, yet small enough for a 64-bit column and for day arithmetic in ms.
_RETENTION_LIMITS = {"keep_executions": 1_000_000, "capture_days": 36_500}
_Ref = tuple[str, str, str]  # owner kind, owner id, path


class GarbageCollector:
    """Applies the retention policy and frees unreferenced blobs of one store."""

    def __init__(self, db: Database, artifacts_store: ArtifactStore) -> None:
        self._db = db
        self._storage = artifacts_store.storage

    # -------------------------------------------------------------------------------- policy

    def set_retention(self, *, keep_executions: int | None = None, capture_days: int | None = None) -> RetentionPolicy:
        """Store the limits given (None leaves one as it is, 0 removes it)."""
        given = {"keep_executions": keep_executions, "capture_days": capture_days}
        rows = []
        for kind, value in given.items():
            if value is None:
                continue
            if not isinstance(value, int) or not 0 <= value <= _RETENTION_LIMITS[kind]:
                limit = _RETENTION_LIMITS[kind]
                raise InvalidInput(f"{kind} must be a whole number from 0 to {limit} (0: keep everything)", field=kind)
            rows.append({"kind": kind, "value": value, "updated_by": current_principal().name, "updated_at": now_ms()})
        with self._db.write() as conn:
            upsert(conn, automation_retention, rows, keys=("kind",), update=("value", "updated_by", "updated_at"))
            record_change(conn, action="retention.set", object_kind=ObjectKind.RETENTION, object_id="store",
                          details={k: v for k, v in given.items() if v is not None})
        return self.get_retention()

    def get_retention(self) -> RetentionPolicy:
        with self._db.read() as conn:
            values = dict(conn.execute(select(automation_retention.c.kind, automation_retention.c.value)).all())
        return RetentionPolicy(**{k: (v or None) for k, v in values.items()})

    # ------------------------------------------------------------------------------- collect

    def collect(self, *, dry_run: bool = False, grace_seconds: float = 3600.0) -> GcReport:
        """Apply the retention policy and delete unreferenced blobs (or, dry, list what would go)."""
        if not 0 <= grace_seconds <= 100 * 365 * 86400:  # NaN and infinity fail too; ms must fit an integer
            raise InvalidInput("grace_seconds must be between 0 and 100 years", field="grace_seconds")
        now = now_ms()
        cutoff = now - int(grace_seconds * 1000)
        policy = self.get_retention()
        items: list[GcItem] = []
        executions = self._expired_executions(policy.keep_executions) if policy.keep_executions else {}
        captures = self._expired_captures(now - policy.capture_days * _DAY_MS) if policy.capture_days else {}
        doomed = [ref for refs in (*executions.values(), *captures.values()) for ref in refs]
        sizes = self._sizes(doomed)
        items += [GcItem(kind="pipeline_execution", name=name, size=sum(sizes[r] for r in refs))
                  for (name, _id), refs in executions.items()]
        items += [GcItem(kind="capture", name=name, size=sum(sizes[r] for r in refs))
                  for name, refs in captures.items()]
        freed = self._freed_blobs(doomed, cutoff)
        strays = self._strays(now, cutoff, record=not dry_run)
        if not dry_run:
            self._delete_executions(list(executions))
            self._delete_refs(doomed)
            freed = {sha: size for sha, size in freed.items() if self._delete_blob(sha)}
            strays = [(key, size) for key, size in strays if self._delete_stray(key)]
            with self._db.write() as conn:
                if strays:
                    conn.execute(delete(automation_stray_blobs).where(
                        automation_stray_blobs.c.key.in_([k for k, _ in strays])))
                if items or freed or strays:
                    record_change(conn, action="gc.collect", object_kind=ObjectKind.STORE, object_id="artifacts",
                                  details={"items": len(items), "blobs": len(freed), "strays": len(strays)})
        items += [GcItem(kind="blob", name=sha, size=size) for sha, size in sorted(freed.items())]
        items += [GcItem(kind="stray_blob", name=key, size=size) for key, size in strays]
        return GcReport(dry_run=dry_run, items=items, freed_bytes=sum(freed.values()) + sum(s for _, s in strays))

    # ------------------------------------------------------------------------------- passes

    def _expired_executions(self, keep: int) -> dict[tuple[str, str], list[_Ref]]:
        """(``pipeline/execution``, id) -> the files it owns, for executions past the newest ``keep``."""
        e, s, a = pipeline_executions.c, pipeline_step_executions.c, pipeline_step_artifacts.c
        with self._db.read() as conn:
            ranked = conn.execute(
                select(e.id, pipelines.c.name, e.status)
                .join(pipelines, pipelines.c.id == e.pipeline_id)
                .order_by(pipelines.c.name, e.created_at.desc(), e.id.desc())
            ).all()
            seen: dict[str, int] = defaultdict(int)
            old = []
            for row in ranked:
                seen[row.name] += 1
                if seen[row.name] > keep and row.status in _TERMINAL:
                    old.append((row.id, row.name))
            if not old:
                return {}
            old_ids = [i for i, _ in old]
            steps = conn.execute(select(s.id, s.execution_id).where(s.execution_id.in_(old_ids))).all()
            step_ids = [st.id for st in steps]
            # Step results of old executions that a kept execution reuses (cache hits) keep them alive.
            reused = set(conn.execute(
                select(s.cached_from).where(s.cached_from.in_(step_ids), s.execution_id.not_in(old_ids))
            ).scalars())
            reused |= set(conn.execute(
                select(a.owner_id).join(pipeline_step_executions, s.id == a.step_execution_id)
                .where(a.owner_kind == ObjectKind.STEP_EXECUTION, a.owner_id.in_(step_ids),
                       s.execution_id.not_in(old_ids))
            ).scalars())
            owner_of = {st.id: st.execution_id for st in steps}
            pinned = {owner_of[i] for i in reused if i in owner_of}
            owners = [(ObjectKind.STEP_EXECUTION, st.id) for st in steps if st.execution_id not in pinned]
            owners += [(ObjectKind.PIPELINE_EXECUTION, i) for i in old_ids if i not in pinned]
            refs = conn.execute(
                select(artifacts.c.owner_kind, artifacts.c.owner_id, artifacts.c.path)
                .where(tuple_(artifacts.c.owner_kind, artifacts.c.owner_id).in_(owners))
            ).all() if owners else []
        files: dict[str, list[_Ref]] = defaultdict(list)
        for kind, owner_id, path in refs:
            execution = owner_id if kind == ObjectKind.PIPELINE_EXECUTION else owner_of[owner_id]
            files[execution].append((kind, owner_id, path))
        return {(f"{name}/{i}", i): files.get(i, []) for i, name in old if i not in pinned}

    def _expired_captures(self, before_ms: int) -> dict[str, list[_Ref]]:
        """``endpoint <id>: capture/YYYY/MM/DD/HH`` -> its files, for hours that ended before ``before_ms``."""
        c = artifacts.c
        with self._db.read() as conn:
            rows = conn.execute(select(c.owner_id, c.path).where(
                c.owner_kind == ObjectKind.ENDPOINT, c.path.like(_CAPTURE_PREFIX + "%"))).all()
        hours: dict[str, list[_Ref]] = defaultdict(list)
        for owner_id, path in rows:
            parts = path.split("/")
            try:
                year, month, day, hour_of_day = (int(p) for p in parts[1:5])
                hour = dt.datetime(year, month, day, hour_of_day, tzinfo=dt.UTC)
            except (TypeError, ValueError):
                continue  # not a capture file of the hourly layout: not ours to judge
            if (hour.timestamp() + 3600) * 1000 <= before_ms:
                hours[f"endpoint {owner_id}: {'/'.join(parts[:5])}"].append((ObjectKind.ENDPOINT, owner_id, path))
        return dict(hours)

    def _sizes(self, refs: list[_Ref]) -> dict[_Ref, int]:
        if not refs:
            return {}
        c = artifacts.c
        found: dict[_Ref, int] = {}
        with self._db.read() as conn:
            for chunk in _chunks(refs):
                rows = conn.execute(select(c.owner_kind, c.owner_id, c.path, c.size)
                                    .where(tuple_(c.owner_kind, c.owner_id, c.path).in_(chunk))).all()
                found.update({(r.owner_kind, r.owner_id, r.path): r.size for r in rows})
        return defaultdict(int, found)

    def _freed_blobs(self, doomed: list[_Ref], cutoff: int) -> dict[str, int]:
        """Blobs nothing will refer to once ``doomed`` rows are gone: sha256 -> size."""
        c, b = artifacts.c, blobs.c
        with self._db.read() as conn:
            idle = conn.execute(select(b.sha256, b.size).where(
                b.created_at <= cutoff, ~exists().where(c.sha256 == b.sha256))).all()
            freed = {r.sha256: r.size for r in idle}
            if doomed:
                dropping: dict[str, int] = defaultdict(int)
                for chunk in _chunks(doomed):
                    for sha in conn.execute(select(c.sha256).where(
                            tuple_(c.owner_kind, c.owner_id, c.path).in_(chunk))).scalars():
                        dropping[sha] += 1
                for chunk in _chunks(list(dropping)):
                    counts = conn.execute(select(c.sha256, func.count(), b.size).join(blobs, b.sha256 == c.sha256)
                                          .where(c.sha256.in_(chunk)).group_by(c.sha256, b.size)).all()
                    freed.update({sha: size for sha, count, size in counts if count == dropping[sha]})
        return freed

    def _strays(self, now: int, cutoff: int, *, record: bool) -> list[tuple[str, int]]:
        """Objects under ``blobs/`` with no blob row, first seen before ``cutoff``: (key, size)."""
        keys = {key.rsplit("/", 1)[-1]: key for key in self._storage.iter_keys("blobs")}
        if not keys:
            return []
        with self._db.read() as conn:
            known: set[str] = set()
            for chunk in _chunks(list(keys)):
                known |= set(conn.execute(select(blobs.c.sha256).where(blobs.c.sha256.in_(chunk))).scalars())
            stray = {key for sha, key in keys.items() if sha not in known}
            sightings = {r.key: r.first_seen_at for r in conn.execute(select(automation_stray_blobs))}
        if record:
            with self._db.write() as conn:
                insert_ignore(conn, automation_stray_blobs,
                              [{"key": k, "first_seen_at": now} for k in stray if k not in sightings])
                gone = [k for k in sightings if k not in stray]
                if gone:
                    conn.execute(delete(automation_stray_blobs).where(automation_stray_blobs.c.key.in_(gone)))
        return [(k, self._size(k)) for k in sorted(stray) if sightings.get(k, now) <= cutoff and k in sightings]

    def _size(self, key: str) -> int:
        try:
            with self._storage.open_read(key) as src:
                return int(src.seek(0, 2))
        except NotFound:
            return 0

    # ------------------------------------------------------------------------------ deleting

    def _delete_executions(self, executions: list[tuple[str, str]]) -> None:
        for name, execution_id in executions:
            with self._db.write() as conn:
                conn.execute(delete(pipeline_executions).where(pipeline_executions.c.id == execution_id))
                record_change(conn, action="pipeline_execution.delete", object_kind=ObjectKind.PIPELINE_EXECUTION,
                              object_id=execution_id, details={"execution": name, "by": "retention"})

    def _delete_refs(self, refs: list[_Ref]) -> None:
        c = artifacts.c
        with self._db.write() as conn:
            for chunk in _chunks(refs):
                conn.execute(delete(artifacts).where(tuple_(c.owner_kind, c.owner_id, c.path).in_(chunk)))

    def _delete_stray(self, key: str) -> bool:
        """Delete a stray object unless, under the exclusive blob lock, a row for it has appeared."""
        with self._db.write() as conn:
            lock_blobs(conn, exclusive=True)
            recorded = conn.execute(select(blobs.c.sha256).where(blobs.c.sha256 == key.rsplit("/", 1)[-1])).first()
            if recorded is None:
                self._storage.delete(key)
        return recorded is None

    def _delete_blob(self, sha256: str) -> bool:
        """Delete a blob if, checked in the deleting transaction, no row names it; return whether it went.

        Row and object go under the exclusive blob lock, so a writer recording a path to this
        content meanwhile either comes first (and the blob stays) or finds it gone and uploads it
        again (see :func:`~slipway.store.artifacts.lock_blobs`).
        """
        with self._db.write() as conn:
            lock_blobs(conn, exclusive=True)
            gone = conn.execute(delete(blobs).where(
                blobs.c.sha256 == sha256, ~exists().where(artifacts.c.sha256 == sha256))).rowcount == 1
            if gone:
                self._storage.delete(blob_key(sha256))
        return bool(gone)


def _chunks(values: list[Any], size: int = 500) -> list[list[Any]]:
    return [values[i:i + size] for i in range(0, len(values), size)]
