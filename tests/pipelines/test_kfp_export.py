"""Kubeflow Pipelines export: the spec loads in the real `kfp` SDK with the pipeline's DAG, parameters and
condition; each step's container command runs outside a container, chained the way KFP's launcher
chains it; what KFP cannot express is refused by name."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from _kfp_launcher import Launcher
from _pipeline_steps import numbers, total
from _reference_venv import reference_python
from _server import running_server, server_settings

from slipway import Client
from slipway.errors import InvalidInput
from slipway.pipelines import (
    CachePolicy,
    ConditionStep,
    FailStep,
    JsonGet,
    OutputRef,
    Parameter,
    Pipeline,
    PipelineVersion,
    ProcessingStep,
    Resources,
    RetryPolicy,
    WaitStep,
    kfp_pipeline_spec,
)

ROOT = Path(__file__).resolve().parents[2]
ABALONE = "examples.abalone.pipeline:pipeline"
IMAGE = "registry.local/abalone:1"
KFP_PINS = ("kfp==2.17.3", "kfp-kubernetes==2.17.3")


@pytest.fixture(scope="module")
def kfp_python() -> Path:
    """The Python of a venv with the KFP SDK: its protobuf pin (< 7) clashes with ours."""
    return reference_python(KFP_PINS)


def _load_in_kfp(python: Path, spec: str, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "spec.yaml"
    path.write_text(spec)
    side = Path(__file__).with_name("_kfp_side.py")
    done = subprocess.run([str(python), str(side), str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded: dict[str, Any] = json.loads(done.stdout)
    return loaded


@pytest.fixture
def abalone(client: Client, monkeypatch: pytest.MonkeyPatch) -> tuple[Pipeline, PipelineVersion]:
    monkeypatch.chdir(ROOT)  # `examples` is imported from the repository's root, as a user would
    pipeline = Pipeline.load(ABALONE)
    return pipeline, client.pipelines.register(pipeline)


def test_abalone_export_loads_in_kfp_with_the_same_steps_edges_parameters_and_condition(
    abalone: tuple[Pipeline, PipelineVersion], kfp_python: Path, tmp_path: Path
) -> None:
    pipeline, version = abalone
    loaded = _load_in_kfp(kfp_python, kfp_pipeline_spec(version, image=IMAGE), tmp_path)

    assert loaded["name"] == "abalone"
    # Parameters: the same names, types and defaults.
    types = {"float": "NUMBER_DOUBLE", "str": "STRING", "int": "NUMBER_INTEGER", "bool": "BOOLEAN"}
    assert loaded["sdk_inputs"] == sorted(pipeline.parameters)
    for name, parameter in pipeline.parameters.items():
        assert loaded["parameters"][name]["parameterType"] == types[parameter.type_name]
        assert loaded["parameters"][name]["defaultValue"] == parameter.default
    # Steps: every step but the condition is a container task running `slipway pipelines run-step` in the image.
    conditions = {n for n, s in pipeline.steps.items() if isinstance(s, ConditionStep)}
    tasks = loaded["tasks"]
    assert set(tasks) == set(pipeline.steps) - conditions
    stored = {s["name"]: s for s in version.definition["steps"]}
    for name, task in tasks.items():
        executor = task["executor"]
        assert (executor["image"], executor["command"]) == (IMAGE, ["slipway", "pipelines", "run-step"])
        assert json.loads(executor["args"][1])["step"] == stored[name]
    # Edges: a step outside the condition waits for exactly the steps it needs.
    for name, task in tasks.items():
        if not task["groups"]:
            assert task["after"] == sorted(pipeline.dag.upstream[name])
    # The condition: Register in its if-branch, Fail in its else-branch, comparing Evaluate's MSE with the threshold.
    register, fail = tasks["RegisterAbaloneModel"], tasks["AbaloneMSEFail"]
    (wrapper, if_branch), (_, else_branch) = register["groups"], fail["groups"]
    assert wrapper["name"] == "CheckMSEAbaloneEvaluation"
    assert wrapper["after"] == ["EvaluateAbaloneModel", "TrainAbaloneModel"]  # the MSE, and the model it registers
    mse = "pipelinechannel--evaluateabalonemodel-EvaluationReport_regression_metrics_mse_value"
    test = f"inputs.parameter_values['{mse}'] <= inputs.parameter_values['pipelinechannel--mse_threshold']"
    assert (if_branch["condition"], else_branch["condition"]) == (test, f"!({test})")
    produced = tasks["EvaluateAbaloneModel"]["outputs"]["parameters"]
    assert produced == {"EvaluationReport_regression_metrics_mse_value": {"parameterType": "NUMBER_DOUBLE"}}
    # Caching: registering always runs; reading a file by path too; the rest may be reused.
    caching = {name: task["caching"].get("enableCache", False) for name, task in tasks.items()}
    assert caching == {
        "PreprocessAbaloneData": False,
        "TrainAbaloneModel": True,
        "EvaluateAbaloneModel": True,
        "RegisterAbaloneModel": False,
        "AbaloneMSEFail": False,
    }
    assert tasks["TrainAbaloneModel"]["outputs"]["artifacts"]["model"]["artifactType"]["schemaTitle"] == "system.Model"


def _options_pipeline() -> Pipeline:
    data = ProcessingStep(
        "Numbers",
        numbers,
        inputs={"n": Parameter("n", int, 5)},
        outputs=["data"],
        retry=RetryPolicy(max_attempts=3, backoff=0.5, backoff_rate=3.0, max_backoff=60.0),
        timeout=dt.timedelta(minutes=10),
        resources=Resources(cpus=2, memory_mb=512, gpus=1),
    )
    summed = ProcessingStep("Total", total, inputs={"data": data.outputs["data"]}, cache=False, depends_on=[data])
    return Pipeline("options", [summed])


def test_retries_caching_resources_timeouts_and_secrets_map_to_kfp(
    client: Client, kfp_python: Path, tmp_path: Path
) -> None:
    version = client.pipelines.register(_options_pipeline())
    spec = kfp_pipeline_spec(
        version, image=IMAGE, env={"SLIPWAY_SERVER_URL": "http://slipway:5000"},
        secret_env={"SLIPWAY_TOKEN": ("slipway", "token")},
    )
    loaded = _load_in_kfp(kfp_python, spec, tmp_path)  # the platform spec is parsed strictly by kfp-kubernetes

    numbers_task, total_task = loaded["tasks"]["Numbers"], loaded["tasks"]["Total"]
    assert numbers_task["retry"] == {
        "maxRetryCount": 2, "backoffDuration": "0.500s", "backoffFactor": 3.0, "backoffMaxDuration": "60s",
    }
    assert numbers_task["caching"] == {"enableCache": True} and total_task["caching"] == {}
    assert total_task["after"] == ["Numbers"]
    resources = numbers_task["executor"]["resources"]
    assert (resources["resourceCpuRequest"], resources["resourceMemoryRequest"]) == ("2", "512Mi")
    assert (resources["accelerator"]["resourceType"], resources["accelerator"]["resourceCount"]) == (
        "nvidia.com/gpu", "1"
    )
    assert numbers_task["executor"]["env"] == [{"name": "SLIPWAY_SERVER_URL", "value": "http://slipway:5000"}]
    kubernetes = loaded["platform"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert kubernetes[f"exec-{numbers_task['task']}"]["activeDeadlineSeconds"] == "600"
    assert kubernetes[f"exec-{total_task['task']}"]["secretAsEnv"][0]["keyToEnv"] == [
        {"secretKey": "token", "envVar": "SLIPWAY_TOKEN"}
    ]


def test_exported_abalone_runs_step_by_step_as_kfps_launcher_would(
    abalone: tuple[Pipeline, PipelineVersion], tmp_path: Path
) -> None:
    """Each container command, run as its own process outside a container, talking to a live server as
    containers would (SLIPWAY_SERVER_URL, SLIPWAY_TOKEN): files and values chain the steps."""
    _, version = abalone
    spec = yaml.safe_load(kfp_pipeline_spec(version, image=IMAGE))
    with running_server(server_settings(tmp_path / "server")) as server:
        env = {
            **os.environ,
            "SLIPWAY_SERVER_URL": server.url,
            "SLIPWAY_TOKEN": server.token,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }
        launcher = Launcher(spec, tmp_path / "kfp", env, cwd=ROOT)
        launcher.run({"mse_threshold": 6.0})

        assert launcher.ran == [
            "PreprocessAbaloneData", "TrainAbaloneModel", "EvaluateAbaloneModel", "RegisterAbaloneModel",
        ]
        assert launcher.skipped == ["CheckMSEAbaloneEvaluation: else"]
        mse_file = next((tmp_path / "kfp" / "evaluateabalonemodel" / "parameters").iterdir())
        mse = float(mse_file.read_text())
        assert 0 < mse <= 6.0
        with server.client() as team:
            (registered,) = team.registry.list_versions("abalone")
            assert registered.metrics["mse"].value == pytest.approx(mse)
            assert registered.status.value == "PendingManualApproval"
            (trained,) = team.tracking.search_runs(filter="tags.`slipway.pipeline.orchestrator` = 'kfp'").runs
            assert trained.tags["slipway.pipeline.execution_id"] == "pipeline_job_uuid-trainabalonemodel"
    properties = json.loads(launcher.results["EvaluateAbaloneModel"].stdout.splitlines()[-1])["properties"]
    assert properties["mse"] == pytest.approx(mse)


def test_a_fail_step_exits_1_with_its_message_and_changed_code_is_refused(
    abalone: tuple[Pipeline, PipelineVersion], cli: Any
) -> None:
    _, version = abalone
    spec = yaml.safe_load(kfp_pipeline_spec(version, image=IMAGE))
    args = spec["deploymentSpec"]["executors"]["exec-abalonemsefail"]["container"]["args"]
    step_spec = args[1]
    failed = cli("pipelines", "run-step", "--spec", step_spec, "--parameter", "mse_threshold=0.5")
    assert failed.exit_code == 1
    assert "Execution failed due to MSE > 0.5" in failed.output

    train = json.loads(spec["deploymentSpec"]["executors"]["exec-trainabalonemodel"]["container"]["args"][1])
    train["step"]["code"]["hash"] = "0" * 64  # exported from other code than the image holds
    changed = cli("pipelines", "run-step", "--spec", json.dumps(train), "--parameter", "alpha=1")
    assert changed.exit_code == 2
    assert "the code of step 'TrainAbaloneModel' here (examples.abalone.steps:train) differs" in changed.output


def _refused(client: Client, *steps: Any, parameters: tuple[Parameter, ...] = ()) -> InvalidInput:
    version = client.pipelines.register(Pipeline("refused", steps, parameters=parameters))
    with pytest.raises(InvalidInput) as caught:
        kfp_pipeline_spec(version, image=IMAGE)
    return caught.value


def test_what_kfp_cannot_express_is_refused_naming_the_step_and_the_feature(client: Client) -> None:
    wait = _refused(client, WaitStep("Approval"))
    assert "step 'Approval' is a Wait step" in wait.message and wait.field == "steps.Approval"

    retry = _refused(client, ProcessingStep("Fetch", numbers, inputs={"n": 3}, outputs=["data"],
                                            retry=RetryPolicy(retry_on=(ConnectionError,))))
    assert "step 'Fetch' retries only on ConnectionError" in retry.message and retry.field == "steps.Fetch.retry"

    expiry = _refused(client, ProcessingStep("Fetch", numbers, inputs={"n": 3}, outputs=["data"],
                                             cache=CachePolicy(expire_after=3600)))
    assert "step 'Fetch' reuses cached results for 3600s only" in expiry.message

    gpus = _refused(client, ProcessingStep("Fit", numbers, inputs={"n": 3}, outputs=["data"],
                                           resources=Resources(gpus=0.5)))
    assert "step 'Fit' asks for 0.5 GPUs" in gpus.message

    data = ProcessingStep("Numbers", numbers, inputs={"n": 3}, outputs=["data"])
    over_a_folder = ConditionStep("Check", OutputRef(data, "data").eq("x"), if_steps=[FailStep("Stop")])
    folder = _refused(client, over_a_folder)
    assert "condition step 'Check' compares Numbers.outputs['data']" in folder.message

    first = ProcessingStep("A", total, inputs={"data": data.outputs["data"]})
    second = ProcessingStep("B", total, inputs={"data": data.outputs["data"]})
    after_a = ProcessingStep("AfterA", total, inputs={"data": data.outputs["data"]}, depends_on=[first])
    after_both = ProcessingStep("Join", total, inputs={"data": data.outputs["data"]}, depends_on=[after_a, second])
    count = JsonGet(data, None, "count")
    two = _refused(
        client,
        ConditionStep("C1", count > 1, if_steps=[first]),
        ConditionStep("C2", count > 2, if_steps=[second]),
        after_both,
    )
    assert "step 'Join' comes after the branches of condition steps C1 and C2" in two.message
    assert "neither of which is inside the other" in two.message


def test_export_cli_writes_the_spec_of_a_version_and_names_what_is_wrong(cli: Any, tmp_path: Path) -> None:
    assert cli("pipelines", "register", "_pipeline_steps_kfp:options", "--json").exit_code != 0  # no such module
    out = tmp_path / "options.yaml"
    registered = cli("pipelines", "register", f"{Path(__file__).resolve()}:_options_pipeline", "--json")
    assert registered.exit_code == 0, registered.output
    assert json.loads(registered.stdout)["version"] == 1
    written = cli("pipelines", "export", "options:1", "--format", "kfp", "--image", IMAGE, "-o", str(out))
    assert written.exit_code == 0, written.output
    assert yaml.safe_load_all(out.read_text()).__next__()["pipelineInfo"]["name"] == "options"

    unknown = cli("pipelines", "export", "nothing", "--image", IMAGE)
    assert unknown.exit_code == 2 and "nothing" in unknown.output
    bad_version = cli("pipelines", "export", "options:latest", "--image", IMAGE)
    assert bad_version.exit_code == 2 and "NAME:VERSION" in bad_version.output and "'latest'" in bad_version.output
    bad_secret = cli("pipelines", "export", "options", "--image", IMAGE, "--secret-env", "SLIPWAY_TOKEN=slipway")
    assert bad_secret.exit_code == 2 and "is not SECRET:KEY" in bad_secret.output
