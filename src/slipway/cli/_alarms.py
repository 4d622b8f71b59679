"""``slipway alarms``: thresholds on monitors' metrics, their states and why.

Each command opens the monitoring service of the current settings and calls one method; the
rules (what may be compared, when a state changes) are the service's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group, RenderableType
from rich.text import Text

from slipway.cli import _output
from slipway.cli._monitor import open_monitoring
from slipway.cli._output import JsonFlag

if TYPE_CHECKING:
    from slipway.monitoring import Alarm

alarms_app = typer.Typer(
    help="Alarms on monitors' metrics (drift.FEATURE, violations.total, violations.CHECK, mae, ...): OK, ALARM "
    "or INSUFFICIENT_DATA over the latest N executions, with webhooks called on every change of state.",
    short_help="Create, list and show alarms on monitor metrics.",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The alarm's name.", show_default=False)]
_STATE_STYLES = {"OK": "green", "ALARM": "red", "INSUFFICIENT_DATA": "yellow"}


@alarms_app.command("create")
def create_command(
    name: NameArg,
    monitor: Annotated[str, typer.Option("--monitor", "-m", help="The monitor whose executions are read.",
                                         show_default=False)],
    metric: Annotated[str, typer.Option("--metric", help="e.g. drift.length, violations.total, mae.",
                                        show_default=False)],
    threshold: Annotated[float, typer.Option("--threshold", help="The value to compare with.", show_default=False)],
    comparison: Annotated[str, typer.Option("--comparison", help="One of >, >=, <, <=.")] = ">",
    periods: Annotated[int, typer.Option("--periods", help="How many latest executions are evaluated.")] = 1,
    datapoints: Annotated[int | None, typer.Option(
        "--datapoints", help="How many of them must cross (default: all).")] = None,
    webhook: Annotated[list[str] | None, typer.Option("--webhook", help="A URL to POST JSON to on each change.")]
    = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an alarm; it is INSUFFICIENT_DATA until the monitor has run enough times."""
    with open_monitoring() as service:
        made = service.create_alarm(name, monitor=monitor, metric=metric, threshold=threshold, comparison=comparison,
                                    evaluation_periods=periods, datapoints_to_alarm=datapoints,
                                    webhooks=webhook or [])
    _output.emit(as_json, lambda: made.model_dump(mode="json"),
                 lambda: f"Alarm [bold]{_output.plain(made.name)}[/bold] created: {_rule(made)}")


def _rule(alarm: Alarm) -> str:
    return (f"{alarm.metric} {alarm.comparison} {alarm.threshold:g} in {alarm.datapoints_to_alarm} of the last "
            f"{alarm.evaluation_periods} execution(s) of {alarm.monitor}")


@alarms_app.command("list")
def list_command(
    monitor: Annotated[str | None, typer.Option("--monitor", "-m", help="Only this monitor's alarms.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The alarms and their states."""
    with open_monitoring() as service:
        found = service.list_alarms(monitor)
    _output.emit(as_json, lambda: [a.model_dump(mode="json") for a in found], lambda: _alarms_table(found))


def _alarms_table(found: list[Alarm]) -> RenderableType:
    if not found:
        return _output.empty_section("Alarms", "none yet: create one with `slipway alarms create`")
    table = _output.table("Name", "State", "Rule", _output.time_column("Since"))
    for a in found:
        table.add_row(Text(a.name), _output.fmt_status(a.state, _STATE_STYLES), Text(_rule(a)),
                      _output.fmt_time(a.state_changed_at))
    return table


@alarms_app.command("show")
def show_command(name: NameArg, as_json: JsonFlag = False) -> None:
    """One alarm: its rule, state, why, and where it reports."""
    with open_monitoring() as service:
        alarm = service.get_alarm(name)
    _output.emit(as_json, lambda: alarm.model_dump(mode="json"), lambda: _detail(alarm))


def _detail(alarm: Alarm) -> RenderableType:
    return Group(
        Text.from_markup(f"[bold]{_output.plain(alarm.name)}[/bold]  {_output.fmt_status(alarm.state, _STATE_STYLES)}"),
        _output.key_value_table("", {
            "rule": _rule(alarm),
            "reason": alarm.state_reason,
            "since": _output.fmt_time(alarm.state_changed_at),
            "webhooks": ", ".join(alarm.webhooks) or _output.MISSING,
            "created": f"{_output.fmt_time(alarm.created_at)} by {alarm.created_by}",
        }, empty=""),
    )
