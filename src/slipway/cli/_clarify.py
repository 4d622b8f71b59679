"""``slipway clarify``: bias metrics and SHAP explanations, stored as reports and written to a folder.

``bias`` and ``explain`` use the clarify service of the current settings (embedded, or the
server's when ``SLIPWAY_SERVER_URL`` is set: then a report on a file is computed here and only
its ``analysis.json`` is sent). The clarify package brings pandas and the model flavors, and
``explain`` brings shap, so they are imported when a command runs, not when the CLI starts.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.text import Text

from slipway.cli import _output
from slipway.cli._output import JsonFlag
from slipway.cli._session import opener

if TYPE_CHECKING:
    from slipway.clarify import ClarifyReport
    from slipway.client import ClarifyApi

clarify_app = typer.Typer(
    help="Bias and explainability: pre- and post-training bias metrics of a facet (analysis.json in the cloud "
    "stack's layout), SHAP attributions and partial dependence of a model, each stored as a report attached to "
    "the model or dataset version and written to a folder with an offline report.html.",
    short_help="Bias metrics and SHAP explanations, as reports.",
    no_args_is_help=True,
)

DataArg = Annotated[str | None, typer.Argument(
    metavar="[DATA]", help="A CSV, Parquet or JSON-lines file, or a folder of them (or give --dataset).",
    show_default=False)]
DatasetOpt = Annotated[str | None, typer.Option(
    "--dataset", help="Instead of DATA, a registered dataset version: NAME or NAME:VERSION.")]
OutputOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Write the report's files into this folder (created if needed).")]
FormatOpt = Annotated[str | None, typer.Option("--format", help="csv, parquet or jsonl (default: by extension).")]


open_clarify = opener(lambda client: client.clarify)


def _values(text: list[str] | None) -> list[str] | None:
    """Repeated or comma-separated values: ``--facet-values F --facet-values M`` or ``--facet-values F,M``."""
    if not text:
        return None
    return [v.strip() for item in text for v in item.split(",") if v.strip()]


@clarify_app.command("bias")
def bias_command(
    data: DataArg = None,
    label: Annotated[str, typer.Option("--label", help="The label column (the observed outcome).",
                                       show_default=False)] = "",
    facet: Annotated[str, typer.Option("--facet", help="The sensitive column, e.g. sex.", show_default=False)] = "",
    label_values: Annotated[list[str] | None, typer.Option(
        "--label-values", help="The positive label values (comma-separated or repeated).")] = None,
    label_threshold: Annotated[float | None, typer.Option(
        "--label-threshold", help="Instead: labels above this number are positive (rings > 10).")] = None,
    facet_values: Annotated[list[str] | None, typer.Option(
        "--facet-values", help="The facet values of the sensitive group; none: each value against the others.")]
    = None,
    facet_threshold: Annotated[float | None, typer.Option(
        "--facet-threshold", help="Instead: rows whose facet is above this number form the sensitive group.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="A column of subgroups, for CDDL and CDDPL.")] = None,
    predicted_label: Annotated[str | None, typer.Option(
        "--predicted-label", help="The column of the model's predictions (post-training metrics).")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", help="A registered model version GROUP/VERSION whose predictions on the data give the "
        "post-training metrics; the report is attached to it.")] = None,
    methods: Annotated[list[str] | None, typer.Option(
        "--methods", help="Metrics to compute (comma-separated or repeated), e.g. CI,DPL,DPPL; default all.")] = None,
    dataset: DatasetOpt = None,
    output: OutputOpt = None,
    format: FormatOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Bias metrics of a label and a facet, before training (labels) and after (predictions).

    Example: slipway clarify bias abalone.csv --label rings --label-threshold 10 --facet sex --model abalone/3 -o out/
    """
    config: dict[str, Any] = {"label": label, "facet": facet, "label_values": _values(label_values),
                              "label_threshold": _number(label_threshold), "facet_values": _values(facet_values),
                              "facet_threshold": _number(facet_threshold), "group": group,
                              "predicted_label": predicted_label}
    with open_clarify() as service:
        report = service.run_bias({k: v for k, v in config.items() if v is not None}, data, dataset=dataset,
                                  model=model, methods=_values(methods) or "all", format=format)
        written = _write(service, report, output)
    _output.emit(as_json, lambda: report.model_dump(mode="json"), lambda: _bias_view(report, written))


