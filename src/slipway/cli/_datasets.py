"""``slipway datasets``: register, list, inspect, download, compare and trace dataset versions.

Every command opens the dataset service of the current settings (embedded, or the server's when
``SLIPWAY_SERVER_URL`` is set) and calls one method; rules and errors are the service's. A
version is named ``NAME`` (the latest) or ``NAME:VERSION``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table

from slipway.cli import _output
from slipway.cli._output import JsonFlag
from slipway.cli._session import opener, parse_key_values, parse_ref

if TYPE_CHECKING:
    from slipway.datasets import DatasetDiff, DatasetVersion
    from slipway.lineage import LineageGraph

datasets_app = typer.Typer(
    help="Datasets: named data with immutable, content-hashed versions (CSV, Parquet or JSON lines), "
    "each with its schema, row count, statistics and preview.",
    short_help="Register, list, show, download and diff dataset versions.",
    no_args_is_help=True,
)

RefArg = Annotated[str, typer.Argument(metavar="NAME[:VERSION]", help="A dataset, and a version (default: latest).",
                                       show_default=False)]
VersionOpt = Annotated[int | None, typer.Argument(metavar="VERSION", min=1, help="The version, if not given as "
                                                  "NAME:VERSION (default: latest).", show_default=False)]
NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The dataset's name.", show_default=False)]
PREVIEW_ROWS = 5


open_datasets = opener(lambda client: client.datasets)


@datasets_app.command("register")
def register_command(
    name: NameArg,
    source: Annotated[str, typer.Argument(metavar="SOURCE", help="A file, a folder, file:// or s3:// URI.",
                                          show_default=False)],
    format: Annotated[str | None, typer.Option("--format", "-f", help="csv, parquet or jsonl (default: "
                                                                      "from the extension).")] = None,
    description: Annotated[str | None, typer.Option("--description", "-d", help="What this version is.")] = None,
    tags: Annotated[list[str] | None, typer.Option("--tag", "-t", metavar="KEY=VALUE", help="Repeat for several.")
                    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register data as the next version of NAME (the dataset is created on first use).

    Data the dataset already holds is not stored again: the existing version is reported.
    """
    tag_values = parse_key_values(tags or [], "--tag")
    with open_datasets() as datasets:
        done = datasets.register(name, source, format=format, description=description, tags=tag_values)
    version = done.version
    if as_json:
        _output.print_json(done.model_dump(mode="json"))
    elif done.created:
        _output.say(f"Registered [bold]{escape(version.ref)}[/bold]: {version.num_rows:,} rows, "
                    f"{len(version.columns)} columns, {_output.fmt_size(version.num_bytes)} ({version.id}).")
    else:
        _output.say(f"[bold]{escape(version.ref)}[/bold] already holds this content; nothing new was stored.")


@datasets_app.command("list")
def list_command(as_json: JsonFlag = False) -> None:
    """List datasets with their latest version."""
    with open_datasets() as datasets:
        found = datasets.list_datasets()

    def view() -> RenderableType:
        if not found:
            return "[dim]No datasets yet. Register one with `slipway datasets register NAME FILE`.[/dim]"
        out = _output.table("Name", "Latest", "Description", _output.time_column("Updated"))
        for dataset in found:
            out.add_row(_output.plain(dataset.name), str(dataset.latest_version or _output.MISSING),
                        _output.plain(dataset.description or ""), _output.fmt_time(dataset.updated_at))
        return out

    _output.emit(as_json, lambda: [d.model_dump(mode="json") for d in found], view)


@datasets_app.command("versions")
def versions_command(name: NameArg, as_json: JsonFlag = False) -> None:
    """List the versions of a dataset, oldest first."""
    with open_datasets() as datasets:
        found = datasets.list_versions(name)

    def view() -> Table:
        out = _output.table("Version", "Rows", "Columns", "Size", "Source", "By", _output.time_column("Created"),
                            "Hash")
        for v in found:
            out.add_row(str(v.version), f"{v.num_rows:,}", str(len(v.columns)), _output.fmt_size(v.num_bytes),
                        _output.plain(v.source), _output.plain(v.created_by), _output.fmt_time(v.created_at),
                        v.content_hash[:12])
        return out

    _output.emit(as_json, lambda: [v.model_dump(mode="json") for v in found], view)


@datasets_app.command("show")
def show_command(ref: RefArg, version_arg: VersionOpt = None, as_json: JsonFlag = False) -> None:
    """Show a version: its schema with column statistics, and its first rows."""
    name, number = parse_ref(ref, version_arg)
    with open_datasets() as datasets:
        version = datasets.get_version(name, number)
        stats = datasets.get_statistics(name, version.version)
    if as_json:
        _output.print_json({"version": version.model_dump(mode="json"), "statistics": stats.to_dict()})
        return
    from slipway.datasets import column_summary  # brings pyarrow: import when the command runs

    columns = _output.table("Column", "Type", "Present", "Missing", "Distinct", "Mean", "Min", "Max", "Top",
                            title="Columns")
    for column in version.columns:
        s: dict[str, Any] = column_summary(stats.columns[column.name]) if column.name in stats.columns else {}
        columns.add_row(_output.plain(column.name), column.type, f"{s.get('num_present', 0):,}",
                        f"{s.get('num_missing', 0):,}", f"{s.get('distinct_count', 0):,}",
                        _output.fmt_number(s.get("mean")), _output.fmt_number(s.get("min")),
                        _output.fmt_number(s.get("max")), _output.plain(", ".join(s.get("top", [])[:3])))
    _output.stdout().print(Group(_header(version), columns, _preview(version)))


