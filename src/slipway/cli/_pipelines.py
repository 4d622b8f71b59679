"""``slipway pipelines``: run pipelines and follow, steer and explain their executions from the shell.

Every command opens the pipelines service of the current settings (embedded, or the server's when
``SLIPWAY_SERVER_URL`` is set) and calls one service method; the rules and the errors are the
service's. Embedded, ``run``, ``resume`` and ``retry`` orchestrate the execution in this process
and wait for it (Ctrl-C stops it); with ``--detach`` against a server they return at once.
"""

from __future__ import annotations

import contextlib
import json
import time
import traceback
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from rich.tree import Tree

from slipway._config import load_settings
from slipway._redact import redact
from slipway.cli import _output
from slipway.cli._output import JsonFlag
from slipway.cli._session import json_or_text, parse_key_values, parse_ref
from slipway.client import Client
from slipway.errors import SlipwayError

if TYPE_CHECKING:
    from slipway.client import PipelinesApi as Pipelines
    from slipway.pipelines import CacheExplanation, PipelineExecution, Services, StepExecution

pipelines_app = typer.Typer(
    help="Pipelines: DAGs of steps (processing, training, tuning, conditions, registering models) with "
    "parameters. Define them in Python, run them here, and follow each execution step by step.",
    short_help="Run pipelines; list, show, resume, retry, stop and explain their executions.",
    no_args_is_help=True,
)

ExecutionArg = Annotated[
    str, typer.Argument(metavar="EXECUTION", help="The execution's id, as `executions` shows it.", show_default=False)
]
StepArg = Annotated[str, typer.Argument(metavar="STEP", help="The step's name.", show_default=False)]
NameArg = Annotated[str, typer.Argument(metavar="PIPELINE", help="The pipeline's name.", show_default=False)]
DetachOpt = Annotated[
    bool,
    typer.Option(
        "--detach",
        help="Return once started, without waiting for the end (with a server only: "
        "embedded, the execution runs in this process).",
    ),
]

_STATUS_STYLES = {
    "Succeeded": "green",
    "Cached": "green",
    "Failed": "red",
    "Running": "blue",
    "Waiting": "magenta",
    "Skipped": "dim",
    "Stopped": "yellow",
    "Interrupted": "yellow",
    "Pending": "dim",
}
_POLL_S = 0.5


@contextlib.contextmanager
def open_pipelines(*, detach: bool = False) -> Iterator[Pipelines]:
    """The pipelines service for the current settings, closed when the command is done.

    Raises:
        typer.BadParameter: for ``--detach`` without a server: an embedded execution is
            orchestrated by this process, which cannot leave before it ends.
    """
    settings = load_settings()
    if detach and not settings.remote:
        raise typer.BadParameter(
            "needs a server (SLIPWAY_SERVER_URL): embedded, the execution runs in this process, which waits for it",
            param_hint="'--detach'",
        )
    with Client(settings) as client:
        yield client.pipelines


# ------------------------------------------------------------------------------------------ running


@pipelines_app.command("run")
def run_command(
    spec: Annotated[
        str,
        typer.Argument(
            metavar="MODULE:PIPELINE",
            show_default=False,
            help="Where the pipeline is: a module path or a .py file, a colon, "
            "and the name of a Pipeline (or of a function returning one).",
        ),
    ],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", metavar="KEY=VALUE", help="A parameter's value; repeat for several."),
    ] = None,
    executor: Annotated[str, typer.Option(help="Where steps run: local (worker processes) or ray.")] = "local",
    max_parallel: Annotated[int | None, typer.Option(min=1, help="Steps running at once at most.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Run every step; reuse no earlier result.")] = False,
    step: Annotated[
        list[str] | None, typer.Option("--step", metavar="STEP", help="Run only this step (repeat); needs --reference.")
    ] = None,
    reference: Annotated[
        str | None, typer.Option(metavar="EXECUTION", help="Take the other steps' outputs from this execution.")
    ] = None,
    detach: DetachOpt = False,
    as_json: JsonFlag = False,
) -> None:
    """Run a pipeline defined in Python and wait for its end.

    Example: `slipway pipelines run examples.abalone.pipeline:pipeline -p mse_threshold=6`.
    """
    from slipway.pipelines import Pipeline  # the pipelines domain loads only for pipeline commands

    pipeline = Pipeline.load(spec)
    values = pipeline.parse_parameters(parse_key_values(param or [], "--param"))
    with open_pipelines(detach=detach) as pipelines:
        started = pipelines.start(
            pipeline,
            parameters=values,
            executor=executor,
            max_parallel=max_parallel,
            cache=not no_cache,
            steps=step,
            reference_execution=reference,
        )
        _finish(pipelines, started, detach, as_json)