@clarify_app.command("explain")
def explain_command(
    model: Annotated[str, typer.Argument(metavar="MODEL", help="A registered model version: GROUP/VERSION.",
                                         show_default=False)],
    data: DataArg = None,
    features: Annotated[list[str] | None, typer.Option(
        "--features", help="The input columns (comma-separated or repeated); default: the model's signature.")]
    = None,
    method: Annotated[str, typer.Option("--method", help="auto (tree for tree models, else kernel), tree or kernel.")]
    = "auto",
    max_rows: Annotated[int, typer.Option("--max-rows", help="Explain a seeded sample of at most this many rows.")]
    = 1000,
    baseline_rows: Annotated[int, typer.Option("--baseline-rows", help="Rows of the kernel method's baseline.")] = 50,
    pdp_features: Annotated[int, typer.Option("--pdp", help="Partial dependence of this many top features.")] = 3,
    dataset: DatasetOpt = None,
    output: OutputOpt = None,
    format: FormatOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """SHAP attributions of a model version on some rows (global and per row) and partial dependence.

    Example: slipway clarify explain abalone/3 abalone.csv --output out/
    """
    with open_clarify() as service:
        report = service.run_explain(model, data, dataset=dataset, features=_values(features), method=method,
                                     max_rows=max_rows, baseline_rows=baseline_rows, pdp_features=pdp_features,
                                     format=format)
        written = _write(service, report, output)
    _output.emit(as_json, lambda: report.model_dump(mode="json"), lambda: _explain_view(report, written))


@clarify_app.command("reports")
def reports_command(
    model: Annotated[str | None, typer.Option("--model", help="Only those of this model version GROUP/VERSION.")]
    = None,
    dataset: Annotated[str | None, typer.Option("--dataset", help="Only those of this dataset NAME:VERSION.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Stored bias and explainability reports, newest first."""
    with open_clarify() as service:
        found = service.list_reports(model=model, dataset=dataset)
    _output.emit(as_json, lambda: [r.model_dump(mode="json") for r in found], lambda: _reports_table(found))


@clarify_app.command("download")
def download_command(
    report_id: Annotated[str, typer.Argument(metavar="REPORT", help="The report's id.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The folder to write into (created if needed).",
                                         show_default=False)],
) -> None:
    """Write a stored report's files (analysis.json, report.html, ...) into a folder."""
    with open_clarify() as service:
        written = _write(service, service.get_report(report_id), output)
    _output.say(f"Wrote {len(written)} file(s) into {_output.plain(output)}")


def _number(value: float | None) -> int | float | None:
    """A threshold as typed: 10 stays an integer, as the report prints it."""
    return int(value) if value is not None and float(value).is_integer() else value


def _write(service: ClarifyApi, report: ClarifyReport, output: Path | None) -> list[str]:
    if output is None:
        return []
    names = service.report_files(report.id)
    for name in names:
        target = output / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(service.read_report(report.id, name))
    return names


def _headline(report: ClarifyReport, written: list[str]) -> Text:
    line = Text.assemble(("Report ", ""), (report.id, "bold"), f" ({report.kind}")
    line.append(f", model {report.model}" if report.model else "")
    line.append(f", dataset {report.dataset}" if report.dataset else "")
    line.append(")")
    if written:
        line.append(f"; wrote {', '.join(written)}")
    return line


def _bias_view(report: ClarifyReport, written: list[str]) -> RenderableType:
    parts: list[RenderableType] = [_headline(report, written)]
    for stage in ("pre_training", "post_training"):
        values: dict[str, Any] = report.summary.get(stage) or {}
        if not values:
            continue
        facets = sorted({k.rsplit("/", 1)[0] for k in values})
        metrics = sorted({k.rsplit("/", 1)[1] for k in values})
        table = _output.table("Metric", *facets, title=stage.replace("_", "-"))
        for metric in metrics:
            table.add_row(metric, *(_cell(values.get(f"{f}/{metric}")) for f in facets))
        parts.append(table)
    return Group(*parts)


def _explain_view(report: ClarifyReport, written: list[str]) -> RenderableType:
    top = report.summary.get("top_features") or []
    table = _output.table("Rank", "Feature", title="features by mean |SHAP|")
    for rank, feature in enumerate(top, 1):
        table.add_row(str(rank), Text(feature))
    return Group(_headline(report, written), table)


def _cell(value: Any) -> str:
    if value is None:
        return _output.MISSING
    if isinstance(value, str):
        return value
    return "n/a" if math.isnan(value) else f"{value:.4g}"


def _reports_table(found: list[ClarifyReport]) -> RenderableType:
    if not found:
        return _output.empty_section("Reports", "none yet: make one with `slipway clarify bias` or `explain`")
    table = _output.table("Id", "Kind", "Model", "Dataset", _output.time_column("Created"))
    for r in found:
        table.add_row(r.id, str(r.kind), Text(r.model or _output.MISSING), Text(r.dataset or _output.MISSING),
                      _output.fmt_time(r.created_at))
    return table
