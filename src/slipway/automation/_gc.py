"""Storage hygiene: retention policies, and a garbage collector for blobs nothing refers to.

Every stored file is an owner's path pointing at a content-addressed blob (see
:mod:`slipway.store.artifacts`), so "what refers to a blob" is exactly "which paths name its
sha256"; the store's :class:`~slipway.store.artifacts.BlobCollector` answers that. The collector
works in three passes:

1. **Retention**: per pipeline, finished executions beyond the newest ``keep_executions`` go
   (their rows, step records and files); which ones is the pipelines service's rule
   (:meth:`~slipway.pipelines.PipelineService.expired_executions`, which keeps one whose step
   results a kept execution reuses from the cache), and it deletes them. The shared Optuna
   studies of Tuning steps go with their execution (this one's, or one deleted before): the
   pipelines service lists and deletes them too (``stale_studies``). Captured endpoint traffic
   older than ``capture_days`` goes. So does a job's staged input (:class:`~slipway.store.JobInputs`)
   older than the grace period that no job still to run names: the API staged it and died before
   queuing its job, or stopped awaiting a job that never ran.
2. **Unreferenced blobs**: a blob no row names any more, unreferenced for longer than the grace
   period, is deleted from the database and the storage. Each is deleted in a transaction that
   checks again that no row names it, so a blob a live object refers to is never deleted.
3. **Stray objects**: an object under ``blobs/`` with no blob row is an upload whose record never
   came (a crash between the two). One is deleted only when a previous collection already saw it
   more than the grace period ago, so an upload in flight is never taken for litter.

A dry run reports the same list, with sizes, and changes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from slipway._kinds import ObjectKind
from slipway._operations import JOB_INPUT
from slipway._principal import current_principal
from slipway._time import now_ms
from slipway.automation._records import GcItem, GcReport, RetentionPolicy
from slipway.automation._tables import automation_retention, automation_stray_blobs
from slipway.errors import InvalidInput, NotFound
from slipway.events import record_change
from slipway.store import Database, JobInputs, JobQueue, insert_ignore, upsert
from slipway.store.artifacts import ArtifactStore, BlobCollector, Owner, StoredFile

if TYPE_CHECKING:
    from slipway.automation._actions import Services

_CAPTURE_PREFIX = "capture/"
_DAY_MS = 86_400_000
# Far beyond any real policy, yet small enough for a 64-bit column and for day arithmetic in ms.
_RETENTION_LIMITS = {"keep_executions": 1_000_000, "capture_days": 36_500}


class GarbageCollector:
    """Applies the retention policy and frees unreferenced blobs of one store."""

    def __init__(self, db: Database, artifacts_store: ArtifactStore, services: Services) -> None:
        self._db = db
        self._services = services
        self._artifacts = artifacts_store
        self._blobs = BlobCollector(db, artifacts_store.storage)

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
        inputs = self._orphaned_inputs(cutoff)
        doomed = [ref for refs in (*executions.values(), *captures.values(), *inputs.values()) for ref in refs]
        sizes = self._blobs.sizes(doomed)
        items += [GcItem(kind="pipeline_execution", name=name, size=sum(sizes[r] for r in refs))
                  for (name, _id), refs in executions.items()]
        items += [GcItem(kind="capture", name=name, size=sum(sizes[r] for r in refs))
                  for name, refs in captures.items()]
        items += [GcItem(kind="job_input", name=name, size=sum(sizes[r] for r in refs))
                  for name, refs in inputs.items()]
        freed = self._blobs.freed_blobs(doomed, cutoff)
        strays = self._strays(now, cutoff, record=not dry_run)
        pipelines = self._services.pipelines
        studies = pipelines.stale_studies([execution_id for _name, execution_id in executions])
        if not dry_run:
            for _name, execution_id in executions:
                with contextlib.suppress(NotFound):  # deleted meanwhile
                    pipelines.delete_execution(execution_id, reason="retention")
            studies = [s for s in pipelines.stale_studies() if self._deleted_study(s)]  # their executions gone
            self._blobs.delete_files([ref for refs in (*captures.values(), *inputs.values()) for ref in refs])
            freed = {sha: size for sha, size in freed.items() if self._blobs.delete_blob(sha)}
            strays = [(key, size) for key, size in strays if self._blobs.delete_stray(key)]
            with self._db.write() as conn:
                if strays:
                    conn.execute(delete(automation_stray_blobs).where(
                        automation_stray_blobs.c.key.in_([k for k, _ in strays])))
                if items or freed or strays or studies:
                    record_change(conn, action="gc.collect", object_kind=ObjectKind.STORE, object_id="artifacts",
                                  details={"items": len(items), "blobs": len(freed), "strays": len(strays),
                                           "studies": len(studies)})
        items += [GcItem(kind="optuna_study", name=name, size=0) for name in studies]
        items += [GcItem(kind="blob", name=sha, size=size) for sha, size in sorted(freed.items())]
        items += [GcItem(kind="stray_blob", name=key, size=size) for key, size in strays]
        return GcReport(dry_run=dry_run, items=items, freed_bytes=sum(freed.values()) + sum(s for _, s in strays))

    # ------------------------------------------------------------------------------- passes

    def _deleted_study(self, name: str) -> bool:
        try:
            self._services.pipelines.delete_study(name)
        except NotFound:  # deleted meanwhile
            return False
        return True

    def _expired_executions(self, keep: int) -> dict[tuple[str, str], list[StoredFile]]:
        """(``pipeline/execution``, id) -> the files it keeps, for the executions the pipelines service expires."""
        expired = self._services.pipelines.expired_executions(keep)
        files = self._blobs.files_of([Owner(*owner) for e in expired for owner in e.owners])
        execution_of = {owner: e.id for e in expired for owner in e.owners}
        kept: dict[str, list[StoredFile]] = defaultdict(list)
        for f in files:
            kept[execution_of[(f.owner_kind, f.owner_id)]].append(f)
        return {(e.name, e.id): kept[e.id] for e in expired}

    def _expired_captures(self, before_ms: int) -> dict[str, list[StoredFile]]:
        """``endpoint <id>: capture/YYYY/MM/DD/HH`` -> its files, for hours that ended before ``before_ms``."""
        hours: dict[str, list[StoredFile]] = defaultdict(list)
        for ref in self._blobs.files_below(ObjectKind.ENDPOINT, _CAPTURE_PREFIX):
            owner_id, path = ref.owner_id, ref.path
            parts = path.split("/")
            try:
                year, month, day, hour_of_day = (int(p) for p in parts[1:5])
                hour = dt.datetime(year, month, day, hour_of_day, tzinfo=dt.UTC)
            except (TypeError, ValueError):
                continue  # not a capture file of the hourly layout: not ours to judge
            if (hour.timestamp() + 3600) * 1000 <= before_ms:
                hours[f"endpoint {owner_id}: {'/'.join(parts[:5])}"].append(ref)
        return dict(hours)

    def _orphaned_inputs(self, cutoff: int) -> dict[str, list[StoredFile]]:
        """Job input id -> its files, for the inputs staged before ``cutoff`` that no job still to run names."""
        staged = JobInputs(self._db, self._artifacts).staged_before(cutoff)
        in_use = JobQueue(self._db, 0).inputs_in_use()  # read after the staged ones: a job queued since keeps its own
        orphans = [i for i in staged if i not in in_use]
        files: dict[str, list[StoredFile]] = {i: [] for i in orphans}
        for f in self._blobs.files_of([Owner(JOB_INPUT, i) for i in orphans]):
            files[f.owner_id].append(f)
        return files

    def _strays(self, now: int, cutoff: int, *, record: bool) -> list[tuple[str, int]]:
        """Objects under ``blobs/`` with no blob row, first seen before ``cutoff``: (key, size)."""
        stray = self._blobs.stray_keys()
        with self._db.read() as conn:
            sightings = {r.key: r.first_seen_at for r in conn.execute(select(automation_stray_blobs))}
        if record:
            with self._db.write() as conn:
                insert_ignore(conn, automation_stray_blobs,
                              [{"key": k, "first_seen_at": now} for k in stray if k not in sightings])
                gone = [k for k in sightings if k not in stray]
                if gone:
                    conn.execute(delete(automation_stray_blobs).where(automation_stray_blobs.c.key.in_(gone)))
        due = [k for k in sorted(stray) if k in sightings and sightings[k] <= cutoff]
        return [(k, self._blobs.object_size(k)) for k in due]
