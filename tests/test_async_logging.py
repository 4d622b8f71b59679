"""Asynchronous metric logging (issue 22): calls return at once, the run's end, flush() and exit store every point."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import slipway
from slipway import Client, load_settings
from slipway.errors import InvalidInput


@pytest.fixture
def client(tmp_path: Path) -> Client:
    return Client(load_settings(env={}, cwd=tmp_path, home=str(tmp_path / "home")))


def test_async_run_stores_every_point_by_its_end_in_order(client: Client) -> None:
    with slipway.start_run("async", client=client, async_logging=True) as run:
        for i in range(2_500):  # more than one background batch
            slipway.log_metric("loss", 1.0 / (i + 1), step=i)
        slipway.log_metrics({"a": 1.0, "b": math.nan}, step=7)
    history = client.tracking.get_metric_history(run.id, "loss")
    assert [p.step for p in history] == list(range(2_500))
    assert history[-1].value == pytest.approx(1 / 2_500)
    assert math.isnan(client.tracking.get_metric_history(run.id, "b")[0].value)
    assert client.tracking.get_run(run.id).status.value == "FINISHED"


def test_flush_acknowledges_and_synchronous_false_works_per_call(client: Client) -> None:
    with slipway.start_run("async", client=client) as run:
        run.log_metric("x", 1.0, synchronous=False)
        run.log_metric("y", 2.0)  # synchronous: stored when it returns
        assert len(client.tracking.get_metric_history(run.id, "y")) == 1
        slipway.flush_async_logging()
        assert [p.value for p in client.tracking.get_metric_history(run.id, "x")] == [1.0]
        with pytest.raises(InvalidInput):  # checked at the call, not later in the background
            run.log_metric("bad key!", 1.0, synchronous=False)


def test_a_failed_background_write_is_raised_by_flush(client: Client) -> None:
    run = slipway.start_run("async", client=client, async_logging=True)
    client.tracking.delete_run(run.id)
    run.log_metric("x", 1.0)
    with pytest.raises(slipway.SlipwayError):
        run.flush(timeout=30)
    run.flush(timeout=30)  # the error is raised once
    client.tracking.restore_run(run.id)
    run.end()


def test_setting_turns_it_on_and_exit_flushes_what_is_queued(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = textwrap.dedent(f"""
        import slipway
        run = slipway.start_run("exit", client=slipway.Client(slipway.load_settings(home={str(home)!r})))
        assert run.async_logging
        for i in range(1_500):
            slipway.log_metric("m", float(i), step=i)
        print(run.id)
    """)  # no end_run, no flush: the interpreter's exit writes the queue
    env = {"SLIPWAY_ASYNC_LOGGING": "true", "PATH": "/usr/bin:/bin"}
    import os

    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    client = Client(load_settings(env={}, cwd=tmp_path, home=str(home)))
    assert len(client.tracking.get_metric_history(out.stdout.strip(), "m")) == 1_500
