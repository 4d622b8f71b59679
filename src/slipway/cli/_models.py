"""``slipway models``: the model registry from the shell: list, inspect, approve, promote, compare,
download, rename, delete.

Every command opens the registry of the current settings (embedded, or the server's when
``SLIPWAY_SERVER_URL`` is set) and calls one service method; the rules and the errors are the
service's. The registry is imported when a command runs, not when the CLI starts: it brings
``slipway.models`` and pandas, which other commands do not need.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from slipway._redact import redact
from slipway.cli import _output
from slipway.cli._output import JsonFlag
from slipway.cli._session import opener

if TYPE_CHECKING:
    from slipway.registry import AliasChange, MetricValue, ModelGroup, ModelVersion, StatusChange

models_app = typer.Typer(
    help="Registered models: groups of numbered versions, each with its metrics, approval status and aliases "
    "such as prod. Register them from Python with slipway.register_model(...).",
    short_help="List, show, approve, promote, compare and download model versions.",
    no_args_is_help=True,
)

GroupArg = Annotated[str, typer.Argument(metavar="GROUP", help="The model group's name.", show_default=False)]
VersionArg = Annotated[int, typer.Argument(metavar="VERSION", min=1, help="The version number.", show_default=False)]
AliasArg = Annotated[str, typer.Argument(metavar="ALIAS", help="An alias such as prod or staging.", show_default=False)]
CommentOpt = Annotated[str | None, typer.Option("--comment", "-m", help="Why, for the history.")]

_STATUS_STYLES = {"Approved": "green", "Rejected": "red", "PendingManualApproval": "yellow"}
_SHORT_DESCRIPTION = 48


open_registry = opener(lambda client: client.registry)


def _short(text: str | None) -> Text:
    """The first line of a description, cut to fit a table cell."""
    first = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return Text(first if len(first) <= _SHORT_DESCRIPTION else first[: _SHORT_DESCRIPTION - 1] + "…")


def _metric(value: MetricValue | None) -> str:
    """A metric and, when known, its standard deviation to two digits: enough to judge an overlap."""
    if value is None:
        return _output.MISSING
    if value.std is None:
        return _output.fmt_number(value.value)
    return f"{_output.fmt_number(value.value)} ± {value.std:.2g}"


def _stage(version: ModelVersion) -> Text:
    """The aliases a version holds, and whether it is archived: where it stands in its life."""
    text = Text(", ".join(version.aliases), style="bold")
    if version.archived:
        text.append((" " if version.aliases else "") + "archived", style="dim")
    return text


# ---------------------------------------------------------------------------------------- listings


@models_app.command("list")
def list_command(as_json: JsonFlag = False) -> None:
    """List model groups by name, with their latest version and aliases."""
    with open_registry() as registry:
        found = redact(registry.list_groups())
    _output.emit(as_json, lambda: [g.model_dump(mode="json") for g in found], lambda: _groups_table(found))


def _groups_table(found: list[ModelGroup]) -> Table | str:
    if not found:
        return "[dim]No registered models yet. Register one from Python: slipway.register_model(NAME, model).[/dim]"
    out = _output.table(
        "Name", "Versions", "Aliases", "Description", "Modified by", _output.time_column("Last modified")
    )
    for g in found:
        aliases = " ".join(f"{alias}={number}" for alias, number in g.aliases.items())
        out.add_row(
            _output.plain(g.name),
            str(g.latest_version),
            Text(aliases),
            _short(g.description),
            _output.plain(g.updated_by),
            _output.fmt_time(g.updated_at),
        )
    return out


@models_app.command("versions")
def versions_command(
    group: GroupArg,
    filter_text: Annotated[
        str | None,
        typer.Option(
            "--filter",
            "-f",
            metavar="FILTER",
            help="Only versions matching, e.g. \"metrics.mse < 5 and status = 'Approved'\".",
        ),
    ] = None,
    include_archived: Annotated[bool, typer.Option("--all", "-a", help="Also show archived versions.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """List a group's versions, newest first: stage, approval status and who changed them last."""
    with open_registry() as registry:
        found = redact(registry.search_versions(group, filter=filter_text, include_archived=include_archived))
        if not found:
            registry.get_group(group)  # an unknown group is an error, not an empty table
    _output.emit(as_json, lambda: [v.model_dump(mode="json") for v in found], lambda: _versions_table(group, found))


def _versions_table(group: str, found: list[ModelVersion]) -> Table | str:
    if not found:
        return f"[dim]No versions of {escape(group)} match.[/dim]"
    out = _output.table(
        "Version", "Stage", "Status", "Short description", "Modified by", _output.time_column("Last modified")
    )
    for v in found:
        out.add_row(
            str(v.version),
            _stage(v),
            _output.fmt_status(v.status.value, _STATUS_STYLES),
            _short(v.description),
            _output.plain(v.updated_by),
            _output.fmt_time(v.updated_at),
        )
    return out


