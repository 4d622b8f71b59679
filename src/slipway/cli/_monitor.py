"""``slipway monitor``: baselines, data-quality checks, and stored monitors with their executions.

``baseline`` and ``check`` work on files alone (no store needed): they are how a user tries the
monitor on a CSV before setting up anything. ``create``, ``list``, ``run``, ``executions`` and
``report`` use the monitoring service of the current settings (embedded, or the server's when
``SLIPWAY_SERVER_URL`` is set). The monitoring package
brings pyarrow and pandas, so it is imported when a command runs, not when the CLI starts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import RenderableType
from rich.text import Text

from slipway._config import load_settings
from slipway.cli import _output
from slipway.cli._output import JsonFlag
from slipway.cli._session import opener
from slipway.client import Client
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from slipway.monitoring import CheckResult, Monitor, MonitorExecution

monitor_app = typer.Typer(
    help="Model monitoring: baselines (statistics.json and constraints.json) from training data, and "
    "data-quality checks of new data against them, with drift per feature and an HTML report.",
    short_help="Baselines and data-quality checks with drift reports.",
    no_args_is_help=True,
)

DataArg = Annotated[str, typer.Argument(metavar="DATA", help="A CSV, Parquet or JSON-lines file, a folder of them, "
                                        "or an s3:// prefix.",
                                        show_default=False)]
OutputOpt = Annotated[Path, typer.Option("--output", "-o", help="The folder to write into (created if needed).",
                                         show_default=False)]
FormatOpt = Annotated[str | None, typer.Option("--format", help="csv, parquet or jsonl (default: by extension).")]
EngineOpt = Annotated[str, typer.Option(
    "--engine", help="local (one process, chunked) or ray (a folder or s3:// prefix per block on Ray Data, "
    "on RAY_ADDRESS's cluster or a new local one; equal within the sketches' error).")]
MonitorArg = Annotated[str, typer.Argument(metavar="NAME", help="The monitor's name.", show_default=False)]
_TIMES = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]

_KINDS = {"bias": "ModelBias", "attribution": "ModelExplainability", "data": "DataQuality", "quality": "ModelQuality"}
_STATUS_STYLES = {"Completed": "green", "CompletedWithViolations": "yellow", "Failed": "red"}


open_monitoring = opener(lambda client: client.monitoring)


@monitor_app.command("baseline")
def baseline_command(data: DataArg, output: OutputOpt, format: FormatOpt = None, engine: EngineOpt = "local") -> None:
    """Compute DATA's statistics and suggest constraints: writes statistics.json and constraints.json.

    Edit constraints.json to tighten or loosen a rule, then check new data with `slipway monitor check`.
    """
    from slipway.monitoring import compute_baseline  # brings pandas and pyarrow: import when run

    baseline = compute_baseline(data, format=format, engine=engine)
    folder = baseline.write(output)
    _output.say(f"Baseline of {baseline.statistics.item_count:,} rows and {len(baseline.statistics.columns)} "
                f"columns written to [bold]{_output.plain(folder)}[/bold]")


@monitor_app.command("check")
def check_command(
    data: DataArg,
    baseline: Annotated[Path, typer.Option("--baseline", "-b", help="A folder written by `slipway monitor baseline`.",
                                           show_default=False)],
    output: OutputOpt,
    format: FormatOpt = None,
    engine: EngineOpt = "local",
    as_json: JsonFlag = False,
) -> None:
    """Check DATA against a baseline: writes constraint_violations.json, drift.json, statistics.json, report.html.

    Violations are findings, not failures: the exit code is 0 whenever the check ran.
    """
    from slipway.monitoring import Baseline, check_data, write_report  # brings pandas: import when run

    result = check_data(data, Baseline.read(baseline), format=format, engine=engine)
    folder = write_report(result, output)
    _output.emit(as_json, result.violations_document, lambda: _violations_table(result),
                 lambda: f"Report written to [bold]{_output.plain(folder)}[/bold] (open report.html in a browser)")


def _violations_table(result: CheckResult) -> RenderableType:
    return _violations(result.violations_document()["violations"], f"none in {result.statistics.item_count:,} rows")


def _violations(violations: list[dict[str, str]], empty: str) -> RenderableType:
    """The entries of ``constraint_violations.json`` as a table."""
    if not violations:
        return _output.empty_section("Violations", empty)
    table = _output.table("Feature", "Check", "Description", title=f"Violations ({len(violations)})")
    for row in violations:
        table.add_row(Text(row["feature_name"]), row["constraint_check_type"], Text(row["description"]))
    return table


@monitor_app.command("create")
def create_command(
    name: MonitorArg,
    baseline_data: Annotated[str | None, typer.Option(
        "--baseline-data", help="Data to build the baseline from (a file or folder), stored as baseline NAME.")] = None,
    baseline: Annotated[str | None, typer.Option(
        "--baseline", "-b", help="A stored baseline (name or name:version), or a folder written by "
        "`slipway monitor baseline`.")] = None,
    dataset: Annotated[str | None, typer.Option(
        "--dataset", help="A registered dataset (name or name:version) to build the baseline from.")] = None,
    problem_type: Annotated[str | None, typer.Option(
        "--problem-type", help="Makes a model-quality monitor: Regression, BinaryClassification or "
        "MulticlassClassification.")] = None,
    threshold: Annotated[list[str] | None, typer.Option(
        "--threshold", help="Model quality: METRIC=BOUND, e.g. mae=2.5 (errors stay below, scores above).")] = None,
    endpoint: Annotated[str | None, typer.Option(
        "--endpoint", help="An endpoint whose captured traffic (and ground truth) runs read by default.")] = None,
    rule: Annotated[list[str] | None, typer.Option(
        "--rule", help="Data quality: a custom rule MODULE:FUNCTION over the statistics (repeatable).")] = None,
    schedule: Annotated[str | None, typer.Option(
        "--schedule", help="Run it on a cron schedule in UTC, e.g. '0 * * * *' for hourly (fired by `slipway "
        "server`; the schedule is named monitor-NAME).")] = None,
    kind: Annotated[str | None, typer.Option(
        "--kind", help="bias (bias drift) or attribution (feature-attribution drift) against a clarify report "
        "(--report); the other kinds follow from --baseline or --problem-type.")] = None,
    report: Annotated[str | None, typer.Option(
        "--report", help="Bias or attribution drift: the clarify report to compare with (see `slipway clarify`).")]
    = None,
    tolerance: Annotated[float, typer.Option(
        "--tolerance", help="Bias drift: how far a metric may move from the report's value.")] = 0.1,
    bound: Annotated[list[str] | None, typer.Option(
        "--bound", help="Bias drift: METRIC=BOUND, the largest magnitude, e.g. DPPL=0.2 (|DI - 1| for DI).")] = None,
    ndcg_threshold: Annotated[float, typer.Option(
        "--ndcg-threshold", help="Attribution drift: the least nDCG of the feature ranking.")] = 0.90,
    model: Annotated[str | None, typer.Option(
        "--model", help="Attribution drift without an endpoint: the model version GROUP/VERSION to explain.")]
    = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a monitor: data quality against a baseline, model quality (--problem-type) against bounds, or
    bias or feature-attribution drift (--kind bias|attribution) against a clarify report."""
    if schedule is not None:
        from slipway.automation import check_cron  # automation sits on every domain: import when asked

        check_cron(schedule)  # refused before anything is created
    from slipway.monitoring import Baseline, MonitorKind  # brings pandas: import when run

    with open_monitoring() as service:
        if kind is not None:
            made = service.create_monitor(name, kind=_KINDS.get(kind, kind), endpoint=endpoint, report=report,
                                          tolerance=tolerance, bounds=dict(_bound(i, "bound") for i in bound or []),
                                          ndcg_threshold=ndcg_threshold, model=model)
        elif problem_type is not None:
            bounds = dict(_bound(item, "threshold") for item in threshold or [])
            made = service.create_monitor(name, kind=MonitorKind.MODEL_QUALITY, problem_type=problem_type,
                                          thresholds=bounds, endpoint=endpoint)
        else:
            ref = baseline
            if baseline_data is not None or dataset is not None:
                ref = service.create_baseline(name, baseline_data, dataset=dataset).ref
            elif baseline is not None and Path(baseline).is_dir():
                ref = service.create_baseline(name, Baseline.read(baseline)).ref
            made = service.create_monitor(name, baseline=ref, endpoint=endpoint, rules=rule or [])
    scheduled = _schedule_monitor(made.name, schedule) if schedule is not None else None
    _output.emit(as_json, lambda: made.model_dump(mode="json"),
                 lambda: f"Monitor [bold]{_output.plain(made.name)}[/bold] created ({made.kind}"
                         + (f", baseline {made.baseline})" if made.baseline else ")")
                         + (f", run at '{schedule}' UTC by schedule {scheduled}" if scheduled else ""))


