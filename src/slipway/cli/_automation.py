"""``slipway schedules``, ``slipway rules``, ``slipway hooks`` and ``slipway gc``: the loop that runs by itself.

An action is written as ``--action KIND`` and ``--set FIELD=VALUE`` for its fields (dots reach
into objects: ``--set parameters.epochs=10``, ``--set strategy.kind=canary``). A value that reads
as JSON (a number, true, an object) is taken as such, anything else as text, and text may name
fields of the triggering event as ``{event.<field>}``. Each command calls the automation service
of the current settings (embedded, or the server's when ``SLIPWAY_SERVER_URL`` is set).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import RenderableType
from rich.text import Text

from slipway._redact import redact
from slipway.cli import _output
from slipway.cli._output import JsonFlag
from slipway.cli._session import json_or_text, opener
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from slipway.automation import ActionRun, GcReport, Hook, Rule, Schedule

_ACTION_HELP = ("What to run: start_pipeline, deploy, move_alias, webhook, run_monitor or collect_garbage; "
                "its fields with --set.")
_SET_HELP = ("A field of the action, FIELD=VALUE (repeatable), e.g. pipeline=train, parameters.epochs=10, "
             "version={event.version}.")
ActionOpt = Annotated[str, typer.Option("--action", "-a", help=_ACTION_HELP, show_default=False)]
SetOpt = Annotated[list[str] | None, typer.Option("--set", "-s", help=_SET_HELP, show_default=False)]
NameArg = Annotated[str, typer.Argument(metavar="NAME", help="Its unique name.", show_default=False)]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="At most this many runs, newest first.")]
_RUN_STYLES = {"Succeeded": "green", "Failed": "red", "Running": "blue", "Pending": "yellow"}

schedules_app = typer.Typer(
    help="Cron schedules (UTC) that start a pipeline or run a monitor; `slipway server` fires them. Missed "
    "occurrences after downtime are skipped or caught up once, as each schedule says.",
    short_help="Cron-driven pipeline starts and monitor runs.",
    no_args_is_help=True,
)
rules_app = typer.Typer(
    help="Event rules: on a domain event (a model version approved, an alarm entering ALARM, a dataset version "
    "registered, a pipeline finished...) matching filters, run an action. Each (rule, event) runs once.",
    short_help="Run actions when events happen.",
    no_args_is_help=True,
)
hooks_app = typer.Typer(
    help="Incoming webhooks: POST /hooks/NAME, signed with HMAC-SHA256 under the hook's secret, runs its action "
    "(e.g. a CI system starting the build pipeline after a push).",
    short_help="Signed incoming webhooks that run an action.",
    no_args_is_help=True,
)


open_automation = opener(lambda client: client.automation)


def build_action(kind: str, fields: list[str] | None) -> dict[str, Any]:
    """The JSON form of an action from ``--action KIND`` and ``--set FIELD=VALUE`` options.

    Raises:
        InvalidInput: for a ``--set`` without ``=`` or a field path that clashes with another.
    """
    action: dict[str, Any] = {"kind": kind.replace("-", "_")}
    for item in fields or []:
        path, sep, text = item.partition("=")
        if not sep or not path.strip():
            raise InvalidInput(f"--set {item!r}: write FIELD=VALUE, e.g. pipeline=train", field="set")
        *parents, leaf = path.strip().split(".")
        target = action
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise InvalidInput(f"--set {item!r}: {part} is already a value, not an object", field="set")
        target[leaf] = json_or_text(text)
    return action


def _pairs(items: list[str] | None, option: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{option} {item!r}: write FIELD=VALUE", field=option.lstrip("-"))
        found.setdefault(key.strip(), []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in found.items()}


def _describe(action: dict[str, Any]) -> str:
    fields = ", ".join(f"{k}={json.dumps(v)}" for k, v in action.items() if k != "kind" and v not in (None, {}))
    return f"{action.get('kind')}({fields})"


def _emit_runs(as_json: bool, found: list[ActionRun], empty: str) -> None:
    _output.emit(as_json, lambda: [r.model_dump(mode="json") for r in found], lambda: _runs(found, empty))


def _done(kind: str, name: str, what: str) -> None:
    _output.say(f"{kind} [bold]{_output.plain(name)}[/bold] {what}")


def _runs(found: list[ActionRun], empty: str) -> RenderableType:
    if not found:
        return _output.empty_section("Runs", empty)
    table = _output.table(_output.time_column("Created"), "Status", "Tries", "Event", "As", "Result")
    for run in found:
        style = _RUN_STYLES.get(run.status.value, "")
        outcome = run.error if run.error else json.dumps(run.result or {})
        table.add_row(_output.fmt_time(run.created_at), f"[{style}]{run.status.value}[/{style}]", str(run.attempts),
                      Text(str(run.event.get("type", ""))), Text(run.actor), Text(outcome))
    return table


# ----------------------------------------------------------------------------------- schedules


@schedules_app.command("create")
def create_schedule(
    name: NameArg,
    cron: Annotated[str, typer.Option("--cron", help="Five cron fields in UTC, e.g. '0 2 * * 1' (Mondays 02:00).",
                                      show_default=False)],
    action: ActionOpt,
    fields: SetOpt = None,
    missed: Annotated[str, typer.Option("--missed", help="After downtime: skip missed runs, or catch_up_one.")]
    = "catch_up_one",
    paused: Annotated[bool, typer.Option("--paused", help="Create it paused.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a schedule, e.g. `--cron '0 2 * * 1' --action start_pipeline --set pipeline=train`."""
    with open_automation() as service:
        made = redact(service.create_schedule(name, cron, build_action(action, fields), missed=missed, paused=paused))
    _output.emit(as_json, lambda: made.model_dump(mode="json"),
                 lambda: f"Schedule [bold]{_output.plain(made.name)}[/bold] created: {_describe(made.action)} at "
                         f"'{made.cron}' UTC, next at {_output.fmt_time(made.next_run_at)}")


