"""``slipway monitor``: baselines and data-quality checks of files, from the shell.

``baseline`` and ``check`` work on files alone (no store needed): they are how a user tries the
monitor on a CSV before setting up anything. The monitoring package brings pyarrow and pandas,
so it is imported when a command runs, not when the CLI starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import RenderableType
from rich.text import Text

from slipway.cli import _output
from slipway.cli._output import JsonFlag

if TYPE_CHECKING:
    from slipway.monitoring import CheckResult

monitor_app = typer.Typer(
    help="Model monitoring: baselines (statistics.json and constraints.json) from training data, and "
    "data-quality checks of new data against them, with drift per feature and an HTML report.",
    short_help="Baselines and data-quality checks with drift reports.",
    no_args_is_help=True,
)

DataArg = Annotated[str, typer.Argument(metavar="DATA", help="A CSV, Parquet or JSON-lines file, or a folder of them.",
                                        show_default=False)]
OutputOpt = Annotated[Path, typer.Option("--output", "-o", help="The folder to write into (created if needed).",
                                         show_default=False)]
FormatOpt = Annotated[str | None, typer.Option("--format", help="csv, parquet or jsonl (default: by extension).")]


@monitor_app.command("baseline")
def baseline_command(data: DataArg, output: OutputOpt, format: FormatOpt = None) -> None:
    """Compute DATA's statistics and suggest constraints: writes statistics.json and constraints.json.

    Edit constraints.json to tighten or loosen a rule, then check new data with `slipway monitor check`.
    """
    from slipway.monitoring import compute_baseline

    baseline = compute_baseline(data, format=format)
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
    as_json: JsonFlag = False,
) -> None:
    """Check DATA against a baseline: writes constraint_violations.json, drift.json, statistics.json, report.html.

    Violations are findings, not failures: the exit code is 0 whenever the check ran.
    """
    from slipway.monitoring import Baseline, check_data, write_report

    result = check_data(data, Baseline.read(baseline), format=format)
    folder = write_report(result, output)
    _output.emit(as_json, result.violations_document, lambda: _violations_table(result),
                 lambda: f"Report written to [bold]{_output.plain(folder)}[/bold] (open report.html in a browser)")


def _violations_table(result: CheckResult) -> RenderableType:
    if not result.violations:
        return _output.empty_section("Violations", f"none in {result.statistics.item_count:,} rows")
    table = _output.table("Feature", "Check", "Description", title=f"Violations ({len(result.violations)})")
    for violation in result.violations:
        table.add_row(Text(violation.feature_name), str(violation.constraint_check_type), Text(violation.description))
    return table