@pipelines_app.command("resume")
def resume_command(execution: ExecutionArg, detach: DetachOpt = False, as_json: JsonFlag = False) -> None:
    """Carry on an interrupted or stopped execution; steps that finished are not run again."""
    with open_pipelines(detach=detach) as pipelines:
        _finish(pipelines, pipelines.resume(execution), detach, as_json)


@pipelines_app.command("retry")
def retry_command(execution: ExecutionArg, detach: DetachOpt = False, as_json: JsonFlag = False) -> None:
    """Run the failed steps of an execution, and those after them, with the code as it is now (a new execution)."""
    with open_pipelines(detach=detach) as pipelines:
        _finish(pipelines, pipelines.retry(execution), detach, as_json)


def _finish(pipelines: Pipelines, started: PipelineExecution, detach: bool, as_json: bool) -> None:
    """Follow an execution to its end (unless detached), show it, and exit 1 if it did not succeed."""
    started = redact(started)
    if detach:
        _output.emit(
            as_json,
            lambda: started.model_dump(mode="json"),
            lambda: f"started execution [cyan]{started.id}[/cyan] of {started.pipeline} v{started.version}",
        )
        return
    if not as_json:
        _output.stderr().print(
            f"execution [cyan]{started.id}[/cyan] of {started.pipeline} v{started.version}", highlight=False
        )
    try:
        done = redact(_follow(pipelines, started.id, quiet=as_json))
    except KeyboardInterrupt:
        _output.warning(f"stopping execution {started.id}")
        pipelines.stop(started.id)
        raise typer.Exit(130) from None
    _output.emit(as_json, lambda: done.model_dump(mode="json"), lambda: _execution_view(done))
    if done.status.value != "Succeeded":
        raise typer.Exit(1)


def _follow(pipelines: Pipelines, execution_id: str, *, quiet: bool) -> PipelineExecution:
    """Wait for the end, printing each step as it finishes (on stderr, so stdout stays the result)."""
    seen: dict[str, str] = {}
    console = _output.stderr()
    while True:
        current = pipelines.get_execution(execution_id)
        for step in current.steps:
            if step.status.terminal and seen.get(step.step_name) != step.status.value and not quiet:
                line = _status_cell(step.status.value)
                line.append(f" {step.step_name}  ").append(_output.fmt_duration(step.duration), style="dim")
                console.print(line, highlight=False)
            seen[step.step_name] = step.status.value
        if current.status.terminal or current.status.value == "Interrupted":
            return current
        time.sleep(_POLL_S)


@pipelines_app.command("stop")
def stop_command(execution: ExecutionArg, as_json: JsonFlag = False) -> None:
    """Stop an execution: running steps are killed and recorded as Stopped."""
    with open_pipelines() as pipelines:
        done = redact(pipelines.stop(execution))
    _output.emit(
        as_json,
        lambda: done.model_dump(mode="json"),
        lambda: f"execution [cyan]{done.id}[/cyan] is {_output.fmt_status(done.status.value, _STATUS_STYLES)}",
    )