def _schedule_monitor(name: str, cron: str) -> str:
    """Create the schedule that runs monitor ``name`` (see ``slipway schedules``); return its name."""
    from slipway.automation import RunMonitor  # automation sits on every domain: import when asked

    action = RunMonitor(name)
    with Client(load_settings()) as client:
        return client.automation.create_schedule(action.schedule_name, cron, action).name


def _bound(item: str, option: str) -> tuple[str, float]:
    metric, _, value = item.partition("=")
    try:
        return metric.strip(), float(value)
    except ValueError:
        raise InvalidInput(f"--{option} {item!r}: write METRIC=NUMBER, e.g. mae=2.5", field=option) from None


@monitor_app.command("list")
def list_command(as_json: JsonFlag = False) -> None:
    """The monitors, with their kind and baseline."""
    with open_monitoring() as service:
        found = service.list_monitors()
    _output.emit(as_json, lambda: [m.model_dump(mode="json") for m in found], lambda: _monitors_table(found))


def _monitors_table(found: list[Monitor]) -> RenderableType:
    if not found:
        return _output.empty_section("Monitors", "none yet: create one with `slipway monitor create`")
    table = _output.table("Name", "Kind", "Baseline, problem or report", _output.time_column("Created"))
    for m in found:
        table.add_row(Text(m.name), str(m.kind), Text(m.baseline or m.problem_type or m.report or _output.MISSING),
                      _output.fmt_time(m.created_at))
    return table


