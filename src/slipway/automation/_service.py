"""The automation service: schedules, event rules and incoming hooks, and the runs of their actions.

Rules read the events outbox (:mod:`slipway.events`): every change a service makes publishes an
event in the same transaction, so a rule sees every model registered, alias moved, alarm
changed, dataset version registered or pipeline finished, even those made while no server ran.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import Row, delete, select, update
from sqlalchemy.exc import IntegrityError

from slipway._ids import new_id
from slipway._kinds import ObjectKind
from slipway._names import SHORT_WORD
from slipway._operations import Api, Wire
from slipway._principal import current_principal
from slipway._time import datetime_to_ms, ms_to_datetime, now_ms
from slipway.automation._actions import Action, Services, Webhook, action_from_dict
from slipway.automation._cron import MissedRuns, check_cron, next_after, plan_fire
from slipway.automation._gc import GarbageCollector
from slipway.automation._hooks import verify
from slipway.automation._records import (
    ActionRun,
    GcReport,
    Hook,
    RetentionPolicy,
    Rule,
    RunStatus,
    Schedule,
)
from slipway.automation._runs import DEFAULT_LEASE_SECONDS, RunExecutor, new_run, to_record
from slipway.automation._tables import automation_hooks, automation_rules, automation_runs, automation_schedules
from slipway.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from slipway.events import OutboxEvent, events_after, last_event_seq, record_change
from slipway.security import Permission, requires
from slipway.store import Database
from slipway.store.artifacts import ArtifactStore

# The events rules may listen to, and the fields of their payloads filters and templates can use.
EVENT_TYPES: dict[str, str] = {
    "model_version.registered": "group, version, flavor, source_kind, source_id",
    "model_version.status_changed": "group, version, from, to (Approved, Rejected, PendingManualApproval)",
    "model_version.alias_moved": "group, alias, version, previous_version",
    "model_version.archived": "group, version",
    "model_version.deleted": "group, version",
    "model_group.renamed": "name, previous_name",
    "model_group.deleted": "name",
    "dataset_version.registered": "dataset, version, id, content_hash, num_rows",
    "alarm.state_changed": "alarm, monitor, metric, old_state, new_state (OK, ALARM, INSUFFICIENT_DATA), reason",
    "monitor_execution.completed": "monitor, execution, status, violations",
    "pipeline_execution.succeeded": "pipeline, version",
    "pipeline_execution.failed": "pipeline, version, failure_reason",
    "pipeline_execution.stopped": "pipeline, version",
    "deployment.succeeded": "name, deployment",
    "deployment.rolled_back": "name, deployment, reason",
    "endpoint.created": "name",
    "run.finished": "experiment, status",
}
# On PostgreSQL an event's sequence number is taken at insert and its transaction may commit
# later, after one with a higher number: rules rescan this much of the recent outbox so such an
# event is still seen. SQLite serialises writers, so there numbers commit in order.
_SETTLE_MS = {"postgresql": 60_000, "sqlite": 0}
_SCAN_BATCH = 1000
_ACTION = ('{"kind": "start_pipeline"|"deploy"|"move_alias"|"webhook"|"run_monitor", ...fields}; '
           'strings may use {event.<field>}')
# Actions travel as their JSON form; the service checks it, so a remote caller gets the same error naming the field.
ActionSpec = Annotated[
    Action | Mapping[str, Any],
    Wire(dict[str, Any], to_wire=lambda a: a.to_dict() if isinstance(a, Action) else a),
    Field(description=_ACTION),
]
Missed = Annotated[
    MissedRuns | str, Wire(str), Field(description="skip | catch_up_one: occurrences missed during downtime")
]
Filters = Annotated[Mapping[str, Any], Wire(dict[str, Any])]
Limit = Annotated[int, Field(ge=1, le=1000)]
api = Api("automation")  # the REST routes and remote methods derive from these declarations (slipway._operations)


class AutomationService:
    """Schedules, rules and hooks, and the dispatcher that runs their actions.

    ``slipway server`` calls :meth:`run_due_schedules` and :meth:`dispatch_pending` every few
    seconds from a scheduler thread; embedded code and tests call them when they like. Several
    processes may call them at once against one database: each schedule occurrence fires once and
    each (rule, event) runs its action once in effect.

    Example:
        >>> from slipway.automation import StartPipeline
        >>> auto = backend.automation
        >>> auto.create_rule("retrain-on-drift", "alarm.state_changed",
        ...                  StartPipeline("train", {"reason": "{event.alarm}"}), filters={"new_state": "ALARM"})
        >>> auto.dispatch_pending()       # runs the actions of every new matching event
    """

    def __init__(
        self, db: Database, artifacts: ArtifactStore, services: Services, *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self._db = db
        self._services = services
        self._runs = RunExecutor(db, services, lease_seconds)
        self._gc = GarbageCollector(db, artifacts, services)

    # ------------------------------------------------------------------------------ schedules

    @api.post("/schedules", status=201)
    @requires(Permission.WRITE)
    def create_schedule(
        self, name: str, cron: str, action: ActionSpec, *,
        missed: Missed = MissedRuns.CATCH_UP_ONE, paused: bool = False, now: dt.datetime | None = None,
    ) -> Schedule:
        """Create a schedule that runs ``action`` at each occurrence of ``cron`` (UTC).

        Args:
            name: unique name of the schedule.
            cron: five cron fields, UTC, e.g. '0 2 * * 1' (Mondays at 02:00).
            action: what to run (``StartPipeline``, ``RunMonitor``, ... or its JSON form).
            missed: what to do with occurrences missed while no scheduler ran (see :class:`MissedRuns`).
            paused: create it paused.
            now: the time the first occurrence follows; now when omitted.

        Raises:
            InvalidInput: for a bad name, cron expression, policy or action (naming it).
            AlreadyExists: if a schedule has that name.
        """
        name = SHORT_WORD.check(name)
        cron = check_cron(cron)
        policy = _missed(missed)
        body = self._action(action)
        at = _ms(now)
        row = {"id": new_id(), "name": name, "cron": cron, "action": json.dumps(body), "missed": policy.value,
               "paused": bool(paused), "next_run_at": next_after(cron, at), **_creator(), "created_at": at}
        try:
            with self._db.write() as conn:
                conn.execute(automation_schedules.insert().values(**row))
                record_change(conn, action="schedule.create", object_kind=ObjectKind.SCHEDULE, object_id=str(row["id"]),
                              details={"name": name, "cron": cron, "action": body})
        except IntegrityError:
            raise AlreadyExists(f"schedule {name!r} already exists", field="name") from None
        return self.get_schedule(name)

    @api.get("/schedules/{name}")
    @requires(Permission.READ)
    def get_schedule(self, name: str) -> Schedule:
        """Raises: NotFound if there is no schedule ``name``."""
        return _schedule(self._schedule_row(name))

    @api.get("/schedules")
    @requires(Permission.READ)
    def list_schedules(self) -> list[Schedule]:
        with self._db.read() as conn:
            rows = conn.execute(select(automation_schedules).order_by(automation_schedules.c.name)).all()
        return [_schedule(r) for r in rows]

    @api.post("/schedules/{name}/pause")
    @requires(Permission.WRITE)
    def pause_schedule(self, name: str) -> Schedule:
        """Stop firing until resumed; occurrences while paused are skipped."""
        return self._set_paused(name, True)

    @api.post("/schedules/{name}/resume", query=("now",))
    @requires(Permission.WRITE)
    def resume_schedule(self, name: str, now: dt.datetime | None = None) -> Schedule:
        """Fire again from the next occurrence after now (nothing missed while paused is caught up).

        Args:
            now: the time to resume at; now when omitted.
        """
        return self._set_paused(name, False, now)

    def _set_paused(self, name: str, paused: bool, now: dt.datetime | None = None) -> Schedule:
        row = self._schedule_row(name)
        values: dict[str, Any] = {"paused": paused}
        if not paused and row.paused:
            values["next_run_at"] = next_after(row.cron, _ms(now))
        with self._db.write() as conn:
            conn.execute(update(automation_schedules).where(automation_schedules.c.id == row.id).values(**values))
            record_change(conn, action="schedule.pause" if paused else "schedule.resume",
                          object_kind=ObjectKind.SCHEDULE, object_id=row.id, details={"name": name})
        return self.get_schedule(name)

    @api.delete("/schedules/{name}")
    @requires(Permission.WRITE)
    def delete_schedule(self, name: str) -> None:
        """Delete a schedule; the history of its runs stays.

        Raises:
            NotFound: if there is no schedule ``name``.
        """
        row = self._schedule_row(name)
        with self._db.write() as conn:
            conn.execute(delete(automation_schedules).where(automation_schedules.c.id == row.id))
            record_change(conn, action="schedule.delete", object_kind=ObjectKind.SCHEDULE, object_id=row.id,
                          details={"name": name})

    @api.get("/schedules/{name}/history")
    @requires(Permission.READ)
    def schedule_history(self, name: str, limit: Limit = 50) -> list[ActionRun]:
        """The schedule's runs, newest first."""
        return self._history(self._schedule_row(name).id, limit)

    @api.post("/automation/run-due", query=("now",), job=True)
    @requires(Permission.ADMIN)
    def run_due_schedules(self, now: dt.datetime | None = None) -> list[ActionRun]:
        """Fire every schedule whose next occurrence has come, and run the actions fired (what the
        server's scheduler does every few seconds).

        Each occurrence is claimed by moving the schedule's ``next_run_at`` forward with a
        compare-and-set, so when several schedulers share one database exactly one fires it.
        Occurrences missed while no scheduler ran follow the schedule's :class:`MissedRuns` policy.
        """
        at = _ms(now)
        s = automation_schedules.c
        with self._db.read() as conn:
            due = conn.execute(select(automation_schedules).where(s.paused.is_(False), s.next_run_at <= at)).all()
        fired = []
        for row in due:
            fire, following = plan_fire(row.cron, row.next_run_at, at, MissedRuns(row.missed))
            with self._db.write() as conn:
                won = conn.execute(
                    update(automation_schedules)
                    .where(s.id == row.id, s.next_run_at == row.next_run_at, s.paused.is_(False))
                    .values(next_run_at=following, **({"last_run_at": at} if fire else {}))
                ).rowcount == 1
                if won and fire:
                    event = {"type": "schedule.fired", "schedule": row.name, "cron": row.cron,
                             "scheduled_for": ms_to_datetime(row.next_run_at), "fired_at": ms_to_datetime(at)}
                    new_run(conn, key=f"schedule:{row.id}:{row.next_run_at}", source=(ObjectKind.SCHEDULE, row),
                            event=event)
                    fired.append(row.id)
        if not fired:
            return []
        with self._db.read() as conn:
            ids = conn.execute(select(automation_runs.c.id).where(
                automation_runs.c.source_id.in_(fired), automation_runs.c.status == RunStatus.PENDING.value)).scalars()
            pending = list(ids)
        return self._runs.run_ready(pending)

    # ---------------------------------------------------------------------------------- rules

    @api.post("/rules", status=201)
    @requires(Permission.WRITE)
    def create_rule(self, name: str, event: str, action: ActionSpec, filters: Filters | None = None) -> Rule:
        """Create a rule: on each new event of type ``event`` whose fields match ``filters``, run ``action``.

        A filter maps a field of the event to a value, or to a list of accepted values; values
        compare as text, so ``{"version": "3"}`` matches the version 3. Only events published
        after the rule was created trigger it.

        Args:
            name: unique name of the rule.
            event: an event type such as alarm.state_changed (see :data:`EVENT_TYPES`).
            action: what to run; its strings may name event fields as ``{event.<field>}``.
            filters: event field -> value or list of accepted values, e.g.
                ``{"new_state": "ALARM", "monitor": "churn-drift"}``.

        Raises:
            InvalidInput: for a bad name, an unknown event type, filters that are not an object,
                or a bad action.
            AlreadyExists: if a rule has that name.
        """
        name = SHORT_WORD.check(name)
        if event not in EVENT_TYPES:
            raise InvalidInput(f"unknown event type {event!r}; rules can listen to: {', '.join(EVENT_TYPES)}",
                               field="event")
        if filters is not None and not isinstance(filters, Mapping):
            raise InvalidInput("filters must be an object of field: value (or list of values)", field="filters")
        body = self._action(action)
        rule_id = new_id()
        try:
            with self._db.write() as conn:
                start = last_event_seq(conn)
                conn.execute(automation_rules.insert().values(
                    id=rule_id, name=name, event_type=event, filters=json.dumps(dict(filters or {})),
                    action=json.dumps(body), enabled=True, scanned_seq=start, **_creator(), created_at=now_ms(),
                ))
                record_change(conn, action="rule.create", object_kind=ObjectKind.RULE, object_id=rule_id,
                              details={"name": name, "event": event, "filters": dict(filters or {}), "action": body})
        except IntegrityError:
            raise AlreadyExists(f"rule {name!r} already exists", field="name") from None
        return self.get_rule(name)

    @api.get("/rules/{name}")
    @requires(Permission.READ)
    def get_rule(self, name: str) -> Rule:
        """Raises: NotFound if there is no rule ``name``."""
        return _rule(self._rule_row(name))

    @api.get("/rules")
    @requires(Permission.READ)
    def list_rules(self) -> list[Rule]:
        with self._db.read() as conn:
            return [_rule(r) for r in conn.execute(select(automation_rules).order_by(automation_rules.c.name))]

    @api.delete("/rules/{name}")
    @requires(Permission.WRITE)
    def delete_rule(self, name: str) -> None:
        """Delete a rule and its runs not yet started; the history of the others stays."""
        row = self._rule_row(name)
        r = automation_runs.c
        with self._db.write() as conn:
            conn.execute(delete(automation_rules).where(automation_rules.c.id == row.id))
            conn.execute(delete(automation_runs).where(r.source_id == row.id, r.status == RunStatus.PENDING.value,
                                                       r.attempts == 0))
            record_change(conn, action="rule.delete", object_kind=ObjectKind.RULE, object_id=row.id,
                          details={"name": name})

    @api.get("/rules/{name}/history")
    @requires(Permission.READ)
    def rule_history(self, name: str, limit: Limit = 50) -> list[ActionRun]:
        """The runs the rule's matching events caused, newest first."""
        return self._history(self._rule_row(name).id, limit)

    @api.post("/automation/dispatch", query=("limit",), job=True)
    @requires(Permission.ADMIN)
    def dispatch_pending(self, limit: int = 100) -> list[ActionRun]:
        """Match new outbox events against the rules, then run every action that is ready (as the
        server's scheduler does), at most ``limit`` of them.

        At-least-once and idempotent per (rule, event): each match is recorded before its action
        runs, keyed by the pair, so a crash neither loses a match nor runs it twice in effect.
        Returns the runs that ended (succeeded, failed, or were set to retry) in this call.
        """
        self._match_events()
        return self._runs.run_ready(limit=limit)

    def _match_events(self) -> None:
        with self._db.read() as conn:
            rules = conn.execute(select(automation_rules).where(automation_rules.c.enabled.is_(True))).all()
        settle = _SETTLE_MS.get(self._db.dialect, 0)
        for rule in rules:
            filters = json.loads(rule.filters)
            # Read first, write only when there is something new: a round with no new event takes no lock.
            with self._db.read() as conn:
                found = events_after(conn, rule.event_type, rule.scanned_seq, _SCAN_BATCH)
                matched = {f"rule:{rule.id}:{event.id}": (event, _event_fields(event)) for event in found}
                matched = {key: m for key, m in matched.items() if _matches(m[1], filters)}
                seen = set(conn.execute(select(automation_runs.c.key).where(
                    automation_runs.c.key.in_(list(matched)))).scalars()) if matched else set()
            # The cursor moves past the events all older than the horizon, up to the first newer one.
            horizon, settled = now_ms() - settle, rule.scanned_seq
            for event in found:
                if event.created_at > horizon:
                    break
                settled = event.seq
            fresh = {key: m for key, m in matched.items() if key not in seen}
            if not fresh and settled == rule.scanned_seq:
                continue
            with self._db.write() as conn:
                for key, (event, fields) in fresh.items():
                    new_run(conn, key=key, source=(ObjectKind.RULE, rule), event=fields, event_id=event.id)
                if settled > rule.scanned_seq:
                    conn.execute(update(automation_rules).where(
                        automation_rules.c.id == rule.id, automation_rules.c.scanned_seq < settled,
                    ).values(scanned_seq=settled))

    # ---------------------------------------------------------------------------------- hooks

    @api.post("/hooks", status=201)
    @requires(Permission.WRITE)
    def create_hook(self, name: str, action: ActionSpec) -> Hook:
        """Create an incoming webhook: ``POST /hooks/{name}`` signed with the returned secret runs ``action``.

        The secret is in the returned record only: keep it, it is never shown again. The JSON
        body of a call is the event the action's ``{event.<field>}`` references read.

        Raises:
            InvalidInput: for a bad name or action.
            AlreadyExists: if a hook has that name.
        """
        name = SHORT_WORD.check(name)
        body = self._action(action)
        secret = secrets.token_urlsafe(32)
        hook_id = new_id()
        try:
            with self._db.write() as conn:
                conn.execute(automation_hooks.insert().values(
                    id=hook_id, name=name, secret=secret, action=json.dumps(body), **_creator(), created_at=now_ms(),
                ))
                record_change(conn, action="hook.create", object_kind=ObjectKind.HOOK, object_id=hook_id,
                              details={"name": name, "action": body})
        except IntegrityError:
            raise AlreadyExists(f"hook {name!r} already exists", field="name") from None
        return _hook(self._hook_row(name)).model_copy(update={"secret": secret})

    @api.get("/hooks")
    @requires(Permission.READ)
    def list_hooks(self) -> list[Hook]:
        with self._db.read() as conn:
            return [_hook(r) for r in conn.execute(select(automation_hooks).order_by(automation_hooks.c.name))]

    @api.delete("/hooks/{name}")
    @requires(Permission.WRITE)
    def delete_hook(self, name: str) -> None:
        """Raises: NotFound if there is no hook ``name``."""
        row = self._hook_row(name)
        with self._db.write() as conn:
            conn.execute(delete(automation_hooks).where(automation_hooks.c.id == row.id))
            record_change(conn, action="hook.delete", object_kind=ObjectKind.HOOK, object_id=row.id,
                          details={"name": name})

    @api.get("/hooks/{name}/history")
    @requires(Permission.READ)
    def hook_history(self, name: str, limit: Limit = 50) -> list[ActionRun]:
        """The runs the hook's calls caused, newest first."""
        return self._history(self._hook_row(name).id, limit)

    def receive_hook(
        self, name: str, body: bytes, timestamp: str | None, signature: str | None, now: float | None = None,
    ) -> ActionRun:
        """Check a call of the hook ``name`` and run its action in this process (embedded use).

        A server answers ``POST /hooks/{name}`` with :meth:`accept_hook` instead, and a worker runs
        the action (:meth:`run_action`).

        Raises:
            NotFound: if there is no hook ``name``.
            Unauthenticated: for a missing, stale or wrong signature (see :mod:`._hooks`).
            Conflict: for a request already received (a replay).
            InvalidInput: for a body that is not a JSON object.
        """
        return self.run_action(self.accept_hook(name, body, timestamp, signature, now).id)

    def accept_hook(
        self, name: str, body: bytes, timestamp: str | None, signature: str | None, now: float | None = None,
    ) -> ActionRun:
        """Check a call of the hook ``name`` and record its run, ``Pending``, without running it.

        What ``POST /hooks/{name}`` does: the caller learns at once whether the call was accepted,
        and a worker runs the action (:meth:`run_action`; any dispatch round takes up a recorded
        run nobody ran). The run is in the hook's history from now on.

        Raises:
            NotFound: if there is no hook ``name``.
            Unauthenticated: for a missing, stale or wrong signature (see :mod:`._hooks`).
            Conflict: for a request already received (a replay).
            InvalidInput: for a body that is not a JSON object.
        """
        row = self._hook_row(name)
        signed = verify(row.secret, body, timestamp, signature, time.time() if now is None else now)
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError:
            raise InvalidInput("the body of a hook call must be JSON", field="body") from None
        if not isinstance(payload, dict):
            raise InvalidInput("the body of a hook call must be a JSON object", field="body")
        event = {**payload, "type": "hook.received", "hook": name, "body": payload}
        key = f"hook:{row.id}:{signed}"
        with self._db.write() as conn:
            if not new_run(conn, key=key, source=(ObjectKind.HOOK, row), event=event):
                raise Conflict("this signed request was already received; sign each call anew", field="signature")
            found = conn.execute(select(automation_runs).where(automation_runs.c.key == key)).one()
        return to_record(found)

    def run_action(self, run_id: str) -> ActionRun:
        """Run the action of the recorded run ``run_id`` now, if it is ready, as the run's creator.

        What a worker does with the job a hook call queues. A run another process holds, one
        waiting for its retry, or one that has ended is left as it is.

        Returns:
            The run as it ended (or was set to retry), or as it stands if this call did not run it.

        Raises:
            NotFound: if there is no run ``run_id``.
        """
        ran = self._runs.run_ready([run_id])
        return ran[0] if ran else self.get_run(run_id)

    # ----------------------------------------------------------------------------- runs, gc

    @api.get("/automation/runs/{run_id}")
    @requires(Permission.READ)
    def get_run(self, run_id: str) -> ActionRun:
        """Raises: NotFound if there is no run ``run_id``."""
        with self._db.read() as conn:
            row = conn.execute(select(automation_runs).where(automation_runs.c.id == run_id)).first()
        if row is None:
            raise NotFound(f"no automation run {run_id!r}", field="run")
        return to_record(row)

    @api.put("/automation/retention")
    @requires(Permission.ADMIN)
    def set_retention(self, *, keep_executions: int | None = None, capture_days: int | None = None) -> RetentionPolicy:
        """Set how long things are kept (see :class:`RetentionPolicy`); 0 removes a limit.

        The garbage collector applies the policy: ``slipway gc`` or :meth:`collect_garbage`.

        Args:
            keep_executions: per pipeline, newest finished executions kept; 0: all
            capture_days: days of captured traffic kept; 0: all
        """
        return self._gc.set_retention(keep_executions=keep_executions, capture_days=capture_days)

    @api.get("/automation/retention")
    @requires(Permission.READ)
    def get_retention(self) -> RetentionPolicy:
        return self._gc.get_retention()

    @api.post("/automation/gc", job=True)
    @requires(Permission.ADMIN)
    def collect_garbage(
        self, *, dry_run: bool = False, grace_seconds: Annotated[float, Field(ge=0)] = 3600.0
    ) -> GcReport:
        """Apply the retention policy, then delete blobs nothing refers to; see :class:`GarbageCollector`.

        Args:
            dry_run: list what would go, delete nothing.
            grace_seconds: unreferenced blobs younger than this stay
        """
        return self._gc.collect(dry_run=dry_run, grace_seconds=grace_seconds)

    # -------------------------------------------------------------------------------- helpers

    def _action(self, action: Action | Mapping[str, Any]) -> dict[str, Any]:
        """The JSON form of a valid action; a webhook's URL must be one the server may call."""
        checked = action_from_dict(action)
        if isinstance(checked, Webhook) and "{event." not in checked.url:
            self._services.urls.check_webhook(checked.url, field="url")
        return checked.to_dict()

    def _history(self, source_id: str, limit: int) -> list[ActionRun]:
        r = automation_runs.c
        with self._db.read() as conn:
            rows = conn.execute(select(automation_runs).where(r.source_id == source_id)
                                .order_by(r.created_at.desc(), r.id.desc()).limit(limit)).all()
        return [to_record(row) for row in rows]

    def _schedule_row(self, name: str) -> Row[Any]:
        return self._row(automation_schedules, "schedule", name)

    def _rule_row(self, name: str) -> Row[Any]:
        return self._row(automation_rules, "rule", name)

    def _hook_row(self, name: str) -> Row[Any]:
        return self._row(automation_hooks, "hook", name)

    def _row(self, table: Any, kind: str, name: str) -> Row[Any]:
        with self._db.read() as conn:
            row = conn.execute(select(table).where(table.c.name == name)).first()
        if row is None:
            raise NotFound(f"no {kind} {name!r}", field="name")
        return row


