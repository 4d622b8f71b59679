"""The same calls against a real server: start, list, describe, logs, signal, stop, resume, retry, errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import _pipeline_steps as lib
import pytest
from _server import admin_token, server_settings, serving

from slipway import Client
from slipway._backend import Backend
from slipway.errors import Conflict, InvalidInput, NotFound
from slipway.pipelines import (
    ExecutionStatus,
    LocalExecutor,
    Parameter,
    Pipeline,
    PipelineService,
    ProcessingStep,
    ServiceSpec,
    StepStatus,
    WaitStep,
)
from slipway.server import create_app


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory, pool: LocalExecutor) -> Iterator[Client]:
    """A client of a server whose pipelines run on the session's warm pool (one server for the module:
    each test names pipelines of its own)."""
    backend = Backend(server_settings(tmp_path_factory.mktemp("remote-pipelines") / "server"))
    # The server's own service, on the shared pool instead of a pool of its own.
    backend.__dict__["pipelines"] = PipelineService(
        backend.db, backend.artifacts, ServiceSpec(Backend, backend.settings), local_executor=pool
    )
    try:
        token = admin_token(backend)
        with serving(create_app(backend)) as url, Client(server_url=url, token=token) as client:
            yield client
    finally:
        backend.close()


def _pipeline(seconds: float = 0.0) -> Pipeline:
    make = ProcessingStep("Make", lib.numbers, inputs={"n": Parameter("n", int, 3)}, outputs=["data"])
    total = ProcessingStep("Total", lib.total, inputs={"data": make.outputs["data"]})
    nap = ProcessingStep("Nap", lib.sleeper, inputs={"seconds": seconds}, depends_on=[total])
    return Pipeline("remote-sums", [nap])


def test_run_describe_and_logs_over_http(remote: Client, tmp_path: Path) -> None:
    execution = _pipeline().run(client=remote, parameters={"n": 4})
    assert execution.status is ExecutionStatus.SUCCEEDED
    assert execution.step("Total").properties == {"sum": 6}
    pipelines = remote.pipelines
    assert [e.id for e in pipelines.list_executions(pipeline="remote-sums")] == [execution.id]
    assert pipelines.get_step(execution.id, "Make").status is StepStatus.SUCCEEDED
    assert pipelines.logs(execution.id, "Make") == "writing 4 numbers\n"
    assert pipelines.get_version("remote-sums").version == 1
    again = pipelines.run("remote-sums", parameters={"n": 4})
    assert again.step("Make").status is StepStatus.CACHED
    assert pipelines.explain_cache(again.id, "Make").hit
    [made] = pipelines.list_outputs(again.id, "Make")  # the cached step's: the files it reused
    assert (made.output, made.path) == ("data", "numbers.json")
    with pipelines.open_output(again.id, "Make", "data", "numbers.json") as stream:
        assert stream.read() == b"[0, 1, 2, 3]"
    [copy] = pipelines.download_outputs(execution.id, "Make", tmp_path)
    assert copy == tmp_path / "data" / "numbers.json" and copy.read_text() == "[0, 1, 2, 3]"
    with pytest.raises(NotFound, match="no output 'nope'") as missing:
        pipelines.open_output(execution.id, "Make", "nope", "x")
    assert missing.value.field == "output"


def test_errors_come_back_as_the_same_exceptions(remote: Client) -> None:
    with pytest.raises(InvalidInput, match="has no parameter 'm'") as err:
        _pipeline().start(client=remote, parameters={"m": 1})
    assert err.value.field == "parameters.m"
    with pytest.raises(NotFound):
        remote.pipelines.get_execution("0" * 26)


def test_signal_stop_and_resume_over_http(remote: Client) -> None:
    gate = WaitStep("Gate", timeout=120)
    after = ProcessingStep("After", lib.square, inputs={"x": 3}, depends_on=[gate])
    handle = Pipeline("remote-gate", [after]).start(client=remote)
    released = handle.signal("Gate", {"approved": True})
    assert released.step_name == "Gate"
    done = handle.wait(timeout=120)
    assert done.status is ExecutionStatus.SUCCEEDED
    assert done.step("Gate").properties == {"approved": True}

    slow = _pipeline(seconds=30).start(client=remote)
    for _ in range(600):
        if remote.pipelines.get_step(slow.id, "Nap").status is StepStatus.RUNNING:
            break
        time.sleep(0.05)
    stopped = slow.stop()
    assert stopped.status is ExecutionStatus.STOPPED
    assert stopped.step("Nap").status is StepStatus.STOPPED
    with pytest.raises(Conflict):
        slow.stop()
    resumed = remote.pipelines.resume(slow.id)
    assert resumed.id == slow.id
    remote.pipelines.stop(slow.id)


def test_resume_and_retry_take_a_pipeline_over_http(remote: Client, tmp_path: Path) -> None:
    """``pipeline=`` of resume and retry travels as its definition, as embedded callers pass it."""
    failing = ProcessingStep("Check", lib.fails_unless, inputs={"flag": str(tmp_path / "missing")})
    failed = remote.pipelines.run(Pipeline("remote-fixable", [failing]))
    assert failed.status is ExecutionStatus.FAILED
    fixed = Pipeline("remote-fixable", [ProcessingStep("Check", lib.square, inputs={"x": 3})])
    with pytest.raises(Conflict, match="changed since version 1"):  # the server compared the one given
        remote.pipelines.resume(failed.id, pipeline=fixed)
    retried = remote.pipelines.wait(remote.pipelines.retry(failed.id, pipeline=fixed).id, timeout=120)
    assert retried.status is ExecutionStatus.SUCCEEDED and retried.reference_execution_id == failed.id
    assert retried.version == 2 and retried.step("Check").properties == {"y": 9}
