"""``slipway features``: feature groups from the shell: create, inspect, ingest, serve and build training sets.

Every command opens the feature service of the current settings (embedded, or the server's when
``SLIPWAY_SERVER_URL`` is set) and calls one method; rules and errors are the service's. Files
are read and written with pandas by their extension (``.csv``, ``.parquet``, ``.jsonl``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group, RenderableType
from rich.markup import escape

from slipway.cli import _output
from slipway.cli._output import JsonFlag
from slipway.cli._session import opener, parse_key_values

if TYPE_CHECKING:
    import pandas as pd

    from slipway.features import FeatureGroup

features_app = typer.Typer(
    help="Feature groups: typed features keyed by a record id with an event time; history offline (Parquet), "
    "latest values online (SQLite or Redis), point-in-time training sets.",
    short_help="Create feature groups, ingest, serve online values, build training sets.",
    no_args_is_help=True,
)

GroupArg = Annotated[str, typer.Argument(metavar="GROUP", help="The feature group's name.", show_default=False)]
FileArg = Annotated[Path, typer.Argument(metavar="FILE", help="A .csv, .parquet or .jsonl file.", show_default=False,
                                         exists=True, dir_okay=False)]


open_features = opener(lambda client: client.features)


def read_frame(path: Path) -> pd.DataFrame:
    """A table file as a DataFrame, by extension; anything else is a usage error."""
    import pandas as pd  # the CLI starts without pandas; only commands reading files need it

    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".jsonl", ".ndjson", ".json"):
        return pd.read_json(path, lines=True)
    raise typer.BadParameter(f"{path}: use a .csv, .parquet or .jsonl file")


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix in (".jsonl", ".ndjson", ".json"):
        frame.to_json(path, orient="records", lines=True, date_format="iso")
    else:
        frame.to_parquet(path, index=False)


def _when(value: str | None, option: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO time such as 2024-06-01T12:00", param_hint=option) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@features_app.command("create")
def create_command(
    name: GroupArg,
    features: Annotated[list[str], typer.Option("--feature", "-f", metavar="NAME:TYPE",
                                                help="A feature and its type (int64, float64, string, bool, "
                                                     "timestamp); repeat for each, the id and time included.")],
    record_id: Annotated[str, typer.Option("--record-id", help="The feature identifying a record.")],
    event_time: Annotated[str, typer.Option("--event-time", help="The feature saying when values were true.")],
    description: Annotated[str | None, typer.Option("--description", "-d", help="What the group holds.")] = None,
    ttl: Annotated[int | None, typer.Option("--ttl", min=1, help="Online values expire after this many seconds "
                                                                "(by event time).")] = None,
    tags: Annotated[list[str] | None, typer.Option("--tag", "-t", metavar="KEY=VALUE")] = None,
) -> None:
    """Create a feature group."""
    schema = {}
    for item in features:
        feature, sep, kind = item.partition(":")
        if not sep:
            raise typer.BadParameter(f"{item!r} is not NAME:TYPE", param_hint="'--feature'")
        schema[feature] = kind
    tag_values = parse_key_values(tags or [], "--tag")
    with open_features() as service:
        group = service.create_group(name, schema, record_id=record_id, event_time=event_time,
                                     description=description, ttl_seconds=ttl, tags=tag_values)
    _output.say(f"Created feature group [bold]{escape(group.name)}[/bold] with {len(group.features)} features "
                f"({group.id}).")


@features_app.command("list")
def list_command(as_json: JsonFlag = False) -> None:
    """List feature groups."""
    with open_features() as service:
        found = service.list_groups()

    def view() -> RenderableType:
        if not found:
            return "[dim]No feature groups yet. Create one with `slipway features create`.[/dim]"
        out = _output.table("Name", "Record id", "Event time", "Features", "TTL", "Schema", "Description")
        for g in found:
            out.add_row(_output.plain(g.name), _output.plain(g.record_id), _output.plain(g.event_time),
                        str(len(g.value_features)), f"{g.ttl_seconds}s" if g.ttl_seconds else _output.MISSING,
                        f"v{g.schema_version}", _output.plain(g.description or ""))
        return out

    _output.emit(as_json, lambda: [g.model_dump(mode="json") for g in found], view)


@features_app.command("show")
def show_command(name: GroupArg, as_json: JsonFlag = False) -> None:
    """Show a group's features and settings."""
    with open_features() as service:
        group = service.get_group(name)
    _output.emit(as_json, lambda: group.model_dump(mode="json"), lambda: _group_view(group))