def _header(version: DatasetVersion) -> str:
    lines = [f"[bold]{escape(version.ref)}[/bold]  {version.num_rows:,} rows, {_output.fmt_size(version.num_bytes)}",
             f"id {version.id}   sha256 {version.content_hash}",
             f"source {escape(version.source)}   by {escape(version.created_by)} at "
             f"{_output.fmt_time(version.created_at)}"]
    if version.description:
        lines.append(escape(version.description))
    return "\n".join(lines) + "\n"


def _preview(version: DatasetVersion) -> RenderableType:
    if not version.preview:
        return _output.empty_section("First rows", "The version has no rows.")
    shown = min(PREVIEW_ROWS, len(version.preview))
    out = _output.table(*[c.name for c in version.columns], title=f"First {shown} rows")
    for row in version.preview[:PREVIEW_ROWS]:
        out.add_row(*[_output.plain(_output.MISSING if row.get(c.name) is None else row[c.name])
                      for c in version.columns])
    return out


@datasets_app.command("download")
def download_command(
    ref: RefArg,
    dest: Annotated[Path, typer.Argument(metavar="DEST", help="The file to write (Parquet).", show_default=False)],
) -> None:
    """Download a version's data as a Parquet file."""
    name, number = parse_ref(ref)
    with open_datasets() as datasets:
        version = datasets.get_version(name, number)
        datasets.download(name, version.version, dest)
    _output.say(f"Wrote {escape(version.ref)} to {escape(str(dest))} ({_output.fmt_size(version.num_bytes)}).")


@datasets_app.command("diff")
def diff_command(
    name: NameArg,
    first: Annotated[int, typer.Argument(metavar="V1", min=1, help="The first version.", show_default=False)],
    second: Annotated[int, typer.Argument(metavar="V2", min=1, help="The second version.", show_default=False)],
    as_json: JsonFlag = False,
) -> None:
    """Compare two versions: columns added, removed or retyped, and their statistics side by side."""
    with open_datasets() as datasets:
        diff = datasets.diff(name, first, second)
    _output.emit(as_json, lambda: diff.model_dump(mode="json"), lambda: _diff_table(diff))


_CHANGE_STYLES = {"added": "green", "removed": "red", "type_changed": "yellow", "unchanged": "dim"}
_DIFF_STATS = ("num_missing", "distinct_count", "mean", "std_dev", "min", "max", "p50")


def _diff_table(diff: DatasetDiff) -> RenderableType:
    a, b = diff.versions
    head = (f"[bold]{escape(diff.dataset_name)}[/bold] {a} → {b}: rows {diff.num_rows[0]:,} → {diff.num_rows[1]:,}"
            + ("  [dim](same content)[/dim]" if diff.same_content else ""))
    out = _output.table("Column", "Change", "Type", *[s.replace("_", " ") for s in _DIFF_STATS])
    for column in diff.columns:
        style = _CHANGE_STYLES[column.change]
        types = " → ".join(t or _output.MISSING for t in column.types) if column.types[0] != column.types[1] \
            else str(column.types[0])
        cells = [" → ".join(_fmt(v) for v in column.statistics.get(s, [None, None])) for s in _DIFF_STATS]
        out.add_row(_output.plain(column.name), f"[{style}]{column.change}[/{style}]", types, *cells)
    return Group(head, out)


def _fmt(value: Any) -> str:
    return _output.fmt_number(value) if isinstance(value, float) else (_output.MISSING if value is None else str(value))


@datasets_app.command("lineage")
def lineage_command(
    ref: RefArg,
    version_arg: VersionOpt = None,
    upstream: Annotated[bool, typer.Option("--upstream", help="What the version came from, instead of what "
                                                               "was made from it.")] = False,
    depth: Annotated[int, typer.Option("--depth", min=1, help="How many hops to follow.")] = 3,
    as_json: JsonFlag = False,
) -> None:
    """Show what was made from a version (runs, steps, other datasets), or with --upstream what it came from."""
    name, number = parse_ref(ref, version_arg)
    with open_datasets() as datasets:
        graph = datasets.lineage(name, number, direction="upstream" if upstream else "downstream", depth=depth)
    _output.emit(as_json, lambda: _graph_json(graph), lambda: _graph_table(graph))


def _graph_json(graph: LineageGraph) -> dict[str, Any]:
    return {"root": list(graph.root),
            "nodes": [{"kind": n.kind, "id": n.id, "name": n.name} for n in graph.nodes],
            "edges": [{"src": list(e.src), "dst": list(e.dst), "relation": e.relation} for e in graph.edges]}


def _graph_table(graph: LineageGraph) -> RenderableType:
    if not graph.edges:
        return "[dim]No lineage recorded yet for this version.[/dim]"
    names = {(n.kind, n.id): n.name or n.id for n in graph.nodes}
    out = _output.table("From", "Relation", "To")
    for edge in graph.edges:
        out.add_row(_output.plain(f"{edge.src[0]} {names.get(edge.src, edge.src[1])}"), edge.relation,
                    _output.plain(f"{edge.dst[0]} {names.get(edge.dst, edge.dst[1])}"))
    return out
