"""The fluent API in remote mode: what ``start_run(client=remote)`` logs lands in the server's store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from _server import LiveServer

import slipway
from slipway import Client, RunStatus


@pytest.fixture
def remote_client(live_server: LiveServer) -> Iterator[Client]:
    with live_server.client() as client:
        yield client


def test_fluent_run_over_http_is_seen_by_an_embedded_reader(remote_client: Client, live_server: LiveServer) -> None:
    experiment = f"fluent-{uuid.uuid4().hex[:8]}"
    with slipway.start_run(experiment, name="remote", tags={"mode": "remote"}, client=remote_client) as run:
        slipway.log_param("alpha", 0.5)
        slipway.log_metrics({"mse": 4.2, "r2": 0.8}, step=1)
        for step in range(3):
            slipway.log_metric("loss", 1.0 / (step + 1), step=step)
        with slipway.start_run(name="child", nested=True) as child:
            slipway.log_metric("loss", 0.1)
        run.log_text("done", "notes/summary.txt")

    with Client(live_server.settings) as local:  # the server's own engines, read in-process
        assert not local.remote
        stored = local.tracking.get_run(run.id)
        assert stored.status is RunStatus.FINISHED
        assert local.tracking.get_experiment(stored.experiment_id).name == experiment
        assert stored.params == {"alpha": "0.5"} and stored.tags == {"mode": "remote"}
        assert stored.metrics["mse"].value == 4.2 and stored.metrics["r2"].step == 1
        assert [m.value for m in local.tracking.get_metric_history(run.id, "loss")] == [1.0, 0.5, 1.0 / 3]
        assert local.tracking.get_run(child.id).parent_run_id == run.id
        with local.tracking.open_artifact(run.id, "notes/summary.txt") as f:
            assert f.read() == b"done"


def test_fluent_run_that_raises_is_failed_remotely(remote_client: Client, live_server: LiveServer) -> None:
    with pytest.raises(ZeroDivisionError), slipway.start_run(client=remote_client) as run:
        slipway.log_metric("x", 1 / 0)
    with Client(live_server.settings) as local:
        assert local.tracking.get_run(run.id).status is RunStatus.FAILED
