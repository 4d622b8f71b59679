"""Heavy work off the request path: a server with background workers queues a monitor's run over
captured traffic; only a worker runs it, and the request gets its result. (Pipeline executions
queued for workers: test_leases.py.)"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _polling import until
from _server import admin_token, server_settings, serving
from _serving_models import register, write_line
from sqlalchemy import select

from slipway import Client
from slipway._backend import Backend
from slipway._kinds import ObjectKind
from slipway.pipelines import LocalExecutor, PipelineService, ServiceSpec
from slipway.server import create_app
from slipway.store._jobs import jobs
from slipway.store.artifacts import Owner
from slipway.worker import Worker

ROWS = 40


def _captured(backend: Backend, tmp_path: Path) -> None:
    """An endpoint with ``ROWS`` captured rows, a baseline and a data-quality monitor of it."""
    model = register(backend.registry, write_line(tmp_path / "line"))
    endpoint = backend.serving.create_endpoint("watched", [{"model": model}])
    rng = np.random.default_rng(0)
    backend.monitoring.create_baseline("train", pd.DataFrame({"a": rng.normal(1, 1, 200), "b": rng.normal(0, 1, 200)}))
    backend.monitoring.create_monitor("dq", baseline="train", endpoint="watched")
    now = dt.datetime.now(dt.UTC)
    ms = int(now.timestamp() * 1000)
    line = {"inference_id": "i", "time": now.isoformat(), "endpoint": "watched", "variant": "v", "shadow": False,
            "request": {"columns": ["a", "b"], "data": rng.normal(1, 1, (ROWS, 2)).tolist()}, "response": [0.0] * ROWS}
    path = f"capture/{now:%Y/%m/%d/%H}/{ms}-1-0-1-{ms}.jsonl"  # the layout CaptureWriter uploads
    backend.artifacts.put_bytes(Owner(ObjectKind.ENDPOINT, endpoint.id), path, (json.dumps(line) + "\n").encode())


def test_the_api_queues_heavy_work_and_a_worker_does_it(tmp_path: Path, pool: LocalExecutor) -> None:
    settings = server_settings(tmp_path / "server")
    api, work = Backend(settings), Backend(settings)
    # The worker's pipelines on the session's warm pool: it starts none of its own.
    work.__dict__["pipelines"] = PipelineService(work.db, work.artifacts, ServiceSpec(Backend, settings),
                                                 local_executor=pool)
    worker = Worker(work)
    try:
        _captured(api, tmp_path)
        with serving(create_app(api, offload=True)) as url, Client(server_url=url, token=admin_token(api)) as client:
            answers: dict[str, Any] = {}
            asking = threading.Thread(target=lambda: answers.update(run=client.monitoring.run_monitor("dq")))
            asking.start()
            def statuses() -> list[str]:
                with api.db.read() as conn:
                    return list(conn.execute(select(jobs.c.status)).scalars())

            until(statuses, 60, "the monitor's job")
            assert statuses() == ["Pending"]  # queued, and nobody in the API's process takes it up
            assert asking.is_alive()

            worker.start()
            asking.join(60)
            run = answers["run"]
            assert run.item_count == ROWS and run.status.value.startswith("Completed"), run.message
            with api.db.read() as conn:
                [(status, holder)] = conn.execute(select(jobs.c.status, jobs.c.holder)).all()
            assert status == "Succeeded" and holder == worker.name
    finally:
        worker.stop()
        api.close()
        work.close()
