"""``slipway runs``: list, search, inspect, compare and download runs."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from slipway._redact import check_reveal, redact_record
from slipway.cli import _output
from slipway.cli._output import JsonFlag
from slipway.cli._run_views import comparison_table, history_table, run_detail, runs_table
from slipway.cli._session import experiment_ids, open_tracking
from slipway.client import RemoteTracking
from slipway.store.artifacts import ArtifactInfo, normalize_path

if TYPE_CHECKING:
    from slipway.client import TrackingApi as Tracking

runs_app = typer.Typer(
    help="Runs: one training or evaluation each, with the params, metrics, tags and files it recorded.",
    short_help="List, search, show, compare and download runs.",
    no_args_is_help=True,
)

RunIdArg = Annotated[
    str, typer.Argument(metavar="RUN_ID", help="The run's id, as `slipway runs list` shows it.",
                        show_default=False)
]
ExperimentsOpt = Annotated[
    list[str] | None,
    typer.Option("--experiment", "-e", metavar="NAME",
                 help="Only runs of this experiment (its name or id); repeat for several."),
]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many runs.")]
MAX_CHILDREN_SHOWN = 1000  # `runs search "parent_run_id = 'ID'"` lists them all
RevealOpt = Annotated[
    bool,
    typer.Option("--reveal-secrets",
                 help="Show params and tags whose keys look like secrets (password, token, key...) instead of "
                      "***. Admins only."),
]


@runs_app.command("list")
def list_command(
    experiment: ExperimentsOpt = None, limit: LimitOpt = 20, as_json: JsonFlag = False, reveal: RevealOpt = False
) -> None:
    """List the latest runs, newest first, with their metrics."""
    _show_runs(experiment or [], None, [], limit, as_json, reveal)


@runs_app.command("search")
def search_command(
    filter_text: Annotated[
        str, typer.Argument(metavar="FILTER", help='The filter, e.g. "metrics.mse < 5".', show_default=False)
    ],
    experiment: ExperimentsOpt = None,
    order_by: Annotated[
        list[str] | None,
        typer.Option("--order-by", "-o", metavar="KEY [ASC|DESC]",
                     help='Sort by this, e.g. "metrics.mse ASC"; repeat to break ties. '
                          "Newest first by default."),
    ] = None,
    limit: LimitOpt = 20,
    as_json: JsonFlag = False,
    reveal: RevealOpt = False,
) -> None:
    """Find runs by a filter over their metrics, params, tags and attributes.

    Examples:

        slipway runs search "metrics.mse < 5"
        slipway runs search "metrics.mse < 5" --order-by "metrics.mse ASC" --limit 3
        slipway runs search "params.model = 'rf' and metrics.r2 >= 0.8"
        slipway runs search "tags.team IN ('search', 'ads') or status = 'FAILED'"
        slipway runs search "metrics.`val loss` < 0.1"

    Metrics compare as numbers, params and tags as strings (in quotes); `IS NULL` asks whether a key
    is missing. Keys with spaces or dots go in backticks, as in the last example.
    """
    _show_runs(experiment or [], filter_text, order_by or [], limit, as_json, reveal)


def _reading(tracking: Tracking, reveal: bool) -> Tracking:
    """Where to read runs from: a server redacts secrets itself, so asking to see them goes to it."""
    return tracking.revealing_secrets() if reveal and isinstance(tracking, RemoteTracking) else tracking


def _show_runs(experiments: list[str], filter_text: str | None, order_by: list[str], limit: int,
               as_json: bool, reveal: bool) -> None:
    """``runs list`` is a search without a filter: both print the same table or JSON."""
    with open_tracking() as tracking:
        page = _reading(tracking, reveal).search_runs(experiment_ids(tracking, experiments), filter=filter_text,
                                                      order_by=order_by or None, max_results=limit)
        page = redact_record(page, check_reveal(reveal))
        names = {e.id: e.name for e in tracking.list_experiments(include_deleted=True)}
    more = f"[dim]Showing the first {limit} runs; more match (raise --limit to see them).[/dim]"
    _output.emit(as_json, lambda: [r.model_dump(mode="json") for r in page.runs],
                 lambda: runs_table(page.runs, names), *([lambda: more] if page.next_page_token else []))


@runs_app.command("show")
def show_command(run_id: RunIdArg, as_json: JsonFlag = False, reveal: RevealOpt = False) -> None:
    """Show one run: its params, latest metrics, tags, the data sets it read, its child runs and artifacts."""
    with open_tracking() as tracking:
        run = redact_record(_reading(tracking, reveal).get_run(run_id), check_reveal(reveal))
        experiment = tracking.get_experiment(run.experiment_id)
        artifacts = tracking.list_artifacts(run_id, recursive=True)
        quoted = run.id.replace("'", "''")
        children = tracking.search_runs(filter=f"parent_run_id = '{quoted}'", max_results=MAX_CHILDREN_SHOWN).runs
    _output.emit(
        as_json,
        lambda: {**run.model_dump(mode="json"), "artifacts": [a.model_dump(mode="json") for a in artifacts],
                 "child_run_ids": [c.id for c in children]},
        lambda: run_detail(run, experiment.name, artifacts, children),
    )


@runs_app.command("compare")
def compare_command(
    run_ids: Annotated[
        list[str],
        typer.Argument(metavar="RUN_ID", help="The runs to compare (two or more).", show_default=False),
    ],
    as_json: JsonFlag = False,
    reveal: RevealOpt = False,
) -> None:
    """Show runs side by side: one column per run, params that differ highlighted."""
    with open_tracking() as tracking:
        comparison = redact_record(_reading(tracking, reveal).compare_runs(run_ids), check_reveal(reveal))
    _output.emit(as_json, lambda: comparison.model_dump(mode="json"), lambda: comparison_table(comparison))


@runs_app.command("history")
def history_command(
    run_id: RunIdArg,
    key: Annotated[
        str, typer.Argument(metavar="KEY", help="The metric's name, e.g. loss.", show_default=False)
    ],
    as_json: JsonFlag = False,
) -> None:
    """Show every value a run logged for one metric, step by step."""
    with open_tracking() as tracking:
        run = tracking.get_run(run_id)
        points = tracking.get_metric_history(run_id, key)
    _output.emit(as_json, lambda: [p.model_dump(mode="json") for p in points],
                 lambda: history_table(run, key, points))


@runs_app.command("download")
def download_command(
    run_id: RunIdArg,
    path: Annotated[
        str,
        typer.Argument(metavar="PATH", help="A file or folder of the run's artifacts (all if left out)."),
    ] = "",
    dest: Annotated[
        Path,
        typer.Option("--dest", "-d", file_okay=False, help="Folder to download into (created if missing)."),
    ] = Path("."),
) -> None:
    """Download a run's artifacts to a local folder, with a progress bar.

    A file lands in DEST under its own name and a folder as a folder of DEST, as with `cp -r`;
    without PATH the run's whole tree lands in DEST.
    """
    with open_tracking() as tracking:
        plan = _download_plan(tracking, run_id, path, dest)
        if not plan:
            if path:  # nothing listed there: the service's own download names what is missing
                tracking.download_artifacts(run_id, path, dest)
            _output.say(f"Nothing to download: run {run_id} has no artifacts.")
            return
        _download(tracking, run_id, plan)
    total = sum(info.size or 0 for info, _ in plan)
    _output.say(f"Downloaded {len(plan)} file(s), {_output.fmt_size(total)}, to {escape(str(dest))}.")


def _download_plan(tracking: Tracking, run_id: str, path: str, dest: Path) -> list[tuple[ArtifactInfo, Path]]:
    """Each file to fetch and where it lands, so the progress bar knows the total up front.

    A folder (or the whole run) lists its files; a single file is found in its parent's listing,
    which also gives its size.
    """
    path = normalize_path(path)
    files = tracking.list_artifacts(run_id, path, recursive=True)
    if files:
        root = PurePosixPath(path)
        base = dest / root.name if path else dest
        return [(f, base.joinpath(*PurePosixPath(f.path).relative_to(root).parts)) for f in files]
    if not path:
        return []
    parent = PurePosixPath(path).parent.as_posix()
    siblings = tracking.list_artifacts(run_id, "" if parent == "." else parent)
    return [(f, dest / PurePosixPath(f.path).name) for f in siblings if f.path == path and not f.is_dir]


def _download(tracking: Tracking, run_id: str, plan: list[tuple[ArtifactInfo, Path]]) -> None:
    """Fetch file after file, advancing one bar by bytes so large files weigh as they should."""
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=_output.stderr(), transient=False) as progress:
        task = progress.add_task("Downloading", total=sum(info.size or 0 for info, _ in plan))
        for info, target in plan:
            progress.update(task, description=escape(info.path))
            target.parent.mkdir(parents=True, exist_ok=True)
            tracking.download_artifacts(run_id, info.path, target)
            progress.advance(task, info.size or 0)
        progress.update(task, description="Downloaded")
