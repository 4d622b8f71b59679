"""Processing scripts: run as their own process, inputs under an input folder, outputs collected from one."""

from __future__ import annotations

import textwrap
from pathlib import Path

import _pipeline_steps as lib

from slipway.pipelines import (
    ExecutionStatus,
    FileInput,
    Join,
    Parameter,
    Pipeline,
    PipelineService,
    ProcessingStep,
    StepStatus,
)

SCRIPT = """
    import argparse, json, os, pathlib, sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--factor", type=float)
    args = parser.parse_args()
    inputs = pathlib.Path(os.environ["SLIPWAY_INPUT_DIR"])
    outputs = pathlib.Path(os.environ["SLIPWAY_OUTPUT_DIR"])
    numbers = json.loads((inputs / "numbers" / "numbers.json").read_text())
    raw = (inputs / "raw" / "raw.csv").read_text().splitlines()
    scaled = [x * args.factor for x in numbers]
    (outputs / "scaled" / "scaled.json").write_text(json.dumps(scaled))
    properties = {"rows": len(raw) - 1, "max": max(scaled)}
    pathlib.Path(os.environ["SLIPWAY_PROPERTIES_FILE"]).write_text(json.dumps(properties))
    print("scaled", len(scaled), "numbers for", os.environ["SLIPWAY_STEP"], "with", os.environ["MODE"])
    print("done", file=sys.stderr)
"""


def test_a_script_reads_its_input_folder_and_fills_its_output_folder(service: PipelineService, tmp_path: Path) -> None:
    script = tmp_path / "scale.py"
    script.write_text(textwrap.dedent(SCRIPT))
    raw = tmp_path / "raw.csv"
    raw.write_text("x\n1\n2\n3\n")
    make = ProcessingStep("Make", lib.numbers, inputs={"n": 4}, outputs=["data"])
    factor = Parameter("factor", float, 2.5)
    scale = ProcessingStep(
        "Scale",
        script=script,
        inputs={"numbers": make.outputs["data"], "raw": FileInput(raw)},
        outputs=["scaled"],
        arguments=["--factor", factor],
        env={"MODE": Join("fast-", factor)},
    )
    total = ProcessingStep("Total", lib.total_of_file, inputs={"numbers_file": scale.outputs["scaled"] / "scaled.json"})
    execution = service.run(Pipeline("scripted", [total]))
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.failure_reason
    assert execution.step("Scale").properties == {"rows": 3, "max": 7.5}
    assert execution.step("Total").properties == {"sum": 15.0}
    assert service.logs(execution.id, "Scale") == "scaled 4 numbers for Scale with fast-2.5\n"
    assert service.logs(execution.id, "Scale", stream="stderr") == "done\n"
    assert execution.step("Scale").outputs[0].path == "outputs/scaled"


def test_a_failing_script_fails_its_step_with_the_exit_status(service: PipelineService, tmp_path: Path) -> None:
    script = tmp_path / "fail.py"
    script.write_text("import sys\nprint('bad input', file=sys.stderr)\nsys.exit(3)\n")
    execution = service.run(Pipeline("failing-script", [ProcessingStep("Fail", script=script)]))
    step = execution.step("Fail")
    assert (execution.status, step.status, step.error_type) == (
        ExecutionStatus.FAILED,
        StepStatus.FAILED,
        "ScriptFailed",
    )
    assert "exited with status 3" in (step.error or "")
    assert "bad input" in service.logs(execution.id, "Fail", stream="stderr")


def test_a_script_changed_after_its_version_was_made_is_refused(service: PipelineService, tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text("print('v1')\n")
    pipeline = Pipeline("changed-script", [ProcessingStep("Job", script=script)])
    script.write_text("print('version 2')\n")
    execution = service.run(pipeline)
    assert execution.status is ExecutionStatus.FAILED
    assert "changed since this pipeline version was made" in (execution.step("Job").error or "")
