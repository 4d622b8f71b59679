"""``slipway endpoints``: create, inspect, deploy to, roll back and invoke model endpoints.

Each command opens the serving control plane of the current settings (embedded, or the server's
when ``SLIPWAY_SERVER_URL`` is set) and calls one service method; rules and errors are the
service's. ``invoke`` asks the server's inference route in remote mode, and loads the endpoint in
this process otherwise.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from slipway._config import load_settings
from slipway.cli import _output
from slipway.cli._output import JsonFlag
from slipway.cli._session import opener
from slipway.client import Client

if TYPE_CHECKING:
    from slipway.serving import Deployment, Endpoint, Variant

endpoints_app = typer.Typer(
    help="Endpoints serve registered model versions over HTTP: variants with traffic weights, shadow "
    "variants, data capture, and deployments rolled out at once, by canary or linearly, rolled back on alarms.",
    short_help="Create, update, roll back and invoke model endpoints.",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The endpoint's name.", show_default=False)]
ModelOpt = Annotated[
    list[str], typer.Option("--model", "-m", metavar="GROUP/VERSION", help="A variant's model version; repeat it.")
]
WeightOpt = Annotated[
    list[float], typer.Option("--weight", "-w", help="Traffic weight of each --model, in order (default 1 each).")
]
ShadowOpt = Annotated[
    list[str], typer.Option("--shadow", metavar="GROUP/VERSION", help="A shadow variant: gets a copy of traffic.")
]
CaptureOpt = Annotated[
    float | None, typer.Option("--capture", min=0, max=100, help="Percentage of requests to capture.")
]
IntervalOpt = Annotated[
    float | None, typer.Option("--capture-interval", min=0.001, metavar="SECONDS",
                               help="Store captured records within this many seconds of a request (default 60).")
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Serve versions not Approved (admins only).")]
MinReplicasOpt = Annotated[
    list[int],
    typer.Option("--min-replicas", min=0, help="Autoscaling on Ray Serve: the fewest replicas of each --model "
                 "(once for all, or once per --model)."),
]
MaxReplicasOpt = Annotated[
    list[int], typer.Option("--max-replicas", min=1, help="Autoscaling on Ray Serve: the most replicas (as above).")
]
TargetOngoingOpt = Annotated[
    list[float],
    typer.Option("--target-ongoing", min=0, help="Autoscaling on Ray Serve: requests in flight per replica to aim "
                 "at (as above; default 2)."),
]
_PRODUCTION_HELP = "A production endpoint: creating or changing it needs the approver (or admin) role."


open_serving = opener(lambda client: client.serving)


def _variants(
    models: list[str],
    weights: list[float],
    shadows: list[str],
    min_replicas: list[int] | None = None,
    max_replicas: list[int] | None = None,
    target_ongoing: list[float] | None = None,
) -> list[dict[str, Any]]:
    """The variants ``--model``/``--weight``/``--shadow`` and the autoscaling options describe."""
    if weights and len(weights) != len(models):
        raise typer.BadParameter(f"give one --weight per --model ({len(models)}), or none", param_hint="'--weight'")
    live: list[dict[str, Any]] = [
        {"model": m, "weight": w} for m, w in zip(models, weights or [1.0] * len(models), strict=True)
    ]
    scaling = {
        key: _per_model(values or [], len(models), option)
        for key, values, option in (("min_replicas", min_replicas, "--min-replicas"),
                                    ("max_replicas", max_replicas, "--max-replicas"),
                                    ("target_ongoing", target_ongoing, "--target-ongoing"))
    }
    for i, variant in enumerate(live):
        given = {key: values[i] for key, values in scaling.items() if values}
        if given:
            # A maximum below a given minimum would only be refused: it follows the minimum unless given.
            given.setdefault("max_replicas", max(given.get("min_replicas", 1), 1))
            variant["autoscaling"] = given
    return live + [{"model": s, "shadow": True} for s in shadows]


def _capture(percent: float | None, interval: float | None) -> dict[str, float] | None:
    found = {k: v for k, v in (("sampling_percent", percent), ("flush_interval_seconds", interval)) if v is not None}
    return found or None


def _per_model(values: list[Any], models: int, option: str) -> list[Any]:
    """An option given once (for every --model) or once per --model, as one value per --model."""
    if len(values) == 1:
        return values * models
    if values and len(values) != models:
        raise typer.BadParameter(f"give {option} once, or once per --model ({models})", param_hint=f"'{option}'")
    return values


def _show(as_json: bool, endpoint: Endpoint, deployments: list[Deployment] | None = None) -> None:
    views = [lambda: _detail(endpoint), lambda: _variants_table(endpoint)]
    if deployments is not None:
        views.append(lambda: _deployments_table(deployments))
    _output.emit(
        as_json,
        lambda: {
            **endpoint.model_dump(mode="json"),
            **({"deployments": [d.model_dump(mode="json") for d in deployments]} if deployments is not None else {}),
        },
        *views,
    )


def _detail(e: Endpoint) -> RenderableType:
    rows = _output.table("Field", "Value", title=f"endpoint {e.name}")
    progress = (
        f"{e.deployment.strategy.kind}: {e.deployment.share:.0%} of traffic to the new variants"
        if e.deployment
        else _output.MISSING
    )
    for label, value in (
        ("Status", _output.fmt_status(e.status.value)),
        ("Production", Text("yes: changes need the approver role" if e.production else "no")),
        ("Reason", Text(e.reason or _output.MISSING)),
        ("Deployment", Text(progress)),
        ("Capture", Text(f"{e.capture.sampling_percent:g}% of requests, stored within "
                         f"{e.capture.flush_interval_seconds:g} s (slipway endpoints capture {e.name})")),
        ("Alarms", Text(f"error rate > {e.alarms.max_error_rate:g}, p99 > {e.alarms.max_p99_ms or '-'} ms")),
        ("Ingress (Ray Serve)", Text(e.ingress.describe() if e.ingress else _output.MISSING)),
        ("Revision", Text(str(e.revision))),
        ("Modified", Text(f"{_output.fmt_time(e.updated_at)} by {e.updated_by}")),
    ):
        rows.add_row(label, value)
    return rows


def _variants_table(e: Endpoint) -> Table:
    """Every variant answering now: the live ones and, during a rollout, the canary ones with their share."""
    # Imported here: the service that fetched ``e`` has loaded slipway.serving already, and a
    # module-level import would load it (FastAPI included) for every other command too.
    from slipway.serving import traffic_split

    out = _output.table(
        "Variant", "Model", "Weight", "Traffic", "Workers", "Replicas (Ray Serve)", "Role", title="Variants"
    )
    for s in traffic_split(e):
        v = s.variant
        role = " ".join(word for word, on in (("canary", s.canary), ("shadow", v.shadow)) if on) or "live"
        scaling = _replicas(e, v)
        out.add_row(
            _output.plain(s.name), _output.plain(v.model), f"{v.weight:g}", f"{s.share:.0%}", str(v.workers),
            scaling, role,
        )
    return out


def _replicas(e: Endpoint, v: Variant) -> str:
    """Replicas on Ray Serve: how many run now (when served there) and the autoscaling bounds (when set)."""
    parts = [f"{e.replicas[v.name]} running"] if v.name in e.replicas else []
    if v.autoscaling is not None:
        parts.append(v.autoscaling.describe())
    return "; ".join(parts) or _output.MISSING


def _deployments_table(found: list[Deployment]) -> RenderableType:
    if not found:
        return _output.empty_section("Deployments", "No deployments yet.")
    out = _output.table(
        "ID", "Strategy", "Status", "Target", "Reason", _output.time_column("Started"), title="Deployments"
    )
    for d in found:
        out.add_row(
            Text(d.id),
            d.strategy.kind,
            _output.fmt_status(d.status.value),
            Text(", ".join(v.model for v in d.target)),
            Text(d.reason or ""),
            _output.fmt_time(d.started_at),
        )
    return out


@endpoints_app.command("create")
def create_command(
    name: NameArg,
    model: ModelOpt,
    weight: WeightOpt = [],  # noqa: B006  (Typer reads the default; it is never mutated)
    shadow: ShadowOpt = [],  # noqa: B006
    capture: CaptureOpt = None,
    capture_interval: IntervalOpt = None,
    max_error_rate: Annotated[float | None, typer.Option(help="Roll back a rollout above this error rate.")] = None,
    max_p99_ms: Annotated[float | None, typer.Option(help="Roll back a rollout above this p99 latency.")] = None,
    force: ForceOpt = False,
    production: Annotated[bool, typer.Option("--production", help=_PRODUCTION_HELP)] = False,
    min_replicas: MinReplicasOpt = [],  # noqa: B006
    max_replicas: MaxReplicasOpt = [],  # noqa: B006
    target_ongoing: TargetOngoingOpt = [],  # noqa: B006
    as_json: JsonFlag = False,
) -> None:
    """Create an endpoint, e.g. `slipway endpoints create rings -m abalone/3 -w 9 -m abalone/4 -w 1`.

    On Ray Serve (`slipway serve NAME --engine ray`) each variant runs its workers as replicas, or
    scales between --min-replicas and --max-replicas to keep --target-ongoing requests per replica.
    """
    alarms = {k: v for k, v in (("max_error_rate", max_error_rate), ("max_p99_ms", max_p99_ms)) if v is not None}
    with open_serving() as serving:
        created = serving.create_endpoint(
            name,
            _variants(model, weight, shadow, min_replicas, max_replicas, target_ongoing),
            capture=_capture(capture, capture_interval),
            alarms=alarms or None,
            force=force,
            production=production,
        )
    _show(as_json, created)


@endpoints_app.command("list")
def list_command(as_json: JsonFlag = False) -> None:
    """List endpoints with their status and variants."""
    with open_serving() as serving:
        found = serving.list_endpoints()

    def view() -> RenderableType:
        if not found:
            return "[dim]No endpoints yet. Create one: slipway endpoints create NAME --model GROUP/VERSION.[/dim]"
        out = _output.table("Name", "Status", "Variants", _output.time_column("Last modified"))
        for e in found:
            variants = ", ".join(f"{v.model}×{v.weight:g}" + (" (shadow)" if v.shadow else "") for v in e.variants)
            out.add_row(
                _output.plain(e.name),
                _output.fmt_status(e.status.value),
                Text(variants),
                _output.fmt_time(e.updated_at),
            )
        return out

    _output.emit(as_json, lambda: [e.model_dump(mode="json") for e in found], view)


@endpoints_app.command("show")
def show_command(name: NameArg, as_json: JsonFlag = False) -> None:
    """Show an endpoint: status, variants, capture, alarms and its deployments."""
    with open_serving() as serving:
        found = serving.get_endpoint(name)
        history = serving.list_deployments(name)
    _show(as_json, found, history)


@endpoints_app.command("update")
def update_command(
    name: NameArg,
    model: ModelOpt = [],  # noqa: B006
    weight: WeightOpt = [],  # noqa: B006
    shadow: ShadowOpt = [],  # noqa: B006
    strategy: Annotated[str, typer.Option(help="all_at_once, canary or linear.")] = "all_at_once",
    share: Annotated[float, typer.Option(help="Canary share, or linear step, of traffic.")] = 0.1,
    bake_seconds: Annotated[float, typer.Option(help="How long each step is watched by the alarms.")] = 60.0,
    capture: CaptureOpt = None,
    capture_interval: IntervalOpt = None,
    force: ForceOpt = False,
    production: Annotated[
        bool | None, typer.Option("--production/--not-production", help=_PRODUCTION_HELP + " Unset: unchanged.")
    ] = None,
    min_replicas: MinReplicasOpt = [],  # noqa: B006
    max_replicas: MaxReplicasOpt = [],  # noqa: B006
    target_ongoing: TargetOngoingOpt = [],  # noqa: B006
    as_json: JsonFlag = False,
) -> None:
    """Deploy new variants (with --model) by a strategy, or change the capture percentage or interval."""
    with open_serving() as serving:
        changed = _capture(capture, capture_interval)  # the capture settings not given stay as they are
        updated = serving.update_endpoint(
            name,
            _variants(model, weight, shadow, min_replicas, max_replicas, target_ongoing) if model else None,
            strategy={"kind": strategy, "share": share, "bake_seconds": bake_seconds},
            capture=None if changed is None else {**serving.get_endpoint(name).capture.model_dump(), **changed},
            force=force,
            production=production,
        )
    _show(as_json, updated)


@endpoints_app.command("rollback")
def rollback_command(
    name: NameArg,
    reason: Annotated[str, typer.Option(help="Why, for the history.")] = "rolled back by hand",
    as_json: JsonFlag = False,
) -> None:
    """Roll back the deployment in progress, or else the last one that succeeded."""
    with open_serving() as serving:
        _show(as_json, serving.rollback(name, reason))


@endpoints_app.command("delete")
def delete_command(name: NameArg) -> None:
    """Delete an endpoint and its deployment history; servers stop answering for it."""
    with open_serving() as serving:
        serving.delete_endpoint(name)
    _output.say(f"Deleted endpoint {name}.")


_TIMES = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


@endpoints_app.command("capture")
def capture_command(
    name: NameArg,
    start: Annotated[dt.datetime | None, typer.Option(
        "--start", formats=_TIMES, show_default=False,
        help="Only files that may hold requests from this UTC time on, e.g. 2026-05-01T09:00:00.")] = None,
    end: Annotated[dt.datetime | None, typer.Option(
        "--end", formats=_TIMES, show_default=False, help="Only files that may hold requests before this UTC time.")]
    = None,
    download: Annotated[Path | None, typer.Option(
        "--download", metavar="DIR", help="Copy the files into DIR (keeping their capture/YYYY/MM/DD/HH/ folders).",
        show_default=False)] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the files of traffic an endpoint captured (JSON lines of requests and answers), or download them."""
    utc = {k: None if v is None else v.replace(tzinfo=dt.UTC) for k, v in (("start", start), ("end", end))}
    with open_serving() as serving:
        found = serving.list_capture(name, **utc)
        if download is not None:
            written = serving.download_capture(name, download, **utc)
    if download is not None:
        _output.say(f"{len(written)} file(s) in {download}")
        return

    def view() -> RenderableType:
        if not found:
            return f"[dim]Nothing captured yet. Turn capture on: slipway endpoints update {name} --capture 100.[/dim]"
        out = _output.table(_output.time_column("Uploaded"), "Records", "Size", "Path")
        for f in found:
            out.add_row(_output.fmt_time(f.uploaded_at), "-" if f.records is None else str(f.records),
                        _output.fmt_size(f.size), _output.plain(f.path))
        records = sum(f.records or 0 for f in found)
        out.caption = f"{len(found)} file(s), {records} record(s)"
        return out

    _output.emit(as_json, lambda: [f.model_dump(mode="json") for f in found], view)