@models_app.command("show")
def show_command(group: GroupArg, version: VersionArg, as_json: JsonFlag = False) -> None:
    """Show one version: where it came from, its metrics, status history and files."""
    with open_registry() as registry:
        found = redact(registry.get_version(group, version))
        history = registry.status_history(group, version)
        files = registry.list_files(found.id)
    _output.emit(
        as_json,
        lambda: {
            **found.model_dump(mode="json"),
            "status_history": [h.model_dump(mode="json") for h in history],
            "files": [f.model_dump(mode="json") for f in files],
        },
        lambda: _version_detail(found, history),
        lambda: _output.key_value_table(
            "Metrics", {k: _metric(m) for k, m in found.metrics.items()}, empty="No metrics recorded."
        ),
        lambda: _output.key_value_table("Tags", found.tags, empty="No tags."),
        lambda: _history_table(history),
        lambda: _output.key_value_table(
            "Files", {f.path: _output.fmt_size(f.size or 0) for f in files}, empty="No files."
        ),
    )


def _version_detail(v: ModelVersion, history: list[StatusChange]) -> RenderableType:
    rows = _output.table("Field", "Value", title=f"{v.group} version {v.version}")
    source = f"{v.source_kind} {v.source_id}" if v.source_kind else _output.MISSING
    for label, value in (
        ("URI", Text(v.uri)),
        ("ID", Text(v.id)),
        ("Status", _output.fmt_status(v.status.value, _STATUS_STYLES)),
        ("Stage", _stage(v)),
        ("Flavor", Text(v.flavor or _output.MISSING)),
        ("Source", Text(source)),
        ("Registered", Text(f"{_output.fmt_time(v.created_at)} by {v.registered_by}")),
        ("Trusted", _trust(v)),
        ("Modified", Text(f"{_output.fmt_time(v.updated_at)} by {v.updated_by}")),
        ("Description", Text(v.description or _output.MISSING)),
    ):
        rows.add_row(label, value)
    return rows


def _trust(v: ModelVersion) -> Text:
    """Whether an admin vouched for the version's files (a server then loads pickles from it)."""
    if not v.trusted or v.trusted_at is None:
        return Text("no: a server loads it only in formats that run no code", style="dim")
    return Text(f"yes, since {_output.fmt_time(v.trusted_at)}, by {v.trusted_by}", style="yellow")


def _history_table(history: list[StatusChange]) -> RenderableType:
    if not history:
        return _output.empty_section("Approval history", "Pending since registration.")
    out = _output.table(_output.time_column("When"), "From", "To", "By", "Comment", title="Approval history")
    for h in history:
        out.add_row(
            _output.fmt_time(h.changed_at),
            _output.fmt_status(h.from_status.value, _STATUS_STYLES),
            _output.fmt_status(h.to_status.value, _STATUS_STYLES),
            _output.plain(h.changed_by),
            _output.plain(h.comment or ""),
        )
    return out


# ---------------------------------------------------------------------------------------- changes


@models_app.command("approve")
def approve_command(group: GroupArg, version: VersionArg, comment: CommentOpt = None) -> None:
    """Approve a version for production; the approval and its comment go into its history."""
    with open_registry() as registry:
        found = redact(registry.approve(group, version, comment=comment))
    _output.say(f"{escape(found.uri)} is now {_output.fmt_status(found.status.value, _STATUS_STYLES)}.")


@models_app.command("reject")
def reject_command(group: GroupArg, version: VersionArg, comment: CommentOpt = None) -> None:
    """Reject a version; the rejection and its comment go into its history."""
    with open_registry() as registry:
        found = redact(registry.reject(group, version, comment=comment))
    _output.say(f"{escape(found.uri)} is now {_output.fmt_status(found.status.value, _STATUS_STYLES)}.")


@models_app.command("trust")
def trust_command(group: GroupArg, version: VersionArg, comment: CommentOpt = None) -> None:
    """Mark a version trusted (admins): a server may then load it in formats that run code.

    A pyfunc, MLflow or skops-with-custom-types package runs the code it holds when it is loaded.
    A server serves it, runs it in pipelines and batch transforms only once an admin has looked at
    it and marked it; under separation of duties, not the admin who registered it. The mark is
    audited; `slipway models revoke-trust` takes it off.
    """
    with open_registry() as registry:
        found = registry.trust_version(group, version, comment=comment)
    _output.say(f"{escape(found.uri)} is now [yellow]trusted[/yellow]: servers may load it with code.")


@models_app.command("revoke-trust")
def revoke_trust_command(group: GroupArg, version: VersionArg, comment: CommentOpt = None) -> None:
    """Take the trust mark off a version (admins): servers load it in formats that run no code only."""
    with open_registry() as registry:
        found = registry.revoke_trust(group, version, comment=comment)
    _output.say(f"{escape(found.uri)} is no longer trusted.")