@pipelines_app.command("signal")
def signal_command(
    execution: ExecutionArg,
    step: StepArg,
    data: Annotated[
        list[str] | None,
        typer.Option(
            "--data", "-d", metavar="KEY=VALUE", help="A field of the payload (JSON values are read as such)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Release a wait step, e.g. `slipway pipelines signal EXECUTION ManualApproval -d approved=true`."""
    payload = {key: json_or_text(text) for key, text in parse_key_values(data or [], "--data").items()}
    with open_pipelines() as pipelines:
        released = pipelines.signal(execution, step, payload)
    _output.emit(
        as_json,
        lambda: released.model_dump(mode="json"),
        lambda: f"signalled {step} of execution [cyan]{execution}[/cyan]",
    )


# ------------------------------------------------------------------------------------------ looking


@pipelines_app.command("list")
def list_command(as_json: JsonFlag = False) -> None:
    """List the pipelines and their newest version."""
    with open_pipelines() as pipelines:
        found = pipelines.list_pipelines()
    table = _output.table("Name", "Latest", _output.time_column("Updated"), "Description")
    for p in found:
        table.add_row(
            _output.plain(p.name),
            str(p.latest_version),
            _output.fmt_time(p.updated_at),
            _output.plain(p.description or ""),
        )
    _output.emit(as_json, lambda: [p.model_dump(mode="json") for p in found], lambda: table)


@pipelines_app.command("versions")
def versions_command(name: NameArg, as_json: JsonFlag = False) -> None:
    """List the versions of a pipeline: each distinct definition it has had."""
    with open_pipelines() as pipelines:
        found = redact(pipelines.list_versions(name))
    table = _output.table("Version", "Steps", "Digest", _output.time_column("Created"), "By")
    for v in found:
        table.add_row(
            str(v.version),
            str(len(v.definition.get("steps", []))),
            v.digest[:12],
            _output.fmt_time(v.created_at),
            _output.plain(v.created_by),
        )
    _output.emit(as_json, lambda: [v.model_dump(mode="json") for v in found], lambda: table)


@pipelines_app.command("diff")
def diff_command(
    name: NameArg,
    from_version: Annotated[int, typer.Argument(metavar="V1", min=1, show_default=False)],
    to_version: Annotated[int, typer.Argument(metavar="V2", min=1, show_default=False)],
    as_json: JsonFlag = False,
) -> None:
    """Show what changed in a pipeline's definition between two versions."""
    with open_pipelines() as pipelines:
        diff = redact(pipelines.diff(name, from_version, to_version))
    table = _output.table("Field", "Change", "Before", "After", title=f"{name}: v{from_version} → v{to_version}")
    styles = {"added": "green", "removed": "red", "changed": "yellow"}
    for change in diff.changes:
        table.add_row(
            _output.plain(change.path),
            f"[{styles[change.change]}]{change.change}[/]",
            _short_json(change.before),
            _short_json(change.after),
        )
    empty = f"v{from_version} and v{to_version} of {name} have the same definition"
    _output.emit(as_json, lambda: diff.model_dump(mode="json"), lambda: table if diff.changes else empty)


def _short_json(value: Any, width: int = 60) -> Text:
    if value is None:
        return Text("")
    text = json.dumps(value, sort_keys=True)
    return Text(text if len(text) <= width else text[: width - 1] + "…")


@pipelines_app.command("executions")
def executions_command(
    pipeline: Annotated[str | None, typer.Option("--pipeline", metavar="NAME", help="Only this pipeline's.")] = None,
    status: Annotated[str | None, typer.Option(help="Only executions in this status, e.g. Failed.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """List executions, newest first."""
    with open_pipelines() as pipelines:
        found = redact(pipelines.list_executions(pipeline=pipeline, status=status, limit=limit))
    table = _output.table(
        _output.id_column(), "Pipeline", "Version", "Status", _output.time_column("Started"), "Duration"
    )
    for e in found:
        table.add_row(
            e.id,
            _output.plain(e.pipeline),
            str(e.version),
            _output.fmt_status(e.status.value, _STATUS_STYLES),
            _output.fmt_time(e.started_at or e.created_at),
            _output.fmt_duration(e.duration),
        )
    _output.emit(as_json, lambda: [e.model_dump(mode="json") for e in found], lambda: table)


@pipelines_app.command("show")
def show_command(execution: ExecutionArg, as_json: JsonFlag = False) -> None:
    """Show an execution: its parameters, and its DAG with each step's status and duration."""
    with open_pipelines() as pipelines:
        found = redact(pipelines.get_execution(execution))
    _output.emit(as_json, lambda: found.model_dump(mode="json"), lambda: _execution_view(found))


def _execution_view(execution: PipelineExecution) -> RenderableType:
    header = Text.from_markup(
        f"[bold]{execution.pipeline}[/bold] v{execution.version}  [cyan]{execution.id}[/cyan]  "
        f"{_output.fmt_status(execution.status.value, _STATUS_STYLES)}  {_output.fmt_duration(execution.duration)}"
    )
    parts: list[RenderableType] = [header]
    if execution.failure_reason:
        parts.append(Text(execution.failure_reason, style="red"))
    if execution.parameters:
        parts.append(_output.fmt_pairs(sorted((k, json.dumps(v)) for k, v in execution.parameters.items()), limit=20))
    parts.append(_dag_tree(execution.steps))
    return Group(*parts)


def _dag_tree(steps: Sequence[StepExecution]) -> Tree:
    """The DAG as a tree: each step under the last of the steps it needs; the others are named."""
    tree = Tree("[bold]steps[/bold]", guide_style="dim")
    position = {step.step_name: i for i, step in enumerate(steps)}  # definition order: needs come first
    nodes: dict[str, Tree] = {}
    for step in steps:
        parent = max(step.depends_on, key=lambda name: position.get(name, -1), default=None)
        others = [name for name in step.depends_on if name != parent]
        nodes[step.step_name] = nodes.get(parent or "", tree).add(_step_label(step, others))
    return tree


def _status_cell(value: str, width: int = 10) -> Text:
    return Text(value.ljust(width), style=_STATUS_STYLES.get(value, ""))


def _step_label(step: StepExecution, also_after: Sequence[str]) -> Text:
    label = _status_cell(step.status.value)
    label.append(f" {step.step_name}", style="bold")
    label.append(f" {step.step_type}  {_output.fmt_duration(step.duration)}", style="dim")
    if step.attempts > 1:
        label.append(f"  {step.attempts} attempts", style="yellow")
    if also_after:
        label.append(f"  also after {', '.join(also_after)}", style="dim")
    if step.cached_from:
        label.append(f"  from {step.cached_from}", style="dim")
    if step.error and step.status.value in ("Failed", "Skipped", "Stopped"):
        label.append(f"  {step.error}", style="red" if step.status.value == "Failed" else "dim")
    return label


@pipelines_app.command("logs")
def logs_command(
    execution: ExecutionArg,
    step: StepArg,
    stderr: Annotated[bool, typer.Option("--stderr", help="Show what the step wrote on stderr.")] = False,
    attempt: Annotated[int | None, typer.Option(min=1, help="This attempt's logs; the latest by default.")] = None,
) -> None:
    """Print what a step wrote on stdout (or stderr)."""
    with open_pipelines() as pipelines:
        text = pipelines.logs(execution, step, stream="stderr" if stderr else "stdout", attempt=attempt)
    typer.echo(text, nl=False)


@pipelines_app.command("outputs")
def outputs_command(
    execution: ExecutionArg,
    step: StepArg,
    download: Annotated[Path | None, typer.Option(
        "--download", metavar="DIR", help="Copy the files into DIR/<output>/<path>.", show_default=False)] = None,
    output: Annotated[str | None, typer.Option(help="Only this output's files.", show_default=False)] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the files a step produced (its outputs), or download them."""
    with open_pipelines() as pipelines:
        found = [f for f in pipelines.list_outputs(execution, step) if output is None or f.output == output]
        if download is not None:
            written = pipelines.download_outputs(execution, step, download, output=output)
    if download is not None:
        _output.say(f"{len(written)} file(s) in {download}")
        return

    def view() -> RenderableType:
        if not found:
            return f"[dim]Step {step} has no output files.[/dim]"
        out = _output.table("Output", "Path", "Size", "SHA-256")
        for f in found:
            out.add_row(_output.plain(f.output), _output.plain(f.path), _output.fmt_size(f.size), f.sha256[:12])
        return out

    _output.emit(as_json, lambda: [f.model_dump(mode="json") for f in found], view)


@pipelines_app.command("explain-cache")
def explain_cache_command(execution: ExecutionArg, step: StepArg, as_json: JsonFlag = False) -> None:
    """Say why a step was or was not served from the cache: what changed, and how."""
    with open_pipelines() as pipelines:
        found = redact(pipelines.explain_cache(execution, step))
    _output.emit(as_json, lambda: found.model_dump(mode="json"), lambda: _explanation_view(found))


def _explanation_view(found: CacheExplanation) -> RenderableType:
    verdict = "[green]cache hit[/green]" if found.hit else "[yellow]cache miss[/yellow]"
    parts: list[RenderableType] = [Text.from_markup(f"{verdict}: "), Text(found.reason)]
    if found.differences:
        table = _output.table("What", "Name", "Before", "After")
        for d in found.differences:
            table.add_row(d.kind, _output.plain(d.name), _short_json(d.before), _short_json(d.after))
        parts.append(table)
    for d in found.differences:
        if d.detail:
            parts.append(Syntax(d.detail, "diff", background_color="default"))
    return Group(*parts)


# ------------------------------------------------------------------------------- other orchestrators


@pipelines_app.command("register")
def register_command(
    spec: Annotated[
        str,
        typer.Argument(
            metavar="MODULE:PIPELINE",
            show_default=False,
            help="Where the pipeline is, as for `run`.",
        ),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Store a pipeline's definition as a version without running it (to export it, say).

    Example: `slipway pipelines register examples.abalone.pipeline:pipeline`.
    """
    from slipway.pipelines import Pipeline  # the pipelines domain loads only for pipeline commands

    pipeline = Pipeline.load(spec)
    with open_pipelines() as pipelines:
        stored = pipelines.register(pipeline)
    _output.emit(
        as_json,
        lambda: stored.model_dump(mode="json"),
        lambda: f"{stored.pipeline} v{stored.version} ({stored.digest[:12]})",
    )


class ExportFormat(StrEnum):
    KFP = "kfp"


@pipelines_app.command("export")
def export_command(
    pipeline: Annotated[
        str,
        typer.Argument(
            metavar="NAME[:VERSION]",
            show_default=False,
            help="A stored pipeline and, after a colon, its version (the newest by default).",
        ),
    ],
    image: Annotated[
        str,
        typer.Option(
            metavar="IMAGE",
            show_default=False,
            help="The container image every step runs in; it must hold Slipway and the steps' code.",
        ),
    ],
    format: Annotated[
        ExportFormat, typer.Option("--format", help="kfp: a Kubeflow Pipelines v2 pipeline spec (IR YAML).")
    ] = ExportFormat.KFP,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            metavar="NAME=VALUE",
            help="An environment variable of every step's container (e.g. SLIPWAY_SERVER_URL); repeat for several.",
        ),
    ] = None,
    secret_env: Annotated[
        list[str] | None,
        typer.Option(
            "--secret-env",
            metavar="NAME=SECRET:KEY",
            help="An environment variable of every step's container taken from a Kubernetes secret's key "
            "(e.g. SLIPWAY_TOKEN=slipway:token); repeat for several.",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write the spec here, not on stdout.")
    ] = None,
) -> None:
    """Write a stored pipeline for another orchestrator: each step a container running `slipway pipelines run-step`.

    Example: `slipway pipelines export abalone:3 --format kfp --image registry.local/abalone:1 -o abalone.yaml`,
    then upload abalone.yaml to Kubeflow Pipelines. What the format cannot express (a Wait step,
    retrying only some errors, ...) is refused, naming the step. See docs/kubeflow.md.
    """
    from slipway.pipelines import kfp_pipeline_spec  # the pipelines domain loads only for pipeline commands

    name, version = parse_ref(pipeline)
    with open_pipelines() as pipelines:
        stored = pipelines.get_version(name, version)
    secrets = {}
    for variable, source in parse_key_values(secret_env or [], "--secret-env").items():
        secret, colon, key = source.partition(":")
        if not (secret and colon and key):
            raise typer.BadParameter(f"{source!r} is not SECRET:KEY", param_hint="'--secret-env'")
        secrets[variable] = (secret, key)
    text = kfp_pipeline_spec(stored, image=image, env=parse_key_values(env or [], "--env"), secret_env=secrets)
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    _output.stderr().print(f"wrote {stored.pipeline} v{stored.version} to {output} ({format.value})", highlight=False)


_KEY_PATH = "NAME=PATH"


@pipelines_app.command("run-step")
def run_step_command(
    spec: Annotated[
        str,
        typer.Option(
            metavar="JSON",
            show_default=False,
            help="The step spec an export wrote (JSON, or @FILE to read it from a file).",
        ),
    ],
    parameter: Annotated[
        list[str] | None, typer.Option("--parameter", metavar="NAME=VALUE", help="A pipeline parameter's value.")
    ] = None,
    input: Annotated[
        list[str] | None, typer.Option("--input", metavar=_KEY_PATH, help="Where an upstream output is (a folder).")
    ] = None,
    value: Annotated[
        list[str] | None,
        typer.Option("--value", metavar="NAME=TEXT", help="A value read out of an upstream step's JSON."),
    ] = None,
    output: Annotated[
        list[str] | None, typer.Option("--output", metavar=_KEY_PATH, help="Where to leave one of the step's outputs.")
    ] = None,
    output_value: Annotated[
        list[str] | None,
        typer.Option("--output-value", metavar=_KEY_PATH, help="The file to write a value a later step reads into."),
    ] = None,
    run_id: Annotated[str, typer.Option(help="The orchestrator's run this step belongs to.")] = "local",
    task_id: Annotated[str, typer.Option(help="The orchestrator's task this step is.")] = "local",
) -> None:
    """Run one step of an exported pipeline, taking inputs and leaving outputs the way Kubeflow Pipelines does.

    An export (`slipway pipelines export --format kfp`) writes this command into each step's
    container with KFP's placeholders; you rarely type it. Inputs arrive as local paths and
    values, outputs go to the paths given. The step's code must be the code that was exported.
    Tracking and the registry are those of the environment (SLIPWAY_SERVER_URL and SLIPWAY_TOKEN,
    or SLIPWAY_HOME). A failing step prints its traceback and exits 1.
    """
    from slipway.pipelines import run_exported_step  # the pipelines domain loads only for pipeline commands

    document = json.loads(Path(spec[1:]).read_text(encoding="utf-8") if spec.startswith("@") else spec)
    with contextlib.ExitStack() as stack:
        clients: list[Client] = []

        def services() -> Services:
            """A client of the environment's settings, made when the step first needs one (many never do)."""
            if not clients:
                clients.append(stack.enter_context(Client(load_settings())))
            # A client offers what steps call (tracking, registry, monitoring), embedded or remote.
            return cast("Services", clients[0])

        try:
            outcome = run_exported_step(
                document,
                parameters=parse_key_values(parameter or [], "--parameter"),
                artifacts=parse_key_values(input or [], "--input"),
                values=parse_key_values(value or [], "--value"),
                outputs=parse_key_values(output or [], "--output"),
                output_values=parse_key_values(output_value or [], "--output-value"),
                services=services,
                run_id=run_id,
                task_id=task_id,
            )
        except SlipwayError:
            raise
        except Exception:  # the step's own failure: its traceback is the log an orchestrator shows
            traceback.print_exc()
            raise typer.Exit(1) from None
    # One line, after whatever the step printed: the last line of the log is the step's result.
    typer.echo(json.dumps({"step": document["step"]["name"], "properties": outcome.properties}))
