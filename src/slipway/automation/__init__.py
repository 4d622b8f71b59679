"""Automation: cron schedules, event rules, incoming webhooks, and storage hygiene.

The loop that runs without anyone: a schedule retrains every Monday, a rule starts retraining
when a drift alarm goes to ALARM or a new dataset version is registered, a CI system calls a
signed webhook after a push, and a garbage collector keeps the store from growing for ever.

Example:
    >>> from slipway.automation import MoveAlias, StartPipeline
    >>> auto = backend.automation
    >>> auto.create_schedule("weekly-retrain", "0 2 * * 1", StartPipeline("train", {"epochs": 10}))
    >>> auto.create_rule("stage-approved", "model_version.status_changed",
    ...                  MoveAlias("{event.group}", "staging", "{event.version}"), filters={"to": "Approved"})
    >>> auto.run_due_schedules(); auto.dispatch_pending()   # what `slipway server` does every few seconds
"""

from slipway.automation._actions import (
    ACTIONS,
    Action,
    CollectGarbage,
    Deploy,
    MoveAlias,
    RunMonitor,
    StartPipeline,
    Webhook,
    action_from_dict,
)
from slipway.automation._cron import MissedRuns, check_cron
from slipway.automation._hooks import MAX_SKEW_SECONDS, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_hook
from slipway.automation._records import (
    ActionRun,
    GcItem,
    GcReport,
    Hook,
    RetentionPolicy,
    Rule,
    RunStatus,
    Schedule,
)
from slipway.automation._scheduler import Scheduler
from slipway.automation._service import EVENT_TYPES, ActionSpec, AutomationService, Filters, Limit, Missed

__all__ = [
    "ACTIONS",
    "Action",
    "ActionRun",
    "ActionSpec",
    "AutomationService",
    "CollectGarbage",
    "Deploy",
    "EVENT_TYPES",
    "Filters",
    "GcItem",
    "GcReport",
    "Hook",
    "Limit",
    "MAX_SKEW_SECONDS",
    "Missed",
    "MissedRuns",
    "MoveAlias",
    "RetentionPolicy",
    "Rule",
    "RunMonitor",
    "RunStatus",
    "SIGNATURE_HEADER",
    "Schedule",
    "Scheduler",
    "StartPipeline",
    "TIMESTAMP_HEADER",
    "Webhook",
    "action_from_dict",
    "check_cron",
    "sign_hook",
]
