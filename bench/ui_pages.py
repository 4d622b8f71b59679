"""Web UI benchmark, second half: server time of the pipeline, endpoint, monitoring, data and lineage pages.

Run by hand (seeding takes about a minute)::

    .venv/bin/python bench/ui_pages.py [--repeat 20] [--json out.json]

The store is a SQLite file in a temp folder, filled through the services as users would: a
pipeline of 100 steps run to the end (its execution page draws a 100-node DAG, and the lineage
around the execution holds 101 nodes), 5 versions of a 50,000-row dataset, a feature group with
10,000 rows over 30 days, an endpoint changed 10 times with 200 requests answered through the
server, and a monitor run 50 times with an alarm. Timing, serving and the table come from
``bench/ui.py`` (a middleware records each response's server time); the target is < 200 ms median.

Exit code: 0 when every page answered 200, 1 otherwise.
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ui import PageResult, ServerTiming, measure, report_pages, serve  # noqa: E402 - the first half's harness

from slipway import load_settings  # noqa: E402
from slipway._backend import Backend  # noqa: E402
from slipway.models import save_model  # noqa: E402
from slipway.pipelines import Pipeline, PipelineExecution, ProcessingStep  # noqa: E402
from slipway.server import create_app  # noqa: E402

STEPS = 100
DATASET_ROWS = 50_000
MONITOR_RUNS = 50


def seed_pipeline(backend: Backend, rng: random.Random) -> PipelineExecution:
    """100 steps, each after one or two of the eight before it (``copy.copy`` as the step: no user code)."""
    steps: list[ProcessingStep] = []
    for i in range(STEPS):
        parents = sorted({rng.randrange(max(0, i - 8), i) for _ in range(rng.randint(1, 2))}) if i else []
        steps.append(ProcessingStep(f"S{i:03d}", copy.copy, inputs={"x": {"i": i}},
                                    depends_on=[steps[j] for j in parents]))
    return backend.pipelines.run(Pipeline("wide", steps), max_parallel=4)


def shells(rng: np.random.Generator, rows: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({
        "length": rng.normal(0.5 + shift, 0.1, rows), "diameter": rng.normal(0.4, 0.08, rows),
        "weight": rng.gamma(2.0, 0.3, rows), "rings": rng.integers(1, 29, rows),
        "sex": rng.choice(["M", "F", "I"], rows),
    })


def seed_data(backend: Backend, rng: np.random.Generator) -> None:
    for version in range(5):
        backend.datasets.register("shells", shells(rng, DATASET_ROWS, shift=0.01 * version))
    backend.features.create_group("shell_features", {"shell": "string", "ts": "timestamp", "weight": "float64"},
                                  record_id="shell", event_time="ts", ttl_seconds=86_400)
    times = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 30 * 86_400, 10_000), unit="s")
    backend.features.ingest("shell_features", pd.DataFrame(
        {"shell": [f"s{i}" for i in range(10_000)], "ts": times, "weight": rng.gamma(2.0, 0.3, 10_000)}
    ))


def seed_endpoint(backend: Backend, folder: Path) -> None:
    frame = pd.DataFrame({"length": np.linspace(0.1, 0.8, 50), "diameter": np.linspace(0.1, 0.6, 50)})
    save_model(LinearRegression().fit(frame, frame["length"] * 10), folder, input_example=frame.head(2))
    models = []
    for _ in range(2):
        version = backend.registry.register_model("shells", folder)
        backend.registry.approve("shells", version.version)
        models.append(f"shells/{version.version}")
    backend.serving.create_endpoint("shells", [{"model": models[0]}], capture={"sampling_percent": 10})
    for change in range(10):
        backend.serving.update_endpoint("shells", [{"model": models[(change + 1) % 2]}])


def seed_monitoring(backend: Backend, rng: np.random.Generator) -> str:
    backend.monitoring.create_baseline("shells", dataset="shells:1")
    backend.monitoring.create_monitor("shells-dq", baseline="shells")
    backend.monitoring.create_alarm("shells-drift", monitor="shells-dq", metric="violations.total", threshold=0)
    last = None
    for run in range(MONITOR_RUNS):
        last = backend.monitoring.run_monitor("shells-dq", shells(rng, 2_000, shift=0.004 * run))
    assert last is not None
    return last.id


def send_traffic(client: httpx.Client, app: ServerTiming) -> None:
    """200 requests through the server, between two samples of its traffic history."""
    client.get("/endpoints/shells")  # the first look starts the history
    history = app.app.state.serving_host.traffic()  # type: ignore[attr-defined]
    history.close()
    history.sample(time.time())
    body = {"dataframe_split": {"columns": ["length", "diameter"], "data": [[0.5, 0.4]]}}
    for _ in range(200):
        client.post("/endpoints/shells/invocations", json=body)
    history.sample(time.time() + 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20, help="timed fetches per page (default 20)")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    rng, generator = random.Random(7), np.random.default_rng(7)
    with tempfile.TemporaryDirectory(prefix="slipway-bench-ui-pages-", ignore_cleanup_errors=True) as tmp:
        home = Path(tmp)
        backend = Backend(load_settings(env={}, cwd=home, home=str(home)))
        app = None
        try:
            began = time.perf_counter()
            execution = seed_pipeline(backend, rng)
            seed_data(backend, generator)
            seed_endpoint(backend, home / "model")
            report = seed_monitoring(backend, generator)
            print(f"seeded in {time.perf_counter() - began:.1f} s", flush=True)
            app = create_app(backend, auth=False)  # after seeding: the app sets the server's approval policy
            timing = ServerTiming(app)
            run = f"/pipelines/wide/executions/{execution.id}"
            pages = [
                ("pipelines", "/pipelines"), ("pipeline", "/pipelines/wide"),
                (f"execution ({STEPS}-node DAG)", run), ("execution state (JSON)", f"{run}/state"),
                ("step", f"{run}/steps/S050"),
                ("endpoints", "/endpoints"), ("endpoint (10 deployments, charts)", "/endpoints/shells"),
                ("monitoring", "/monitoring"), (f"monitor ({MONITOR_RUNS} runs, alarm chart)", "/monitoring/shells-dq"),
                ("report (5 feature charts)", f"/monitoring/shells-dq/executions/{report}"),
                ("datasets", "/datasets"), ("dataset version (5 columns)", "/datasets/shells/versions/5"),
                ("dataset diff", "/datasets/shells/diff?first=1&second=5"),
                ("feature groups", "/features"), ("feature group", "/features/shell_features"),
                ("lineage index", "/lineage"),
                (f"lineage of the execution ({STEPS + 1} nodes)", f"/lineage/pipeline_execution/{execution.id}"),
            ]
            with serve(timing) as url, httpx.Client(base_url=url, timeout=60) as client:
                send_traffic(client, timing)
                results: list[PageResult] = [measure(client, timing, page, path, args.repeat) for page, path in pages]
        finally:
            if app is not None:
                app.state.serving_host.close()  # the endpoint's watcher polls the store until closed
            backend.close()
    return report_pages(results, f"Web UI pages (pipelines, endpoints, monitoring, data, lineage), SQLite, "
                                 f"{args.repeat} fetches each", args.json)


if __name__ == "__main__":
    sys.exit(main())
