"""`slipway pipelines`: the abalone pipeline end to end, and every command over real executions."""

from __future__ import annotations

import json
import time
from pathlib import Path

import _pipeline_steps as lib
import pytest

from slipway import Client
from slipway.pipelines import ExecutionStatus, Parameter, Pipeline, ProcessingStep, StepStatus, WaitStep

ROOT = Path(__file__).resolve().parents[2]
ABALONE = "examples.abalone.pipeline:pipeline"


def _execution_id(output: str) -> str:
    return json.loads(output)["id"]


def test_abalone_end_to_end_registers_a_pending_version_then_hits_the_cache(
    cli, client: Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)  # `examples` is imported from the repository's root, as a user would
    first = cli("pipelines", "run", ABALONE, "-p", "mse_threshold=6", "--json")
    assert first.exit_code == 0, first.output
    execution = client.pipelines.get_execution(_execution_id(first.stdout))
    assert execution.status is ExecutionStatus.SUCCEEDED
    statuses = {s.step_name: s.status for s in execution.steps}
    assert statuses == {
        "PreprocessAbaloneData": StepStatus.SUCCEEDED,
        "TrainAbaloneModel": StepStatus.SUCCEEDED,
        "EvaluateAbaloneModel": StepStatus.SUCCEEDED,
        "CheckMSEAbaloneEvaluation": StepStatus.SUCCEEDED,
        "RegisterAbaloneModel": StepStatus.SUCCEEDED,
        "AbaloneMSEFail": StepStatus.SKIPPED,
    }
    registered = execution.step("RegisterAbaloneModel").properties or {}
    version = client.registry.get_version("abalone", registered["version"])
    assert version.status.value == "PendingManualApproval"
    mse = execution.step("EvaluateAbaloneModel").properties["mse"]  # type: ignore[index]
    assert 3.0 < mse < 6.0 and version.metrics["mse"].value == mse

    # The cloud stack's pattern: the approval status is a pipeline parameter, checked when the execution starts.
    second = cli("pipelines", "run", ABALONE, "-p", "mse_threshold=6", "-p", "ModelApprovalStatus=Approved")
    assert second.exit_code == 0, second.output
    latest = client.pipelines.list_executions(pipeline="abalone", limit=1)[0]
    again = client.pipelines.get_execution(latest.id)
    for name in ("PreprocessAbaloneData", "TrainAbaloneModel", "EvaluateAbaloneModel"):
        assert again.step(name).status is StepStatus.CACHED
    assert "Cached" in second.stdout and "RegisterAbaloneModel" in second.stdout
    # The step's outputs, fetched: a cached step's are the files it reused.
    splits = json.loads(cli("pipelines", "outputs", again.id, "PreprocessAbaloneData", "--json").stdout)
    assert [(f["output"], f["path"]) for f in splits] == [
        ("test", "test.csv"), ("train", "train.csv"), ("validation", "validation.csv")]
    fetched = cli("pipelines", "outputs", again.id, "EvaluateAbaloneModel", "--download", str(tmp_path))
    assert fetched.exit_code == 0 and "1 file(s)" in fetched.stdout, fetched.output
    report = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    assert report["regression_metrics"]["mse"]["value"] == pytest.approx(mse)
    approved = again.step("RegisterAbaloneModel").properties or {}
    assert approved["status"] == "Approved"
    assert client.registry.get_version("abalone", approved["version"]).status.value == "Approved"
    misspelt = cli("pipelines", "run", ABALONE, "-p", "ModelApprovalStatus=Aproved")
    assert misspelt.exit_code == 2
    assert (
        "step 'RegisterAbaloneModel': approval_status must be one of PendingManualApproval, Approved, Rejected; "
        "parameter 'ModelApprovalStatus' is 'Aproved'"
    ) in " ".join(misspelt.output.split())

    explained = cli("pipelines", "explain-cache", latest.id, "TrainAbaloneModel")
    assert explained.exit_code == 0 and "cache hit" in explained.stdout

    failing = cli("pipelines", "run", ABALONE, "-p", "mse_threshold=0.5")
    assert failing.exit_code == 1
    assert "Execution failed due to MSE > 0.5" in failing.stdout
    assert "AbaloneMSEFail" in failing.stdout

    logs = cli("pipelines", "logs", execution.id, "EvaluateAbaloneModel")
    assert json.loads(logs.stdout)["regression_metrics"]["mse"]["value"] == mse
    shown = cli("pipelines", "show", execution.id)
    assert shown.exit_code == 0
    for name in statuses:
        assert name in shown.stdout
    listed = cli("pipelines", "executions", "--pipeline", "abalone")
    assert listed.stdout.count("abalone") == 3
    assert "abalone" in cli("pipelines", "list").stdout


def test_versions_diff_and_parameter_errors(cli, client: Client) -> None:  # type: ignore[no-untyped-def]
    n = Parameter("n", int, 3)
    client.pipelines.register(
        Pipeline("evolving", [ProcessingStep("Make", lib.numbers, inputs={"n": n}, outputs=["data"])])
    )
    n2 = Parameter("n", int, 4)
    make = ProcessingStep("Make", lib.numbers, inputs={"n": n2}, outputs=["data"])
    client.pipelines.register(
        Pipeline("evolving", [ProcessingStep("Sum", lib.total, inputs={"data": make.outputs["data"]})])
    )
    versions = cli("pipelines", "versions", "evolving")
    assert versions.exit_code == 0 and "2" in versions.stdout
    diff = cli("pipelines", "diff", "evolving", "1", "2", "--json")
    changes = {(c["path"], c["change"]) for c in json.loads(diff.stdout)["changes"]}
    assert ("parameters.n.default", "changed") in changes and ("steps.Sum", "added") in changes

    bad = cli("pipelines", "run", "_pipeline_steps:resumable", "-p", "nope=1")
    assert bad.exit_code == 2 and "has no parameter 'nope'" in bad.stderr
    detached = cli("pipelines", "run", "_pipeline_steps:resumable", "--detach")
    assert detached.exit_code == 2 and "needs a server" in detached.stderr
    typo = cli("pipelines", "run", "_pipeline_steps:nothing_here")
    assert typo.exit_code == 2 and "_pipeline_steps has no 'nothing_here'" in typo.stderr


def test_signal_and_stop_from_the_cli(cli, client: Client) -> None:  # type: ignore[no-untyped-def]
    gate = WaitStep("Gate", timeout=120)
    started = client.pipelines.start(
        Pipeline("gate", [ProcessingStep("After", lib.square, inputs={"x": 2}, depends_on=[gate])])
    )
    signalled = cli("pipelines", "signal", started.id, "Gate", "-d", "approved=true", "-d", "by=ana")
    assert signalled.exit_code == 0, signalled.output
    done = client.pipelines.wait(started.id, timeout=120)
    assert done.step("Gate").properties == {"approved": True, "by": "ana"}

    slow = client.pipelines.start(Pipeline("slow", [ProcessingStep("Nap", lib.sleeper, inputs={"seconds": 60})]))
    while client.pipelines.get_step(slow.id, "Nap").status is not StepStatus.RUNNING:
        time.sleep(0.05)
    stopped = cli("pipelines", "stop", slow.id)
    assert stopped.exit_code == 0 and "Stopped" in stopped.stdout
    again = cli("pipelines", "stop", slow.id)
    assert again.exit_code == 2 and "already Stopped" in again.stderr
