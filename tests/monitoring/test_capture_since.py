"""Captured traffic is prompt and read once: a quiet endpoint's requests reach the store within the
capture interval, and a monitor run without a window reads what came since its previous one."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _serving_models import register, write_line
from starlette.testclient import TestClient

from slipway import Client
from slipway.monitoring import ExecutionStatus
from slipway.serving import ServingHost, create_inference_app

INTERVAL = 0.3  # seconds: the endpoint's capture interval here


def _stored(client: Client, name: str, records: int, within: float) -> list[str]:
    """Poll until the endpoint's capture files hold ``records`` records; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        files = client.serving.list_capture(name)
        if sum(f.records or 0 for f in files) >= records:
            return [f.path for f in files]
        assert time.monotonic() < deadline, f"only {files} stored after {within} s"
        time.sleep(0.02)


def test_a_quiet_endpoint_reaches_its_monitor_within_the_interval(tmp_path: Path) -> None:
    with Client(home=tmp_path / "home") as client:
        backend = client.backend
        model = register(backend.registry, write_line(tmp_path / "line"))
        backend.serving.create_endpoint(
            "quiet", [{"model": model}], capture={"sampling_percent": 100, "flush_interval_seconds": INTERVAL}
        )
        rng = np.random.default_rng(0)
        train = pd.DataFrame({"a": rng.normal(1, 1, 500), "b": rng.normal(0.5, 0.5, 500)})
        client.monitoring.create_baseline("quiet-train", train, model=model)
        client.monitoring.create_monitor("quiet-dq", baseline="quiet-train", endpoint="quiet")
        before = dt.datetime.now(dt.UTC)

        def send(rows: int) -> list[str]:
            ids = []
            for a, b in train.sample(rows, random_state=rows).to_numpy().tolist():
                answer = http.post("/invocations", json={"dataframe_split": {"columns": ["a", "b"], "data": [[a, b]]}})
                assert answer.status_code == 200, answer.text
                ids.append(answer.headers["x-slipway-inference-id"])
            return ids

        app = create_inference_app(ServingHost(backend.serving, backend.registry, backend.artifacts), "quiet")
        with TestClient(app) as http:  # the app keeps running: only the interval writes the files
            first = send(5)
            sent = time.monotonic()
            _stored(client, "quiet", 5, within=INTERVAL + 5)
            assert time.monotonic() - sent < INTERVAL + 2  # well before the 1,000 records of a full file
            run = client.monitoring.run_monitor("quiet-dq")
            assert run.status is not ExecutionStatus.FAILED and run.item_count == 5, run.message

            second = send(3)
            files = _stored(client, "quiet", 8, within=INTERVAL + 5)
            since = client.monitoring.run_monitor("quiet-dq")  # only what came since the previous run
            assert since.status is not ExecutionStatus.FAILED and since.item_count == 3, since.message
            nothing = client.monitoring.run_monitor("quiet-dq")
            assert nothing.status is ExecutionStatus.FAILED and "no traffic" in (nothing.message or "")
            everything = client.monitoring.run_monitor("quiet-dq", start=before)  # a window: all of it
            assert everything.item_count == 8
            after_window = client.monitoring.run_monitor("quiet-dq")  # a windowed run does not move the cursor
            assert after_window.status is ExecutionStatus.FAILED

        with client.serving.read_capture("quiet", files[0]) as stream:
            records = [json.loads(line) for line in stream.read().splitlines()]
        assert [r["inference_id"] for r in records] == first[: len(records)]
        copied = client.serving.download_capture("quiet", tmp_path / "copy")
        assert [p.relative_to(tmp_path / "copy").as_posix() for p in copied] == files
        ids = [json.loads(line)["inference_id"] for p in copied for line in p.read_text().splitlines()]
        assert ids == first + second
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        assert client.serving.list_capture("quiet", start=later) == []
        assert len(client.serving.list_capture("quiet", end=before)) == 0