@endpoints_app.command("invoke")
def invoke_command(
    name: NameArg,
    data: Annotated[
        str,
        typer.Option(
            help='A JSON body such as \'{"inputs": {"a": [1]}}\', or @FILE (.json or .csv).', show_default=False
        ),
    ],
    variant: Annotated[str | None, typer.Option(help="Ask this variant, not the traffic split.")] = None,
) -> None:
    """Send one request to an endpoint and print the predictions (JSON)."""
    path = Path(data[1:]) if data.startswith("@") else None
    body = path.read_bytes() if path is not None else data.encode()
    content_type = "text/csv" if path is not None and path.suffix.lower() == ".csv" else "application/json"
    from slipway.client import invoke_endpoint  # brings serving (model flavors): import when the command runs

    with Client(load_settings()) as client:
        _output.print_json(invoke_endpoint(client, name, body, content_type, variant=variant))


@endpoints_app.command("bundle")
def bundle_command(
    name: NameArg,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="DIR", help="The folder to write (new or empty).",
                                         show_default=False)],
    force: Annotated[bool, typer.Option("--force", help="Bundle versions that are not Approved.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write a serving bundle of the endpoint: its variants with their weights, shadows, capture and
    alarm settings, and every version's files, hashed; `slipway serve --bundle DIR` serves it with no
    database. A deployment in progress is left out (its target variants are not bundled).
    """
    from slipway.cli._bundle import report
    from slipway.serving import bundle_endpoint  # brings the model flavors: import when the command runs

    with Client(load_settings()) as client:
        bundle = bundle_endpoint(client.registry, client.serving.get_endpoint(name), output, force=force)
    report(bundle, as_json)
