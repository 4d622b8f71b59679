"""Lineage walked from where users stand: upstream from an endpoint to the data its model was trained on."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import _pipeline_steps as lib
import pandas as pd
from _serving_models import write_line
from typer.testing import Result

from slipway import Client
from slipway.pipelines import (
    CreateModelStep,
    ExecutionStatus,
    Pipeline,
    ProcessingStep,
    RegisterModelStep,
    TrainingStep,
)


def test_upstream_from_an_endpoint_reaches_the_data(client: Client, cli: Callable[..., Result], tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [float(i) for i in range(30)], "y": [2.0 * i + 1.0 for i in range(30)]})
    data = client.datasets.register("lines", frame).version
    rows = ProcessingStep("Rows", lib.rows_from_dataset, inputs={"dataset": "lines"}, outputs=["rows"])
    train = TrainingStep("Train", lib.fit_frame, inputs={"rows": rows.outputs["rows"]})
    package = CreateModelStep("Package", model=train.outputs["model"], input_example=rows.outputs["rows"] / "rows.csv",
                              drop_columns=["y"])
    register = RegisterModelStep("Register", model=package.outputs["model"], group="lines", approval_status="Approved")
    execution = client.pipelines.run(Pipeline("lined", [register]))
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.failure_reason
    first = client.registry.get_version("lines", 1)
    second = client.registry.register_model("lines", write_line(tmp_path / "line"))
    client.registry.approve("lines", second.version)
    endpoint = client.serving.create_endpoint("lines", [{"model": "lines/1"}])
    client.serving.update_endpoint("lines", [{"model": "lines/2"}])  # all at once: lines-v1 retires

    graph = client.lineage.upstream("endpoint", endpoint.id, depth=10)
    found = {n.key: n for n in graph.nodes}
    variants = {n.name: n.retired for n in graph.nodes if n.kind == "endpoint_variant"}
    assert variants == {"lines/lines-v1": True, "lines/lines-v2": False}
    assert {("model_version", first.id), ("model_version", second.id)} <= set(found)
    assert ("run", execution.step("Train").run_id) in found  # the training run
    assert ("pipeline_execution", execution.id) in found
    assert ("dataset_version", data.id) in found
    down = client.lineage.downstream("dataset_version", data.id, depth=10)  # and back down to the endpoint
    assert ("endpoint", endpoint.id) in {n.key for n in down.nodes}

    shown = cli("lineage", "show", "endpoint", endpoint.id, "--up", "--depth", "10")
    assert shown.exit_code == 0, shown.output
    assert "lines/lines-v1 " in shown.stdout and "(retired)" in shown.stdout and "dataset_version" in shown.stdout
    as_json = json.loads(cli("lineage", "show", "dataset_version", data.id, "--down", "--json").stdout)
    assert as_json["root"] == ["dataset_version", data.id]
    assert cli("lineage", "show", "endpoint", endpoint.id, "--depth", "0").exit_code == 2
