"""``slipway experiments``: list, create, delete and restore experiments."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from slipway._redact import redact
from slipway.cli import _output
from slipway.cli._output import JsonFlag
from slipway.cli._session import find_experiment, open_tracking, parse_key_values
from slipway.tracking import Experiment

experiments_app = typer.Typer(
    help="Experiments: named groups of runs, such as one per model or per question you are exploring.",
    short_help="List, create, delete and restore experiments.",
    no_args_is_help=True,
)

ExperimentArg = Annotated[
    str, typer.Argument(metavar="EXPERIMENT", help="The experiment's name (or its id).", show_default=False)
]


@experiments_app.command("list")
def list_command(
    include_deleted: Annotated[
        bool, typer.Option("--all", "-a", help="Also show deleted experiments (they can be restored).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """List experiments, oldest first."""
    with open_tracking() as tracking:
        found = redact(tracking.list_experiments(include_deleted=include_deleted))
    _output.emit(as_json, lambda: [e.model_dump(mode="json") for e in found],
                 lambda: _experiments_table(found, include_deleted))


def _experiments_table(found: list[Experiment], with_stage: bool) -> Table | str:
    """The experiments as a table; the stage column only when deleted ones may be in it."""
    if not found:
        return ("[dim]No experiments yet. Create one with `slipway experiments create NAME`, "
                "or start a run.[/dim]")
    out = _output.table(_output.id_column(), "Name", "Description", "Tags", _output.time_column("Created"))
    if with_stage:
        out.add_column("Stage")
    for exp in found:
        stage = [exp.lifecycle_stage.value] if with_stage else []
        out.add_row(exp.id, _output.plain(exp.name), _output.plain(exp.description or ""),
                    _output.fmt_pairs(sorted(exp.tags.items())), _output.fmt_time(exp.created_at), *stage)
    return out


@experiments_app.command("create")
def create_command(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="A name for the experiment, unique in this store.",
                            show_default=False)
    ],
    description: Annotated[
        str | None, typer.Option("--description", "-d", help="What the experiment is about.")
    ] = None,
    tags: Annotated[
        list[str] | None,
        typer.Option("--tag", "-t", metavar="KEY=VALUE", help="A tag to attach; repeat for several."),
    ] = None,
) -> None:
    """Create an experiment to group runs under.

    Runs started with slipway.start_run("NAME") create their experiment when it is missing, so this
    is only needed to set a description or tags up front.
    """
    tag_values = parse_key_values(tags or [], "--tag")
    with open_tracking() as tracking:
        exp = tracking.create_experiment(name, description=description, tags=tag_values)
    _output.say(f"Created experiment [bold]{escape(exp.name)}[/bold] ({exp.id}).")


@experiments_app.command("delete")
def delete_command(experiment: ExperimentArg) -> None:
    """Delete an experiment: it and its runs are hidden, but kept and can be restored."""
    _set_deleted(experiment, deleted=True)


@experiments_app.command("restore")
def restore_command(experiment: ExperimentArg) -> None:
    """Bring back a deleted experiment and its runs."""
    _set_deleted(experiment, deleted=False)


def _set_deleted(name_or_id: str, *, deleted: bool) -> None:
    """Delete and restore differ only in the service call and the word printed."""
    with open_tracking() as tracking:
        exp = find_experiment(tracking, name_or_id)
        if deleted:
            tracking.delete_experiment(exp.id)
        else:
            tracking.restore_experiment(exp.id)
    done = "Deleted" if deleted else "Restored"
    _output.say(f"{done} experiment [bold]{escape(exp.name)}[/bold] ({exp.id}).")