@models_app.command("rename")
def rename_command(
    group: GroupArg,
    new_name: Annotated[str, typer.Argument(metavar="NEW_NAME", help="The group's new name.", show_default=False)],
) -> None:
    """Rename a model group; its versions, aliases and histories go with it.

    models:/GROUP/... URIs that name the old group stop resolving at once; endpoints keep serving
    the versions they pinned.
    """
    with open_registry() as registry:
        found = registry.rename_group(group, new_name)
    _output.say(f"Model group {escape(group)} is now [bold]{escape(found.name)}[/bold].")


@models_app.command("delete")
def delete_command(
    group: GroupArg,
    version: Annotated[int | None, typer.Argument(
        metavar="[VERSION]", min=1, help="Delete only this version; without it, the whole group.", show_default=False,
    )] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a model group with all its versions, or one version: files, metrics, tags and aliases.

    Refused while an endpoint serves one of the versions (the error names it); deleting an Approved
    version needs the approver role. The audit trail keeps the deletion. To keep a version but hide
    it, archive it instead.
    """
    what = f"{group} version {version}" if version is not None else f"model group {group} and all its versions"
    if not yes:
        typer.confirm(f"Delete {what}?", abort=True)
    with open_registry() as registry:
        if version is None:
            registry.delete_group(group)
        else:
            registry.delete_version(group, version)
    _output.say(f"Deleted {escape(what)}.")


@models_app.command("alias")
def alias_command(group: GroupArg, alias: AliasArg, version: VersionArg, comment: CommentOpt = None) -> None:
    """Point ALIAS (e.g. prod) at VERSION, taking it off the version that held it."""
    with open_registry() as registry:
        found = redact(registry.set_alias(group, alias, version, comment=comment))
    _output.say(f"[bold]{escape(alias)}[/bold] now points at {escape(found.uri)}.")


@models_app.command("history")
def history_command(group: GroupArg, alias: AliasArg, as_json: JsonFlag = False) -> None:
    """Every move of an alias, oldest first: which version was prod, and since when."""
    with open_registry() as registry:
        found = registry.alias_history(group, alias)
    _output.emit(as_json, lambda: [h.model_dump(mode="json") for h in found], lambda: _alias_table(alias, found))


def _alias_table(alias: str, found: list[AliasChange]) -> Table | str:
    if not found:
        return f"[dim]The alias {escape(alias)} has never been set.[/dim]"
    out = _output.table(_output.time_column("Since"), "Version", "Previous", "By", "Comment")
    for h in found:
        out.add_row(
            _output.fmt_time(h.changed_at),
            str(h.version) if h.version else "[dim]removed[/dim]",
            str(h.previous_version or _output.MISSING),
            _output.plain(h.changed_by),
            _output.plain(h.comment or ""),
        )
    return out


@models_app.command("compare")
def compare_command(
    group: GroupArg,
    versions: Annotated[
        list[int], typer.Argument(metavar="VERSION", help="Two or more version numbers.", show_default=False)
    ],
    as_json: JsonFlag = False,
) -> None:
    """Show versions side by side: each metric with its spread (± one standard deviation)."""
    with open_registry() as registry:
        comparison = redact(registry.compare_versions(group, versions))
    out = _output.table("", *(f"v{n}" for n in comparison.versions), title=f"{group}: versions compared")
    out.add_row("status", *(_output.fmt_status(s.value, _STATUS_STYLES) for s in comparison.statuses))
    for name, values in comparison.metrics.items():
        out.add_row(_output.plain(name), *(_metric(m) for m in values))
    _output.emit(as_json, lambda: comparison.model_dump(mode="json"), lambda: Group(out))


@models_app.command("download")
def download_command(
    group: GroupArg,
    version: VersionArg,
    dst: Annotated[Path, typer.Argument(metavar="DIR", help="The folder to write the package into.")],
) -> None:
    """Download a version's package (manifest, model files, example, card) into DIR."""
    with open_registry() as registry:
        folder = registry.download_version(group, version, dst)
    _output.say(f"Downloaded {escape(group)} version {version} to {escape(str(folder))}.")


@models_app.command("bundle")
def bundle_command(
    ref: Annotated[str, typer.Argument(metavar="GROUP/VERSION|GROUP@ALIAS", help="The version to bundle.",
                                       show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="DIR", help="The folder to write (new or empty).",
                                         show_default=False)],
    name: Annotated[str | None, typer.Option(help="The endpoint's name [default: the group's].",
                                             show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Bundle a version that is not Approved.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write a serving bundle: the version's files, hashed, as an endpoint `slipway serve --bundle DIR`
    serves with no database, and a Dockerfile and Kubernetes manifest that run it.

    A version that runs code when loaded (pyfunc, MLflow) is bundled only if an admin marked it trusted.
    """
    from slipway.cli._bundle import report
    from slipway.serving import bundle_model  # brings the model flavors: import when the command runs

    with open_registry() as registry:
        bundle = bundle_model(registry, ref, output, name=name, force=force)
    report(bundle, as_json)