@schedules_app.command("list")
def list_schedules(as_json: JsonFlag = False) -> None:
    """The schedules, their next occurrence and whether they are paused."""
    with open_automation() as service:
        found = redact(service.list_schedules())
    _output.emit(as_json, lambda: [s.model_dump(mode="json") for s in found], lambda: _schedules(found))


def _schedules(found: list[Schedule]) -> RenderableType:
    if not found:
        return _output.empty_section("Schedules", "none yet: create one with `slipway schedules create`")
    table = _output.table("Name", "Cron (UTC)", "Action", _output.time_column("Next"), _output.time_column("Last"),
                          "Missed runs")
    for s in found:
        nxt = "[yellow]paused[/yellow]" if s.paused else _output.fmt_time(s.next_run_at)
        table.add_row(Text(s.name), s.cron, Text(_describe(s.action)), nxt, _output.fmt_time(s.last_run_at), s.missed)
    return table


@schedules_app.command("pause")
def pause_schedule(name: NameArg) -> None:
    """Stop firing until resumed."""
    with open_automation() as service:
        service.pause_schedule(name)
    _done("Schedule", name, "paused")


@schedules_app.command("resume")
def resume_schedule(name: NameArg) -> None:
    """Fire again from the next occurrence (nothing missed while paused is caught up)."""
    with open_automation() as service:
        made = redact(service.resume_schedule(name))
    _done("Schedule", name, f"resumed, next at {_output.fmt_time(made.next_run_at)}")


@schedules_app.command("delete")
def delete_schedule(name: NameArg) -> None:
    """Delete a schedule (the history of its runs stays)."""
    with open_automation() as service:
        service.delete_schedule(name)
    _done("Schedule", name, "deleted")


@schedules_app.command("history")
def schedule_history(name: NameArg, limit: LimitOpt = 20, as_json: JsonFlag = False) -> None:
    """The runs the schedule fired, newest first."""
    with open_automation() as service:
        found = redact(service.schedule_history(name, limit))
    _emit_runs(as_json, found, "none yet")


# --------------------------------------------------------------------------------------- rules