@monitor_app.command("run")
def run_command(
    name: MonitorArg,
    data: Annotated[str | None, typer.Argument(
        metavar="[DATA]", help="A file or folder to check; by default the traffic the monitor's endpoint captured.",
        show_default=False)] = None,
    labels: Annotated[str | None, typer.Option("--labels", help="Model quality: a file of inference_id and label.")]
    = None,
    format: FormatOpt = None,
    start: Annotated[dt.datetime | None, typer.Option(
        "--start", formats=_TIMES, show_default=False,
        help="Captured traffic: only records from this UTC time on, e.g. 2026-05-01T09:00:00.")] = None,
    end: Annotated[dt.datetime | None, typer.Option(
        "--end", formats=_TIMES, help="Captured traffic: only records before this UTC time.", show_default=False)]
    = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a monitor once over DATA (or its endpoint's captured traffic); the report is stored with the execution.

    Without DATA, the traffic the monitor's endpoint captured between --start and --end is checked;
    with neither, the traffic stored since the monitor's previous run without them (all of it the
    first time). The execution keeps the window it covered. Read the report with
    `slipway monitor report EXECUTION --output DIR`.
    """
    with open_monitoring() as service:
        execution = service.run_monitor(name, data, labels=labels, format=format, start=_utc(start), end=_utc(end))
        violations = service.read_violations(execution.id)
    _output.emit(as_json, lambda: execution.model_dump(mode="json"),
                 lambda: _execution_line(execution),
                 lambda: _violations(violations, "none"))


def _utc(at: dt.datetime | None) -> dt.datetime | None:
    return None if at is None else at.replace(tzinfo=dt.UTC)


def _window(execution: MonitorExecution) -> str:
    if execution.window_start is None and execution.window_end is None:
        return _output.MISSING
    return f"{_output.fmt_time(execution.window_start)} to {_output.fmt_time(execution.window_end)}"


def _execution_line(execution: MonitorExecution) -> str:
    style = _STATUS_STYLES.get(execution.status, "")
    line = (f"Execution [cyan]{execution.id}[/cyan]: [{style}]{execution.status}[/{style}], "
            f"{execution.item_count:,} rows, {execution.violation_count} violation(s) in "
            f"{_output.fmt_duration(execution.duration)}")
    if execution.window_start is not None or execution.window_end is not None:
        line += f", captured {_window(execution)}"
    return line + (f"\n[red]{_output.plain(execution.message)}[/red]" if execution.message else "")


@monitor_app.command("executions")
def executions_command(
    name: MonitorArg,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many of the latest to show.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """The monitor's latest executions, newest first."""
    with open_monitoring() as service:
        found = service.list_executions(name, limit)
    _output.emit(as_json, lambda: [e.model_dump(mode="json") for e in found], lambda: _executions_table(name, found))


def _executions_table(name: str, found: list[MonitorExecution]) -> RenderableType:
    if not found:
        return _output.empty_section(f"Executions of {name}", f"none yet: run `slipway monitor run {name} DATA`")
    table = _output.table(_output.id_column(), "Status", "Rows", "Violations", _output.time_column("Started"),
                          "Duration", "Window", title=f"Executions of {name}")
    for e in found:
        style = _STATUS_STYLES.get(e.status, "")
        table.add_row(e.id, f"[{style}]{e.status}[/{style}]", f"{e.item_count:,}", str(e.violation_count),
                      _output.fmt_time(e.started_at), _output.fmt_duration(e.duration), _window(e))
    return table


@monitor_app.command("report")
def report_command(
    execution: Annotated[str, typer.Argument(metavar="EXECUTION", help="The execution's id.", show_default=False)],
    output: OutputOpt,
) -> None:
    """Write an execution's report files (JSON and report.html) into a folder."""
    with open_monitoring() as service:
        folder = service.download_report(execution, output)
        names = service.report_files(execution)
    _output.say(f"{', '.join(names)} written to [bold]{_output.plain(folder)}[/bold]")
