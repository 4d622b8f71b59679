"""REST routes of the automation domain: schedules, rules, hooks, their runs, retention and GC.

Each route translates and calls :class:`~slipway.automation.AutomationService`, which checks the
cron expression, the event type, the filters and the action itself, so a remote caller gets the
error an embedded one gets, naming the same field. Actions travel as their JSON form
(``{"kind": "start_pipeline", "pipeline": ..., "parameters": {...}}``).

``POST /hooks/{name}`` (outside ``/api/v1``, as CI systems are configured with one URL) is the
incoming webhook: it is authenticated by its HMAC signature, not by an API token.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from slipway.automation import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ActionRun,
    AutomationService,
    GcReport,
    Hook,
    RetentionPolicy,
    Rule,
    Schedule,
)
from slipway.security import Permission
from slipway.server._guard import OPEN, needs
from slipway.server._operations import JSON_BODY_LIMIT


async def _automation(request: Request) -> AutomationService:
    service: AutomationService = request.app.state.backend.automation
    return service


Automation = Annotated[AutomationService, Depends(_automation)]
Limit = Annotated[int, Query(ge=1, le=1000)]
router = APIRouter(tags=["automation"], max_body_size=JSON_BODY_LIMIT)
hooks_router = APIRouter(tags=["automation"])

_ACTION = ('{"kind": "start_pipeline"|"deploy"|"move_alias"|"webhook"|"run_monitor", ...fields}; '
           'strings may use {event.<field>}')


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateSchedule(_Body):
    name: str
    cron: str = Field(description="five cron fields, UTC, e.g. '0 2 * * 1'")
    action: dict[str, Any] = Field(description=_ACTION)
    missed: str = Field("catch_up_one", description="skip | catch_up_one: occurrences missed during downtime")
    paused: bool = False


class CreateRule(_Body):
    name: str
    event: str = Field(description="an event type such as alarm.state_changed")
    action: dict[str, Any] = Field(description=_ACTION)
    filters: dict[str, Any] | None = Field(None, description="event field -> value or list of accepted values")


class CreateHook(_Body):
    name: str
    action: dict[str, Any] = Field(description=_ACTION)


class Collect(_Body):
    dry_run: bool = False
    grace_seconds: float = Field(3600.0, ge=0, description="unreferenced blobs younger than this stay")


class SetRetention(_Body):
    keep_executions: int | None = Field(None, description="per pipeline, newest finished executions kept; 0: all")
    capture_days: int | None = Field(None, description="days of captured traffic kept; 0: all")


# ------------------------------------------------------------------------------------- schedules


@router.post("/schedules", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def create_schedule(body: CreateSchedule, automation: Automation) -> Schedule:
    return automation.create_schedule(body.name, body.cron, body.action, missed=body.missed, paused=body.paused)


@router.get("/schedules", dependencies=[needs(Permission.READ)])
def list_schedules(automation: Automation) -> list[Schedule]:
    return automation.list_schedules()


@router.get("/schedules/{name}", dependencies=[needs(Permission.READ)])
def get_schedule(name: str, automation: Automation) -> Schedule:
    return automation.get_schedule(name)


@router.post("/schedules/{name}/pause", dependencies=[needs(Permission.WRITE)])
def pause_schedule(name: str, automation: Automation) -> Schedule:
    return automation.pause_schedule(name)


@router.post("/schedules/{name}/resume", dependencies=[needs(Permission.WRITE)])
def resume_schedule(name: str, automation: Automation) -> Schedule:
    return automation.resume_schedule(name)


@router.delete("/schedules/{name}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               dependencies=[needs(Permission.WRITE)])
def delete_schedule(name: str, automation: Automation) -> None:
    automation.delete_schedule(name)


@router.get("/schedules/{name}/history", dependencies=[needs(Permission.READ)])
def schedule_history(name: str, automation: Automation, limit: Limit = 50) -> list[ActionRun]:
    return automation.schedule_history(name, limit)


# ----------------------------------------------------------------------------------------- rules


@router.post("/rules", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def create_rule(body: CreateRule, automation: Automation) -> Rule:
    return automation.create_rule(body.name, body.event, body.action, body.filters)


@router.get("/rules", dependencies=[needs(Permission.READ)])
def list_rules(automation: Automation) -> list[Rule]:
    return automation.list_rules()


@router.get("/rules/{name}", dependencies=[needs(Permission.READ)])
def get_rule(name: str, automation: Automation) -> Rule:
    return automation.get_rule(name)


@router.delete("/rules/{name}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               dependencies=[needs(Permission.WRITE)])
def delete_rule(name: str, automation: Automation) -> None:
    automation.delete_rule(name)


@router.get("/rules/{name}/history", dependencies=[needs(Permission.READ)])
def rule_history(name: str, automation: Automation, limit: Limit = 50) -> list[ActionRun]:
    return automation.rule_history(name, limit)


# ----------------------------------------------------------------------------------------- hooks


@router.post("/hooks", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def create_hook(body: CreateHook, automation: Automation) -> Hook:
    """Create an incoming webhook; the answer holds its secret, shown this once."""
    return automation.create_hook(body.name, body.action)


@router.get("/hooks", dependencies=[needs(Permission.READ)])
def list_hooks(automation: Automation) -> list[Hook]:
    return automation.list_hooks()


@router.delete("/hooks/{name}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               dependencies=[needs(Permission.WRITE)])
def delete_hook(name: str, automation: Automation) -> None:
    automation.delete_hook(name)


@router.get("/hooks/{name}/history", dependencies=[needs(Permission.READ)])
def hook_history(name: str, automation: Automation, limit: Limit = 50) -> list[ActionRun]:
    return automation.hook_history(name, limit)


@hooks_router.post("/hooks/{name}", status_code=status.HTTP_202_ACCEPTED, dependencies=[needs(OPEN)])
async def receive_hook(name: str, request: Request) -> ActionRun:
    """An incoming webhook call, signed with the hook's secret (headers X-Slipway-Timestamp and
    X-Slipway-Signature); its JSON body is the event the action's templates read."""
    body = await request.body()
    automation: AutomationService = request.app.state.backend.automation
    # A header sent twice is joined into one value, which the strict parse then refuses.
    timestamp, signature = (",".join(request.headers.getlist(h)) or None for h in (TIMESTAMP_HEADER, SIGNATURE_HEADER))
    return await run_in_threadpool(automation.receive_hook, name, body, timestamp, signature)