@rules_app.command("create")
def create_rule(
    name: NameArg,
    event: Annotated[str, typer.Option("--event", "-e", help="The event type, e.g. alarm.state_changed, "
                                       "model_version.status_changed, dataset_version.registered.",
                                       show_default=False)],
    action: ActionOpt,
    fields: SetOpt = None,
    filters: Annotated[list[str] | None, typer.Option(
        "--filter", "-f", help="FIELD=VALUE the event must have (repeat a field to accept several values).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a rule, e.g. `--event alarm.state_changed --filter new_state=ALARM --action start_pipeline
    --set pipeline=retrain`."""
    with open_automation() as service:
        made = redact(service.create_rule(name, event, build_action(action, fields), _pairs(filters, "--filter")))
    _output.emit(as_json, lambda: made.model_dump(mode="json"),
                 lambda: f"Rule [bold]{_output.plain(made.name)}[/bold] created: on {made.event_type}"
                         + (f" where {made.filters}" if made.filters else "") + f", {_describe(made.action)}")


@rules_app.command("list")
def list_rules(as_json: JsonFlag = False) -> None:
    """The rules: the event each listens to, its filters and its action."""
    with open_automation() as service:
        found = redact(service.list_rules())
    _output.emit(as_json, lambda: [r.model_dump(mode="json") for r in found], lambda: _rules(found))


def _rules(found: list[Rule]) -> RenderableType:
    if not found:
        return _output.empty_section("Rules", "none yet: create one with `slipway rules create`")
    table = _output.table("Name", "Event", "Filters", "Action")
    for r in found:
        table.add_row(Text(r.name), r.event_type, Text(json.dumps(r.filters) if r.filters else _output.MISSING),
                      Text(_describe(r.action)))
    return table


@rules_app.command("delete")
def delete_rule(name: NameArg) -> None:
    """Delete a rule and its runs not yet started (the history of the others stays)."""
    with open_automation() as service:
        service.delete_rule(name)
    _done("Rule", name, "deleted")


@rules_app.command("history")
def rule_history(name: NameArg, limit: LimitOpt = 20, as_json: JsonFlag = False) -> None:
    """The runs the rule's matching events caused, newest first, with what each did or why it failed."""
    with open_automation() as service:
        found = redact(service.rule_history(name, limit))
    _emit_runs(as_json, found, "no matching event yet")


# --------------------------------------------------------------------------------------- hooks


@hooks_app.command("create")
def create_hook(name: NameArg, action: ActionOpt, fields: SetOpt = None, as_json: JsonFlag = False) -> None:
    """Create an incoming webhook; prints its secret, once: keep it where the caller can sign with it."""
    with open_automation() as service:
        made = redact(service.create_hook(name, build_action(action, fields)))
    _output.emit(as_json, lambda: made.model_dump(mode="json"), lambda: _new_hook(made))


def _new_hook(hook: Hook) -> RenderableType:
    return Text.from_markup(
        f"Hook [bold]{_output.plain(hook.name)}[/bold] created: {_output.plain(_describe(hook.action))}\n"
        f"Secret (shown once): [bold]{hook.secret}[/bold]\n"
        f"Callers POST /hooks/{hook.name} with headers X-Slipway-Timestamp (Unix seconds) and "
        "X-Slipway-Signature: sha256=HMAC-SHA256(secret, TIMESTAMP + '.' + BODY); see docs/automation.md"
    )


@hooks_app.command("list")
def list_hooks(as_json: JsonFlag = False) -> None:
    """The incoming webhooks and their actions (never their secrets)."""
    with open_automation() as service:
        found = redact(service.list_hooks())
    _output.emit(as_json, lambda: [h.model_dump(mode="json") for h in found], lambda: _hooks(found))


def _hooks(found: list[Hook]) -> RenderableType:
    if not found:
        return _output.empty_section("Hooks", "none yet: create one with `slipway hooks create`")
    table = _output.table("Name", "URL path", "Action", _output.time_column("Created"))
    for h in found:
        table.add_row(Text(h.name), Text(f"/hooks/{h.name}"), Text(_describe(h.action)), _output.fmt_time(h.created_at))
    return table


@hooks_app.command("delete")
def delete_hook(name: NameArg) -> None:
    """Delete a hook: calls to it are refused from now on."""
    with open_automation() as service:
        service.delete_hook(name)
    _done("Hook", name, "deleted")


# ------------------------------------------------------------------------------------------ gc


def gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be deleted, with sizes; delete nothing.")]
    = False,
    keep_executions: Annotated[int | None, typer.Option(
        "--keep-executions", min=0, help="Set the policy: per pipeline, keep the newest N finished executions "
        "(0: keep all).")] = None,
    capture_days: Annotated[int | None, typer.Option(
        "--capture-days", min=0, help="Set the policy: delete captured endpoint traffic older than D days "
        "(0: keep all).")] = None,
    grace: Annotated[float, typer.Option(
        "--grace", min=0, help="Seconds an unreferenced blob is kept, so uploads in flight are never taken.")]
    = 3600.0,
    as_json: JsonFlag = False,
) -> None:
    """Free storage: apply the retention policy, then delete blobs nothing refers to.

    The policy is stored: `slipway gc --keep-executions 20 --capture-days 30` sets it and collects;
    later runs of `slipway gc` apply it again. Files of live runs, models, datasets and kept executions
    are never deleted.
    """
    with open_automation() as service:
        if keep_executions is not None or capture_days is not None:
            service.set_retention(keep_executions=keep_executions, capture_days=capture_days)
        policy = service.get_retention()
        report = service.collect_garbage(dry_run=dry_run, grace_seconds=grace)
    _output.emit(as_json, lambda: report.model_dump(mode="json"), lambda: _gc_report(report),
                 lambda: f"Retention: keep {policy.keep_executions or 'all'} executions per pipeline, captures "
                         + (f"for {policy.capture_days} days" if policy.capture_days else "for ever"))


def _gc_report(report: GcReport) -> RenderableType:
    verb = "Would delete" if report.dry_run else "Deleted"
    if not report.items:
        return _output.empty_section(verb, "nothing: no expired executions or captures, no unreferenced blobs")
    table = _output.table("Kind", "What", "Size", title=f"{verb} {len(report.items)} item(s), freeing "
                                                          f"{_output.fmt_size(report.freed_bytes)} of blobs")
    for item in report.items:
        table.add_row(item.kind, Text(item.name), _output.fmt_size(item.size))
    return table