def _group_view(group: FeatureGroup) -> Group:
    head = (f"[bold]{escape(group.name)}[/bold] ({group.id})  schema v{group.schema_version}, TTL "
            f"{f'{group.ttl_seconds}s' if group.ttl_seconds else 'none'}\n{escape(group.description or '')}")
    out = _output.table("Feature", "Type", "Role")
    for f in group.features:
        role = "record id" if f.name == group.record_id else "event time" if f.name == group.event_time else ""
        out.add_row(_output.plain(f.name), f.type, role)
    return Group(head, out)


@features_app.command("ingest")
def ingest_command(
    name: GroupArg, file: FileArg,
    offline_only: Annotated[bool, typer.Option("--offline-only", help="Do not update the online store.")] = False,
) -> None:
    """Ingest a file's rows (every feature as a column) into a group's history and online store."""
    frame = read_frame(file)
    with open_features() as service:
        done = service.ingest(name, frame, online=not offline_only)
    _output.say(f"Ingested {done.rows:,} rows into [bold]{escape(name)}[/bold]: {done.offline_files} offline "
                f"file(s), {done.online_records:,} online record(s) updated.")


@features_app.command("materialize")
def materialize_command(
    name: GroupArg,
    start: Annotated[str | None, typer.Option("--start", help="Only event times from this ISO time.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Only event times up to this ISO time.")] = None,
) -> None:
    """Copy the latest offline value of each id to the online store."""
    with open_features() as service:
        done = service.materialize(name, start=_when(start, "--start"), end=_when(end, "--end"))
    _output.say(f"Materialized {done.records:,} record(s) of [bold]{escape(name)}[/bold] into the online store.")


@features_app.command("get")
def get_command(
    groups: Annotated[str, typer.Argument(metavar="GROUP[,GROUP...]", help="One or more groups, comma-separated.",
                                          show_default=False)],
    ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Record ids.", show_default=False)],
    as_json: JsonFlag = False,
) -> None:
    """Read the latest online values of some ids."""
    names = [g for g in groups.split(",") if g]
    with open_features() as service:
        found = service.get_online_features(names, ids)

    def view() -> RenderableType:
        columns = list(found[0]) if found else ["id"]
        out = _output.table(*columns)
        for row in found:
            out.add_row(*[_output.plain(_output.MISSING if row.get(c) is None else row[c]) for c in columns])
        return out

    _output.emit(as_json, lambda: found, view)


@features_app.command("training-set")
def training_set_command(
    entities: Annotated[Path, typer.Argument(metavar="ENTITIES", help="A file of ids and times (one row per "
                                                                     "example).", exists=True, dir_okay=False)],
    groups: Annotated[list[str], typer.Option("--group", "-g", help="A group whose features to join; repeat.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the result here (.parquet, .csv, "
                                                                      ".jsonl).")] = None,
    register: Annotated[str | None, typer.Option("--register", help="Register the result as a version of this "
                                                                   "dataset.")] = None,
    event_time_column: Annotated[str, typer.Option("--event-time-column", help="The entities' time column.")
                                 ] = "event_time",
    max_age: Annotated[float | None, typer.Option("--max-age", min=0, help="Values older than this many seconds "
                                                                          "count as missing.")] = None,
) -> None:
    """Join features as they were at each entity row's time (never from its future)."""
    if output is None and register is None:
        raise typer.BadParameter("give --output FILE, --register DATASET, or both")
    frame = read_frame(entities)
    age = None if max_age is None else dt.timedelta(seconds=max_age)
    with open_features() as service:
        if register is not None:
            done = service.register_training_set(register, frame, groups, event_time_column=event_time_column,
                                                 max_age=age)
            _output.say(f"Registered the training set as [bold]{escape(done.version.ref)}[/bold] "
                        f"({done.version.num_rows:,} rows).")
        if output is not None:
            result = service.training_set(frame, groups, event_time_column=event_time_column, max_age=age)
            write_frame(result, output)
            _output.say(f"Wrote {len(result):,} rows x {len(result.columns)} columns to {escape(str(output))}.")