# ------------------------------------------------------------------------- dispatch, retention, gc


@router.post("/automation/run-due", dependencies=[needs(Permission.ADMIN)])
def run_due_schedules(automation: Automation) -> list[ActionRun]:
    """Fire the schedules that are due now (what the server's scheduler does every few seconds)."""
    return automation.run_due_schedules()


@router.post("/automation/dispatch", dependencies=[needs(Permission.ADMIN)])
def dispatch_pending(automation: Automation) -> list[ActionRun]:
    """Match new events against the rules and run every ready action (as the scheduler does)."""
    return automation.dispatch_pending()


@router.get("/automation/runs/{run_id}", dependencies=[needs(Permission.READ)])
def get_run(run_id: str, automation: Automation) -> ActionRun:
    return automation.get_run(run_id)


@router.get("/automation/retention", dependencies=[needs(Permission.READ)])
def get_retention(automation: Automation) -> RetentionPolicy:
    return automation.get_retention()


@router.put("/automation/retention", dependencies=[needs(Permission.ADMIN)])
def set_retention(body: SetRetention, automation: Automation) -> RetentionPolicy:
    return automation.set_retention(keep_executions=body.keep_executions, capture_days=body.capture_days)


@router.post("/automation/gc", dependencies=[needs(Permission.ADMIN)])
def collect_garbage(body: Collect, automation: Automation) -> GcReport:
    """Apply the retention policy and free unreferenced blobs; ``dry_run`` lists what would go."""
    return automation.collect_garbage(dry_run=body.dry_run, grace_seconds=body.grace_seconds)