def _creator() -> dict[str, Any]:
    """Who creates a schedule, rule or hook: its actions will act as them (see ``_tables.py``)."""
    principal = current_principal()
    return {"created_by": principal.name, "created_roles": ",".join(sorted(principal.roles)),
            "created_account": principal.account}


def _event_fields(event: OutboxEvent) -> dict[str, Any]:
    """The fields filters and templates see: the payload's, then the event's own (which win)."""
    return {**event.payload, "id": event.id, "type": event.type, "object_kind": event.object_kind,
            "object_id": event.object_id, "actor": event.actor, "created_at": ms_to_datetime(event.created_at)}


def _matches(fields: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    for key, wanted in filters.items():
        if key not in fields:
            return False
        accepted = wanted if isinstance(wanted, list) else [wanted]
        if str(fields[key]) not in {str(a) for a in accepted}:
            return False
    return True


def _missed(value: MissedRuns | str) -> MissedRuns:
    try:
        return MissedRuns(value)
    except ValueError:
        raise InvalidInput(f"missed must be one of {', '.join(MissedRuns)}, not {value!r}", field="missed") from None


def _ms(at: dt.datetime | None) -> int:
    return now_ms() if at is None else datetime_to_ms(at, "now")


def _schedule(row: Row[Any]) -> Schedule:
    return Schedule(id=row.id, name=row.name, cron=row.cron, action=json.loads(row.action), missed=row.missed,
                    paused=row.paused, next_run_at=ms_to_datetime(row.next_run_at),
                    last_run_at=ms_to_datetime(row.last_run_at), created_by=row.created_by,
                    created_at=ms_to_datetime(row.created_at))


def _rule(row: Row[Any]) -> Rule:
    return Rule(id=row.id, name=row.name, event_type=row.event_type, filters=json.loads(row.filters),
                action=json.loads(row.action), enabled=row.enabled, created_by=row.created_by,
                created_at=ms_to_datetime(row.created_at))


def _hook(row: Row[Any]) -> Hook:
    return Hook(id=row.id, name=row.name, action=json.loads(row.action), created_by=row.created_by,
                created_at=ms_to_datetime(row.created_at))
