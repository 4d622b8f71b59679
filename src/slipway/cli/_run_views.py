"""Rich views of runs: the run list, one run in detail, runs side by side and a metric's history.

Kept apart from the commands so that ``runs list`` and ``runs search`` share one table, and so
the commands read as argument translation only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Group, RenderableType
from rich.table import Column, Table
from rich.text import Text

from slipway.cli import _output
from slipway.store.artifacts import ArtifactInfo
from slipway.tracking import DatasetInput, LifecycleStage, Metric, Run, RunComparison, nest_runs


def runs_table(found: Sequence[Run], experiment_names: Mapping[str, str]) -> RenderableType:
    """One row per run: who it is, how it ended, and its first latest metrics at a glance.

    The id is never cut; in a narrow terminal the other cells wrap instead (the start time onto
    two lines), and the duration is left to ``runs show``.
    """
    if not found:
        return "[dim]No runs match.[/dim]"
    out = _output.table(_output.id_column("Run ID"), Column("Name", min_width=8),
                        Column("Experiment", min_width=8), Column("Status", no_wrap=True),
                        Column("Started", min_width=10), Column("Metrics", min_width=10, overflow="fold"))
    for run, depth in nest_runs(found):  # a child run under its parent, indented
        out.add_row(
            run.id,
            _output.plain(f"{'  ' * (depth - 1)}└ {run.name}" if depth else run.name),
            _output.plain(experiment_names.get(run.experiment_id, run.experiment_id)),
            _output.fmt_status(run.status.value),
            _output.fmt_time(run.start_time),
            _output.fmt_pairs((k, _output.fmt_number(m.value)) for k, m in sorted(run.metrics.items())),
        )
    return out


def run_detail(
    run: Run, experiment_name: str, artifacts: Sequence[ArtifactInfo], children: Sequence[Run] = ()
) -> RenderableType:
    """Everything recorded about one run, section by section, empty sections said so."""
    about = Table.grid(padding=(0, 2))
    about.add_column(style="bold")
    about.add_column()
    about.add_row("Run", Text.assemble((run.name, "bold"), f"  {run.id}"))
    about.add_row("Experiment", Text(f"{experiment_name}  {run.experiment_id}"))
    about.add_row("Status", _output.fmt_status(run.status.value))
    about.add_row("Started", _output.fmt_time(run.start_time))
    about.add_row("Ended", _output.fmt_time(run.end_time))
    about.add_row("Duration", _output.fmt_duration(run.duration))
    about.add_row("User", Text(run.user))
    if run.parent_run_id:
        about.add_row("Parent run", run.parent_run_id)
    if run.lifecycle_stage is not LifecycleStage.ACTIVE:
        about.add_row("Stage", f"[red]{run.lifecycle_stage.value}[/red]")
    return Group(
        about,
        "",
        _output.key_value_table("Params", run.params, empty="No params logged."),
        "",
        _metrics_table(run.metrics),
        "",
        _output.key_value_table("Tags", run.tags, empty="No tags."),
        "",
        _datasets_table(run.inputs),
        "",
        *([_children_table(children), ""] if children else []),
        _artifacts_table(artifacts),
    )


def _datasets_table(inputs: Sequence[DatasetInput]) -> RenderableType:
    if not inputs:
        return _output.empty_section("Datasets", "No dataset inputs logged.")
    out = _output.table("Name", "Digest", "Context", "Source type", Column("Source", overflow="fold"),
                        title="Datasets")
    for d in inputs:
        out.add_row(_output.plain(d.name), Text(d.digest), _output.plain(d.context or _output.MISSING),
                    _output.plain(d.source_type or _output.MISSING), _output.plain(d.source or _output.MISSING))
    return out


def _children_table(children: Sequence[Run]) -> RenderableType:
    out = _output.table(_output.id_column("Run ID"), "Name", "Status", _output.time_column("Started"),
                        title="Child runs")
    for child in children:
        out.add_row(child.id, _output.plain(child.name), _output.fmt_status(child.status.value),
                    _output.fmt_time(child.start_time))
    return out


def _metrics_table(latest: Mapping[str, Metric]) -> RenderableType:
    if not latest:
        return _output.empty_section("Metrics", "No metrics logged.")
    out = _output.table("Key", "Latest value", "Step", _output.time_column("Logged at"), title="Metrics")
    for key in sorted(latest):
        m = latest[key]
        out.add_row(Text(key), _output.fmt_number(m.value), str(m.step), _output.fmt_ms(m.timestamp))
    return out


def _artifacts_table(artifacts: Sequence[ArtifactInfo]) -> RenderableType:
    if not artifacts:
        return _output.empty_section("Artifacts", "No artifacts logged.")
    out = _output.table("Path", "Size", title="Artifacts")
    for info in artifacts:
        out.add_row(Text(info.path), _output.fmt_size(info.size or 0))
    return out


def comparison_table(comparison: RunComparison) -> RenderableType:
    """One column per run; params first, then latest metrics; params that differ are highlighted."""
    out = _output.table(Column("", no_wrap=True))
    for name, run_id in zip(comparison.run_names, comparison.run_ids, strict=True):
        out.add_column(Text.assemble((name, "bold"), "\n", (run_id, "cyan")), overflow="fold")
    differing = set(comparison.differing_params)
    for key, values in comparison.params.items():
        cells = [_output.plain(v) if v is not None else _output.MISSING for v in values]
        if key in differing:
            out.add_row(Text(f"≠ params.{key}"), *cells, style="bold yellow")
        else:
            out.add_row(Text(f"  params.{key}"), *cells)
    out.add_section()
    for key, points in comparison.metrics.items():
        out.add_row(Text(f"  metrics.{key}"), *(_output.fmt_number(p.value if p else None) for p in points))
    note = (f"[yellow]≠ marks the {len(differing)} param(s) that differ between these runs.[/yellow]"
            if differing else "[dim]All params are the same.[/dim]")
    return Group(out, "", note)


def history_table(run: Run, key: str, points: Sequence[Metric]) -> RenderableType:
    """Every logged point of one metric, in step order, as the service returns them."""
    if not points:
        return Text(f"Run {run.id} has no points for metric {key!r}.", style="dim")
    out = _output.table("Step", "Value", _output.time_column("Logged at"))
    for point in points:
        out.add_row(str(point.step), _output.fmt_number(point.value), _output.fmt_ms(point.timestamp))
    return Group(Text(f"{key} of run {run.name} ({run.id})", style="bold"), out)
