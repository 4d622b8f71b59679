"""``slipway transform``: a model version over a whole file or dataset, recorded as a new dataset."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from slipway._config import load_settings
from slipway.cli import _output
from slipway.cli._output import JsonFlag
from slipway.client import Client


def transform(
    model: Annotated[str, typer.Option("--model", "-m", metavar="GROUP/VERSION", help="The model version to run.")],
    source: Annotated[
        str,
        typer.Option(
            "--input", "-i", show_default=False,
            help="A .csv or .parquet file, or dataset:NAME[:VERSION]; with --engine ray also a folder or s3:// prefix.",
        ),
    ],
    output: Annotated[str, typer.Option("--output", "-o", help="The dataset the predictions become a version of.")],
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows read and predicted at a time.")] = 100_000,
    engine: Annotated[str, typer.Option(
        help="local (this process) or ray (a folder or s3:// prefix too, per block on Ray actors that each "
        "load the model once)")] = "local",
    as_json: JsonFlag = False,
) -> None:
    """Batch transform: predict over data larger than memory, in chunks, into a new dataset version.

    The output holds the input's rows and a prediction column; its lineage names the model
    version (and the input dataset version).
    """
    from slipway.serving import batch_transform  # brings the model flavors: import on first use

    with (
        Client(load_settings()) as client,
        Progress(
            TextColumn("predicting"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=_output.stderr(),
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("rows", total=None)
        made = batch_transform(
            client.registry,
            client.datasets,
            model,
            source,
            output,
            chunk_rows=chunk_rows,
            engine=engine,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    _output.emit(
        as_json,
        lambda: made.model_dump(mode="json"),
        lambda: f"Wrote [bold]{made.version.ref}[/bold]: {made.version.num_rows} rows with predictions of {model}.",
    )
