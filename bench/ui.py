"""Web UI benchmark: server time per page with 100,000 runs and 1,000 model versions in the store.

Run by hand (seeding takes about a minute; ``--quick`` seeds 10× less)::

    .venv/bin/python bench/ui.py [--quick] [--runs N] [--versions N] [--repeat 20] [--json out.json] [--keep]

The store is a SQLite file in a temp folder. Runs go in through a bulk insert into the tracking
tables (what ``TrackingService`` would write for them, 100,000 at a time instead of one
transaction each); the model versions are registered one by one through ``RegistryService``, as a
pipeline's RegisterModel step would, half of them approved, a fifth rejected. The server is the
real app (``create_app``) under uvicorn on 127.0.0.1; each page is fetched ``--repeat`` times after
two warm-up fetches, and a timing middleware around the app records the server time of each: from
the request's arrival to the last byte of the response. The target is < 200 ms median per page.

Exit code: 0 when every page answered 200, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import pandas as pd
import uvicorn
from rich.console import Console
from rich.table import Table
from sklearn.linear_model import LinearRegression
from sqlalchemy import func, insert, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Session, free_port, percentile  # noqa: E402 - the harness sits beside this script

from slipway import load_settings  # noqa: E402
from slipway._backend import Backend  # noqa: E402
from slipway._ids import new_id  # noqa: E402
from slipway.models import save_model  # noqa: E402
from slipway.server import create_app  # noqa: E402
from slipway.server.ui._experiments import run_cursor  # noqa: E402 - the table's keyset page after a run
from slipway.tracking._tables import latest_metrics, metric_points, metric_series, params, runs  # noqa: E402

TARGET_MS = 200.0
GROUP = "abalone"
METRIC_KEYS = ("rmse", "mae")
CHUNK = 20_000


class ServerTiming:
    """ASGI middleware: the seconds from each request's arrival to its response's last byte, by path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seconds: list[float] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.seconds.append(time.perf_counter() - start)  # before sending: the client may read it next
            await send(message)

        await self.app(scope, receive, timed_send)


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the benchmark server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def seed_runs(backend: Backend, count: int, rng: random.Random) -> tuple[str, list[str], str]:
    """``count`` finished runs in one experiment: 2 params, 2 metrics (latest and a 100-step history for 10)."""
    experiment = backend.tracking.create_experiment("bench-ui")
    start = 1_750_000_000_000
    ids = [new_id() for _ in range(count)]
    for offset in range(0, count, CHUNK):
        run_rows, param_rows, latest_rows = [], [], []
        for i in range(offset, min(offset + CHUNK, count)):
            began = start + i * 1000
            run_rows.append({"id": ids[i], "experiment_id": experiment.id, "name": f"run-{i:06d}",
                             "status": "FINISHED", "start_time": began, "end_time": began + 60_000,
                             "parent_run_id": None, "user": "bench", "lifecycle_stage": "active"})
            param_rows += [{"run_id": ids[i], "key": "alpha", "value": str(rng.choice((0.01, 0.1, 1.0)))},
                           {"run_id": ids[i], "key": "depth", "value": str(rng.randint(2, 12))}]
            for key in METRIC_KEYS:
                value = rng.uniform(1.5, 4.0)
                row = {"run_id": ids[i], "key": key, "value": value, "is_nan": False, "step": 99,
                       "timestamp": began + 60_000}
                latest_rows.append(row)
        with backend.db.write() as conn:
            conn.execute(insert(runs), run_rows)
            conn.execute(insert(params), param_rows)
            newest = conn.execute(select(func.max(metric_series.c.id))).scalar() or 0
            conn.execute(insert(metric_series), [{"run_id": r["run_id"], "key": r["key"]} for r in latest_rows])
            series = {(run_id, key): id_ for id_, run_id, key in conn.execute(  # the chunk's: ids past the newest
                select(metric_series.c.id, metric_series.c.run_id, metric_series.c.key)
                .where(metric_series.c.id > newest))}
            conn.execute(insert(metric_points), [
                {"series_id": series[r["run_id"], r["key"]], "step": r["step"], "timestamp": r["timestamp"], "seq": 0,
                 "value": r["value"], "is_nan": False} for r in latest_rows])
            conn.execute(insert(latest_metrics), latest_rows)
    charted = ids[:10]
    for run_id in charted:  # the run and compare pages draw a 100-step history per metric
        history = [{"key": key, "value": 4.0 - step * 0.02 + rng.random() * 0.1, "step": step}
                   for key in METRIC_KEYS for step in range(99)]
        backend.tracking.log_batch(run_id, metrics=history)
    backend.tracking.log_bytes(charted[0], b"alpha=0.1\n" * 200, "notes.txt")
    halfway = backend.tracking.get_run(ids[count // 2])  # newest first, the page after it is half-way down
    return experiment.id, charted, run_cursor(halfway)


def seed_versions(backend: Backend, count: int, rng: random.Random, folder: Path) -> None:
    """``count`` versions of one group through the registry: half approved, a fifth rejected, the rest pending."""
    frame = pd.DataFrame({"length": np.linspace(0.1, 0.8, 50), "diameter": np.linspace(0.1, 0.6, 50)})
    package = folder / "package"
    save_model(LinearRegression().fit(frame, frame["length"] * 10), package, input_example=frame.head(2))
    registry = backend.registry
    for n in range(1, count + 1):
        registry.register_model(GROUP, package, metrics={"rmse": {"value": rng.uniform(1.8, 2.6), "std": 0.05}},
                                description=f"candidate {n}: ridge on shell measurements")
        draw = rng.random()
        if draw < 0.5:
            registry.approve(GROUP, n, comment="bench")
        elif draw < 0.7:
            registry.reject(GROUP, n, comment="bench")
        if n % 200 == 0:
            print(f"  {n:,} versions", flush=True)


@dataclass
class PageResult:
    page: str
    path: str
    status: int
    server_ms: list[float]
    client_ms: list[float]
    size: int

    def summary(self) -> dict[str, Any]:
        return {"page": self.page, "path": self.path, "status": self.status, "bytes": self.size,
                "server_median_ms": statistics.median(self.server_ms),
                "server_p95_ms": percentile(self.server_ms, 95),
                "client_median_ms": statistics.median(self.client_ms)}


def measure(client: httpx.Client, timing: ServerTiming, page: str, path: str, repeat: int) -> PageResult:
    for _ in range(2):
        client.get(path)
    server, wall = [], []
    status, size = 0, 0
    for _ in range(repeat):
        timing.seconds.clear()
        began = time.perf_counter()
        answer = client.get(path)
        wall.append((time.perf_counter() - began) * 1000)
        server.append(timing.seconds[-1] * 1000)
        status, size = answer.status_code, len(answer.content)
    return PageResult(page, path, status, server, wall, size)


def metric_page_after(backend: Backend, experiment_id: str, at: int) -> str:
    """The page token a user reaches after paging ``at`` runs in rmse order, found with one search, not 1,000 clicks."""
    page = backend.tracking.search_runs([experiment_id], order_by=["metrics.rmse ASC"], max_results=at)
    assert page.next_page_token is not None
    return page.next_page_token


def pages(experiment: str, charted: list[str], total_runs: int, halfway: str, deep: str) -> list[tuple[str, str]]:
    compare = "&".join(f"run={r}" for r in charted)
    return [
        ("home", "/"),
        ("experiments", "/experiments"),
        ("runs, first page (newest)", f"/experiments/{experiment}"),
        ("runs sorted by a metric", f"/experiments/{experiment}?order=metrics.rmse"),
        ("runs filtered", f"/experiments/{experiment}?filter=" + quote("metrics.rmse < 1.6 and params.depth = '5'")),
        (f"runs, page after {total_runs // 2:,} (keyset)", f"/experiments/{experiment}?page={halfway}"),
        (f"runs by a metric, after {total_runs // 2:,}", f"/experiments/{experiment}?order=metrics.rmse&page={deep}"),
        ("run (2 charts × 99 steps)", f"/runs/{charted[0]}"),
        ("compare 10 runs", f"/runs/compare?{compare}"),
        ("model groups", "/models"),
        ("group's versions", f"/models/{GROUP}"),
        ("version", f"/models/{GROUP}/versions/1"),
        ("compare 5 versions", f"/models/{GROUP}/compare?" + "&".join(f"version={n}" for n in range(1, 6))),
        ("audit log", "/audit"),
    ]


def print_table(results: list[PageResult], title: str) -> None:
    table = Table(title=title, title_justify="left")
    for name in ("page", "status", "server median ms", "server p95 ms", "client median ms", "KiB", "< 200 ms"):
        table.add_column(name, justify="left" if name == "page" else "right")
    for r in results:
        s = r.summary()
        met = r.status == 200 and s["server_median_ms"] < TARGET_MS
        table.add_row(r.page, str(r.status), f"{s['server_median_ms']:.1f}", f"{s['server_p95_ms']:.1f}",
                      f"{s['client_median_ms']:.1f}", f"{r.size / 1024:.0f}", "yes" if met else "[bold red]NO[/]")
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def report_pages(results: list[PageResult], title: str, json_path: Path | None) -> int:
    """Print the table, write the figures to ``json_path`` if given; the exit code: 0 when every page answered 200."""
    print_table(results, title)
    if json_path is not None:
        json_path.write_text(json.dumps([r.summary() for r in results], indent=1))
    return 0 if all(r.status == 200 for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 runs and 100 versions")
    parser.add_argument("--runs", type=int, help="seed this many runs instead (at least 20)")
    parser.add_argument("--versions", type=int, help="seed this many model versions instead (at least 5)")
    parser.add_argument("--repeat", type=int, default=20, help="timed fetches per page (default 20)")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder and print where it is")
    args = parser.parse_args(argv)
    total_runs, total_versions = (10_000, 100) if args.quick else (100_000, 1_000)
    total_runs, total_versions = args.runs or total_runs, args.versions or total_versions
    if total_runs < 20 or total_versions < 5:
        parser.error("the pages need at least 20 runs (10 are compared) and 5 versions (5 are compared)")
    rng = random.Random(7)
    with Session("ui", keep=args.keep) as session:
        home = session.folder("store")
        backend = Backend(load_settings(env={}, cwd=home, home=str(home)))
        try:
            began = time.perf_counter()
            experiment, charted, halfway = seed_runs(backend, total_runs, rng)
            print(f"seeded {total_runs:,} runs in {time.perf_counter() - began:.1f} s", flush=True)
            began = time.perf_counter()
            seed_versions(backend, total_versions, rng, session.folder("model"))
            print(f"seeded {total_versions:,} model versions in {time.perf_counter() - began:.1f} s", flush=True)
            deep = metric_page_after(backend, experiment, total_runs // 2)
            timing = ServerTiming(create_app(backend, auth=False))
            with serve(timing) as url, httpx.Client(base_url=url, timeout=60) as client:
                results = [measure(client, timing, page, path, args.repeat)
                           for page, path in pages(experiment, charted, total_runs, halfway, deep)]
        finally:
            backend.close()
        if args.keep:
            print(f"kept {session.root}")
    title = f"Web UI, server time per page: {total_runs:,} runs, {total_versions:,} versions, {args.repeat} fetches"
    return report_pages(results, title, args.json)


if __name__ == "__main__":
    sys.exit(main())
