"""An orchestrator killed with SIGKILL: the execution is seen as interrupted, and `resume` finishes it
without running again the steps that had finished."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import _pipeline_steps as lib

from slipway import Client
from slipway.pipelines import ExecutionStatus, StepStatus

TESTS = Path(__file__).resolve().parents[1]


def test_kill_the_orchestrator_then_resume_from_the_cli(tmp_path: Path, cli, counter: Path) -> None:  # type: ignore[no-untyped-def]
    home = Path(os.environ["SLIPWAY_HOME"])
    marker = tmp_path / "slow-started"
    scratch = tmp_path / "tmp"  # what the killed process leaves behind stays in the test's folder
    scratch.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
           "TMPDIR": str(scratch)}
    orchestrator = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "slipway"),
            "pipelines",
            "run",
            "_pipeline_steps:resumable",
            "-p",
            f"marker={marker}",
            "-p",
            f"counter={counter}",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    with Client(home=str(home)) as client:
        execution_id = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = client.pipelines.list_executions(pipeline="resumable") if (home / "slipway.db").exists() else []
            if found:
                execution_id = found[0].id
                if client.pipelines.get_step(execution_id, "Slow").status is StepStatus.RUNNING and marker.exists():
                    break
            assert orchestrator.poll() is None, orchestrator.stderr.read().decode() if orchestrator.stderr else ""
            time.sleep(0.1)
        assert execution_id is not None, "the execution never reached its slow step"

        orchestrator.send_signal(signal.SIGKILL)
        orchestrator.wait(timeout=30)

        interrupted = client.pipelines.get_execution(execution_id)
        assert interrupted.status is ExecutionStatus.INTERRUPTED
        assert interrupted.step("First").status is StepStatus.SUCCEEDED
        assert interrupted.step("Slow").status is StepStatus.STOPPED
        assert interrupted.step("Last").status is StepStatus.PENDING
        assert "stopped without finishing it" in (interrupted.failure_reason or "")

    result = cli("pipelines", "resume", execution_id)
    assert result.exit_code == 0, result.output
    with Client(home=str(home)) as client:
        done = client.pipelines.get_execution(execution_id)
    assert done.status is ExecutionStatus.SUCCEEDED
    assert done.step("First").attempts == 1  # not run again
    assert done.step("Slow").attempts == 2
    assert [a.status for a in done.step("Slow").attempt_history] == [StepStatus.STOPPED, StepStatus.SUCCEEDED]
    assert lib.runs(counter) == ["numbers", "slow_once", "slow_once", "total"]
