"""Remote mode of automation: :class:`AutomationService`'s methods over HTTP.

Each method sends one request and parses the record the service returns; the server's service
validates and raises, so embedded and remote callers get the same answers and errors. Actions
travel as their JSON form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from slipway.automation import (
    Action,
    ActionRun,
    GcReport,
    Hook,
    MissedRuns,
    RetentionPolicy,
    Rule,
    Schedule,
)
from slipway.client._http import HttpSession
from slipway.client._operations import parse as _parse

T = TypeVar("T")


def _action(action: Action | Mapping[str, Any]) -> Any:
    return action.to_dict() if isinstance(action, Action) else action


def _named(kind: str, name: str, rest: str = "") -> str:
    return f"/{kind}/{quote(str(name), safe='')}{rest}"


class RemoteAutomation:
    """Automation on a ``slipway server``: the same methods, records and errors as
    :class:`~slipway.automation.AutomationService`, which documents each of them."""

    def __init__(self, http: HttpSession) -> None:
        self._http = http

    def _call(self, kind: type[T], method: str, path: str, **request: Any) -> T:
        return _parse(kind, self._http.request(method, path, **request))

    # schedules
    def create_schedule(
        self, name: str, cron: str, action: Action | Mapping[str, Any], *,
        missed: MissedRuns | str = MissedRuns.CATCH_UP_ONE, paused: bool = False,
    ) -> Schedule:
        body = {"name": name, "cron": cron, "action": _action(action), "missed": str(missed), "paused": paused}
        return self._call(Schedule, "POST", "/schedules", json=body)

    def get_schedule(self, name: str) -> Schedule:
        return self._call(Schedule, "GET", _named("schedules", name))

    def list_schedules(self) -> list[Schedule]:
        return self._call(list[Schedule], "GET", "/schedules")

    def pause_schedule(self, name: str) -> Schedule:
        return self._call(Schedule, "POST", _named("schedules", name, "/pause"))

    def resume_schedule(self, name: str) -> Schedule:
        return self._call(Schedule, "POST", _named("schedules", name, "/resume"))

    def delete_schedule(self, name: str) -> None:
        self._http.request("DELETE", _named("schedules", name))

    def schedule_history(self, name: str, limit: int = 50) -> list[ActionRun]:
        return self._call(list[ActionRun], "GET", _named("schedules", name, "/history"), params={"limit": limit})

    def run_due_schedules(self) -> list[ActionRun]:
        return self._call(list[ActionRun], "POST", "/automation/run-due")

    # rules
    def create_rule(
        self, name: str, event: str, action: Action | Mapping[str, Any], filters: Mapping[str, Any] | None = None,
    ) -> Rule:
        body = {"name": name, "event": event, "action": _action(action), "filters": filters}
        return self._call(Rule, "POST", "/rules", json=body)

    def get_rule(self, name: str) -> Rule:
        return self._call(Rule, "GET", _named("rules", name))

    def list_rules(self) -> list[Rule]:
        return self._call(list[Rule], "GET", "/rules")

    def delete_rule(self, name: str) -> None:
        self._http.request("DELETE", _named("rules", name))

    def rule_history(self, name: str, limit: int = 50) -> list[ActionRun]:
        return self._call(list[ActionRun], "GET", _named("rules", name, "/history"), params={"limit": limit})

    def dispatch_pending(self) -> list[ActionRun]:
        return self._call(list[ActionRun], "POST", "/automation/dispatch")

    # hooks
    def create_hook(self, name: str, action: Action | Mapping[str, Any]) -> Hook:
        return self._call(Hook, "POST", "/hooks", json={"name": name, "action": _action(action)})

    def list_hooks(self) -> list[Hook]:
        return self._call(list[Hook], "GET", "/hooks")

    def delete_hook(self, name: str) -> None:
        self._http.request("DELETE", _named("hooks", name))

    def hook_history(self, name: str, limit: int = 50) -> list[ActionRun]:
        return self._call(list[ActionRun], "GET", _named("hooks", name, "/history"), params={"limit": limit})

    # runs, retention, gc
    def get_run(self, run_id: str) -> ActionRun:
        return self._call(ActionRun, "GET", _named("automation/runs", run_id))

    def get_retention(self) -> RetentionPolicy:
        return self._call(RetentionPolicy, "GET", "/automation/retention")

    def set_retention(self, *, keep_executions: int | None = None, capture_days: int | None = None) -> RetentionPolicy:
        body = {"keep_executions": keep_executions, "capture_days": capture_days}
        return self._call(RetentionPolicy, "PUT", "/automation/retention", json=body)

    def collect_garbage(self, *, dry_run: bool = False, grace_seconds: float = 3600.0) -> GcReport:
        body = {"dry_run": dry_run, "grace_seconds": grace_seconds}
        return self._call(GcReport, "POST", "/automation/gc", json=body)
