"""Tracking benchmark: Slipway against MLflow 3, in process and over HTTP, on SQLite.

Run by hand (it takes a few minutes; ``--quick`` shrinks every size 10× for a smoke run)::

    .venv/bin/python bench/tracking.py [--quick] [--only a,b,d] [--no-mlflow] [--json out.json]

Workloads (see bench/README.md for what each one measures and why):

    (a) single ``log_metric`` calls in one run                     calls/s   target ≥ 20× MLflow (embedded)
    (b) metric points through batch logging, 1,000 per call         points/s  target ≥ 500,000 (embedded);
                                                                              remote within 3× of embedded
    (c) runs with 10 params each: create, log params, end           runs/s    target ≥ 1,000 (embedded)
    (d) metric-filtered search over 10,000 runs, first page of 100  ms        target < 50 ms median
    (e) the MLflow client logging single metrics to `slipway server` calls/s  target ≥ 3× `mlflow server`
        (its MLflow-compatible API) and to `mlflow server`

Engines: Slipway embedded (SQLite in a temp folder, WAL + synchronous=NORMAL, its default
``db_synchronous``); for (a)-(c) a second embedded row where MLflow's SQLite runs at that same
durability (WAL + NORMAL) instead of its defaults (rollback journal + FULL), so both ratios
print; Slipway remote (a ``slipway server``
subprocess on 127.0.0.1 with its own SQLite), and, when ``import mlflow`` works, MLflow's
``MlflowClient`` on a ``sqlite:///`` store in this process and against an ``mlflow server``
subprocess. Everything runs on loopback, in temp folders removed on exit.

Exit code: 0 when every figure was measured or is n/a for a stated reason, 1 when a workload failed.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import sys
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402 - the harness sits beside this script
    LOOPBACK,
    MLFLOW_QUIET_ENV,
    Measurement,
    NotAvailable,
    Row,
    ServerProcess,
    Session,
    Target,
    attempt,
    chdir,
    clean_env,
    copy_sqlite,
    free_port,
    http_get,
    render,
    time_calls,
    time_rate,
    time_repeated,
    write_json,
)

WORKLOADS = ("a", "b", "c", "d", "e")
EMBEDDED = "embedded (SQLite)"
# The same embedded workloads again, with MLflow's SQLite at Slipway's durability (WAL journal,
# synchronous=NORMAL) instead of its defaults (rollback journal, synchronous=FULL: an fsync per commit),
# so the table shows both ratios: against MLflow as shipped, and at equal durability.
EQUAL = "embedded, MLflow at WAL+NORMAL"
EQUAL_WORKLOADS = ("a", "b", "c")  # the write workloads; (d) reads and needs no second seeded store
REMOTE = "remote (server, SQLite)"
VIA_MLFLOW_CLIENT = "MLflow client → server"
COMPAT_PROBE = "/api/2.0/mlflow/experiments/get-by-name?experiment_name=slipway-bench-probe"
COMPAT_MISSING = "needs the MLflow-compatible API, issue 11"
SEARCH_FILTER = "metrics.mse < 5"
SEARCH_ORDER = "metrics.mse ASC"
# One uvicorn worker for `mlflow server` (its default is 4): the benchmark is one sequential client,
# so more workers add start-up time and memory on a 2-core machine, not speed. Access logs are off
# on both servers, so neither pays for writing a log line per request.
MLFLOW_SERVER_WORKERS = 1
REMOTE_BATCH_GAP = 3.0  # issue 22: batches through `slipway server` within 3× of embedded


@dataclass(frozen=True)
class Sizes:
    single_calls: int = 2_000
    batch_points: int = 100_000
    batch_size: int = 1_000  # MLflow's log_batch accepts at most 1,000 metrics per call
    runs: int = 1_000
    params_per_run: int = 10
    search_runs: int = 10_000
    search_page: int = 100
    search_repetitions: int = 20
    mlflow_client_calls: int = 2_000
    warmup_calls: int = 50
    warmup_runs: int = 20

    def quick(self) -> Sizes:
        return replace(
            self, single_calls=self.single_calls // 10, batch_points=self.batch_points // 10,
            runs=self.runs // 10, search_runs=self.search_runs // 10,
            mlflow_client_calls=self.mlflow_client_calls // 10, warmup_calls=10, warmup_runs=5,
            search_repetitions=10,
        )


# --------------------------------------------------------------------------- data shared by both sides


@dataclass(frozen=True)
class SeedRun:
    name: str
    params: dict[str, str]
    metrics: dict[str, float]


def seed_runs(n: int) -> list[SeedRun]:
    """The runs that (d) searches: 5 params and 3 metrics each, mse uniform in [0, 100)."""
    rng = random.Random(42)
    out = []
    for i in range(n):
        mse = rng.uniform(0, 100)
        out.append(SeedRun(
            name=f"seed-{i:05d}",
            params={"model": rng.choice(["ridge", "lasso", "rf", "gbm"]),
                    "alpha": f"{rng.uniform(0, 1):.4f}", "depth": str(rng.randint(2, 12)),
                    "lr": f"{10 ** rng.uniform(-4, -1):.6f}", "seed": str(i)},
            metrics={"mse": mse, "rmse": math.sqrt(mse), "r2": rng.uniform(-1, 1)},
        ))
    return out


def batch_points(total: int, batch_size: int) -> list[list[tuple[str, float, int]]]:
    """(key, value, step) points in batches: 10 metric keys per step, like a training loop."""
    points = [(f"m{i % 10}", i * 0.001, i // 10) for i in range(total)]
    return [points[i:i + batch_size] for i in range(0, total, batch_size)]


def run_params(i: int, count: int) -> dict[str, str]:
    return {f"param_{k}": f"value-{i}-{k}" for k in range(count)}


# --------------------------------------------------------------------------- engines


class Engine(Protocol):
    """What the workloads need from a tracking system; one adapter per system and mode."""

    name: str

    def create_experiment(self, name: str) -> str: ...
    def create_run(self, experiment_id: str, name: str | None = None) -> str: ...
    def log_metric(self, run_id: str, key: str, value: float, step: int) -> None: ...
    def prepare_batch(self, points: Sequence[tuple[str, float, int]], timestamp: int) -> Any: ...
    def log_batch(self, run_id: str, batch: Any) -> None: ...
    def prepare_params(self, params: dict[str, str]) -> Any: ...
    def run_with_params(self, experiment_id: str, name: str, params: Any) -> None: ...
    def metric_count(self, run_id: str, key: str) -> int: ...
    def search(self, experiment_id: str, page: int) -> list[float]: ...
    def close(self) -> None: ...


class SlipwayEngine:
    def __init__(self, name: str, client: Any) -> None:
        self.name = name
        self.client = client
        self.t = client.tracking

    def create_experiment(self, name: str) -> str:
        return str(self.t.create_experiment(name).id)

    def create_run(self, experiment_id: str, name: str | None = None) -> str:
        return str(self.t.create_run(experiment_id, name=name).id)

    def log_metric(self, run_id: str, key: str, value: float, step: int) -> None:
        self.t.log_metric(run_id, key, value, step)

    def prepare_batch(self, points: Sequence[tuple[str, float, int]], timestamp: int) -> Any:
        return [{"key": k, "value": v, "step": s, "timestamp": timestamp} for k, v, s in points]

    def log_batch(self, run_id: str, batch: Any) -> None:
        self.t.log_batch(run_id, metrics=batch)

    def prepare_params(self, params: dict[str, str]) -> Any:
        return params

    def run_with_params(self, experiment_id: str, name: str, params: Any) -> None:
        run_id = self.t.create_run(experiment_id, name=name).id
        self.t.log_batch(run_id, params=params)
        self.t.end_run(run_id)

    def metric_count(self, run_id: str, key: str) -> int:
        return len(self.t.get_metric_history(run_id, key))

    def search(self, experiment_id: str, page: int) -> list[float]:
        result = self.t.search_runs([experiment_id], filter=SEARCH_FILTER, order_by=[SEARCH_ORDER],
                                    max_results=page)
        return [r.metrics["mse"].value for r in result.runs]

    def seed(self, experiment_id: str, runs: Sequence[SeedRun]) -> None:
        # The public batch path: one create and one log_batch (params and metrics) per run.
        for r in runs:
            run_id = self.t.create_run(experiment_id, name=r.name).id
            points = [{"key": k, "value": v, "step": 0} for k, v in r.metrics.items()]
            self.t.log_batch(run_id, metrics=points, params=r.params)

    def close(self) -> None:
        self.client.close()


class MlflowEngine:
    def __init__(self, name: str, client: Any, artifact_root: Path) -> None:
        from mlflow.entities import Metric, Param

        self.name = name
        self.client = client
        self.artifact_root = artifact_root
        self._Metric, self._Param = Metric, Param

    def create_experiment(self, name: str) -> str:
        location = (self.artifact_root / name).as_uri()
        return str(self.client.create_experiment(name, artifact_location=location))

    def create_run(self, experiment_id: str, name: str | None = None) -> str:
        return str(self.client.create_run(experiment_id, run_name=name).info.run_id)

    def log_metric(self, run_id: str, key: str, value: float, step: int) -> None:
        self.client.log_metric(run_id, key, value, step=step)

    def prepare_batch(self, points: Sequence[tuple[str, float, int]], timestamp: int) -> Any:
        return [self._Metric(k, v, timestamp, s) for k, v, s in points]

    def log_batch(self, run_id: str, batch: Any) -> None:
        self.client.log_batch(run_id, metrics=batch)

    def prepare_params(self, params: dict[str, str]) -> Any:
        return [self._Param(k, v) for k, v in params.items()]

    def run_with_params(self, experiment_id: str, name: str, params: Any) -> None:
        run_id = self.client.create_run(experiment_id, run_name=name).info.run_id
        self.client.log_batch(run_id, params=params)
        self.client.set_terminated(run_id)

    def metric_count(self, run_id: str, key: str) -> int:
        return len(self.client.get_metric_history(run_id, key))

    def search(self, experiment_id: str, page: int) -> list[float]:
        found = self.client.search_runs([experiment_id], filter_string=SEARCH_FILTER, order_by=[SEARCH_ORDER],
                                        max_results=page)
        return [r.data.metrics["mse"] for r in found]

    def close(self) -> None:
        pass


def mlflow_bulk_seed(db_uri: str, experiment_id: str, artifact_root: Path, runs: Sequence[SeedRun]) -> None:
    """Write the (d) runs straight into MLflow's tables in one transaction (setup, not timed).

    MLflow's client creates about 50 runs/s on SQLite, so 10,000 runs through it would take minutes;
    its own ORM tables take them in seconds and hold exactly what ``create_run`` + ``log_batch`` would.
    """
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag
    from sqlalchemy import create_engine

    now = int(time.time() * 1000)
    run_rows, tag_rows, param_rows, metric_rows = [], [], [], []
    for i, r in enumerate(runs):
        run_id = uuid.uuid4().hex
        run_rows.append({
            "run_uuid": run_id, "name": r.name, "source_type": "LOCAL", "source_name": "",
            "entry_point_name": "", "user_id": "bench", "status": "FINISHED", "start_time": now + i,
            "end_time": now + i + 1, "source_version": "", "lifecycle_stage": "active",
            "artifact_uri": f"{artifact_root.as_uri()}/{run_id}/artifacts",
            "experiment_id": int(experiment_id),
        })
        tag_rows.append({"run_uuid": run_id, "key": "mlflow.runName", "value": r.name})
        param_rows += [{"run_uuid": run_id, "key": k, "value": v} for k, v in r.params.items()]
        metric_rows += [
            {"run_uuid": run_id, "key": k, "value": v, "timestamp": now, "step": 0, "is_nan": False}
            for k, v in r.metrics.items()
        ]
    engine = create_engine(db_uri)
    try:
        with engine.begin() as conn:
            conn.execute(SqlRun.__table__.insert(), run_rows)
            conn.execute(SqlTag.__table__.insert(), tag_rows)
            conn.execute(SqlParam.__table__.insert(), param_rows)
            conn.execute(SqlMetric.__table__.insert(), metric_rows)
            conn.execute(SqlLatestMetric.__table__.insert(), metric_rows)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- workloads


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def workload_a(engine: Engine, sizes: Sizes) -> Measurement:
    exp = engine.create_experiment(f"bench-single-{uuid.uuid4().hex[:8]}")
    warm = engine.create_run(exp, "warm-up")
    run = engine.create_run(exp, "single")
    n = sizes.single_calls
    m = time_calls(
        [partial(engine.log_metric, run, "loss", 1.0 / (i + 1), i) for i in range(n)],
        warmup=[partial(engine.log_metric, warm, "loss", 0.5, i) for i in range(sizes.warmup_calls)],
    )
    got = engine.metric_count(run, "loss")
    if got != n:
        raise RuntimeError(f"logged {n} points, read back {got}")
    return m


def workload_b(engine: Engine, sizes: Sizes) -> Measurement:
    exp = engine.create_experiment(f"bench-batch-{uuid.uuid4().hex[:8]}")
    warm = engine.create_run(exp, "warm-up")
    run = engine.create_run(exp, "batch")
    ts = int(time.time() * 1000)
    batches = [engine.prepare_batch(b, ts) for b in batch_points(sizes.batch_points, sizes.batch_size)]
    warm_batches = [engine.prepare_batch(b, ts) for b in batch_points(2 * sizes.batch_size, sizes.batch_size)]

    def body() -> None:
        for batch in batches:
            engine.log_batch(run, batch)

    def warmup() -> None:
        for batch in warm_batches:
            engine.log_batch(warm, batch)

    m = time_rate(sizes.batch_points, body, warmup=warmup)
    got = engine.metric_count(run, "m0")
    if got != sizes.batch_points // 10:
        raise RuntimeError(f"logged {sizes.batch_points // 10} points of m0, read back {got}")
    m.extra["batches"] = len(batches)
    return m


def workload_c(engine: Engine, sizes: Sizes) -> Measurement:
    exp = engine.create_experiment(f"bench-runs-{uuid.uuid4().hex[:8]}")
    timed = [engine.prepare_params(run_params(i, sizes.params_per_run)) for i in range(sizes.runs)]
    warm = [engine.prepare_params(run_params(-i - 1, sizes.params_per_run)) for i in range(sizes.warmup_runs)]

    def body() -> None:
        for i, p in enumerate(timed):
            engine.run_with_params(exp, f"run-{i}", p)

    def warmup() -> None:
        for i, p in enumerate(warm):
            engine.run_with_params(exp, f"warm-{i}", p)

    return time_rate(sizes.runs, body, warmup=warmup)


def workload_d(engine: Engine, sizes: Sizes, experiment_id: str, expected: list[float]) -> Measurement:
    def body() -> None:
        got = engine.search(experiment_id, sizes.search_page)
        if len(got) != len(expected) or any(abs(a - b) > 1e-9 for a, b in zip(got, expected, strict=True)):
            raise RuntimeError(f"search returned {len(got)} runs, expected {len(expected)} in mse order")

    m = time_repeated(body, repetitions=sizes.search_repetitions, warmup=3)
    m.extra["matches_on_page"] = len(expected)
    return m


def expected_page(runs: Sequence[SeedRun], page: int) -> list[float]:
    return sorted(r.metrics["mse"] for r in runs if r.metrics["mse"] < 5)[:page]


def workload_e(tracking_uri: str, sizes: Sizes) -> Measurement:
    """The MLflow client logging metrics one by one to a server (MLflow's own or Slipway's)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    exp = client.create_experiment(f"bench-mlflow-client-{uuid.uuid4().hex[:8]}")
    warm = client.create_run(exp, run_name="warm-up").info.run_id
    run = client.create_run(exp, run_name="mlflow-client").info.run_id
    n = sizes.mlflow_client_calls
    m = time_calls(
        [partial(client.log_metric, run, "loss", 1.0 / (i + 1), step=i) for i in range(n)],
        warmup=[partial(client.log_metric, warm, "loss", 0.5, step=i) for i in range(sizes.warmup_calls)],
    )
    got = len(client.get_metric_history(run, "loss"))
    if got != n:
        raise RuntimeError(f"logged {n} points, read back {got}")
    client.set_terminated(run)
    return m


def slipway_compat_api_available(url: str) -> None:
    """Raise NotAvailable unless `slipway server` speaks MLflow's REST API (issue 11).

    A route that does not exist answers FastAPI's bare 404; the real endpoint answers an absent
    experiment with MLflow's error body (``error_code`` RESOURCE_DOES_NOT_EXIST), also a 404.
    """
    status, body = http_get(url + COMPAT_PROBE, timeout=10)
    if status == 404 and b"error_code" not in body:
        raise NotAvailable(COMPAT_MISSING)


# --------------------------------------------------------------------------- setup


Results = dict[tuple[str, str, str], Measurement]  # (workload, engine, system) -> figure


@dataclass
class Side:
    """One system (Slipway or MLflow): its engines per mode, its search data, its server."""

    system: str
    engines: dict[str, Engine] = field(default_factory=dict)
    broken: dict[str, Measurement] = field(default_factory=dict)  # mode -> why it cannot run
    search: tuple[str, list[float]] | None = None
    server: ServerProcess | None = None
    server_error: Measurement | None = None

    def close(self) -> None:
        for engine in {id(e): e for e in self.engines.values()}.values():  # one engine may serve two modes
            with contextlib.suppress(Exception):
                engine.close()


def server_failed(side: Side, exc: BaseException, what: str) -> None:
    side.server_error = Measurement(error=f"{what} did not start: {' '.join(str(exc).split())[:200]}")
    side.broken[REMOTE] = side.server_error


def prepare_slipway(session: Session, sizes: Sizes, selected: Sequence[str], modes: Sequence[str],
                    seed: list[SeedRun]) -> Side:
    """Embedded store (seeded for (d)), and a `slipway server` launched on a copy of it."""
    import slipway

    side = Side("slipway")
    home = session.folder("slipway-embedded")
    want_server = REMOTE in modes or "e" in selected
    remote_home = session.folder("slipway-remote") if want_server else None
    if EMBEDDED in modes or ("d" in selected and remote_home is not None):
        settings = slipway.load_settings(env={}, cwd=home, home=str(home))
        engine = SlipwayEngine(EMBEDDED, slipway.Client(settings))
        side.engines[EMBEDDED] = engine
        if EQUAL in modes:  # Slipway's own durability is the same in both embedded rows
            side.engines[EQUAL] = engine
        if "d" in selected:
            t0 = time.perf_counter()
            exp = engine.create_experiment("bench-search")
            engine.seed(exp, seed)
            log(f"slipway: seeded {len(seed):,} runs for (d) in {time.perf_counter() - t0:.1f}s")
            side.search = (exp, expected_page(seed, sizes.search_page))
            if remote_home is not None:  # the server starts on a copy of the seeded store
                copy_sqlite(Path(settings.db_url.removeprefix("sqlite:///")), remote_home / "slipway.db")
    if remote_home is not None:
        port = free_port()
        # --no-auth (loopback only): the benchmark times logging, not token checks, on both sides alike.
        argv = [sys.executable, "-c", "from slipway.cli import main; main()", "server", "--no-auth", "--host",
                LOOPBACK, "--port", str(port), "--log-level", "warning"]
        try:
            side.server = session.launch_server("slipway server", argv, port=port, cwd=remote_home,
                                                env=clean_env(SLIPWAY_HOME=str(remote_home)))
        except Exception as exc:  # noqa: BLE001 - reported in the remote rows
            server_failed(side, exc, "slipway server")
    return side


def connect_slipway(session: Session, side: Side, modes: Sequence[str]) -> None:
    import slipway

    if side.server is None:
        return
    try:
        side.server.wait_ready("/openapi.json")
    except Exception as exc:  # noqa: BLE001
        session.stop_server(side.server)
        side.server = None
        server_failed(side, exc, "slipway server")
        return
    log(f"slipway server: {side.server.url}")
    if REMOTE in modes:
        settings = slipway.load_settings(env={}, cwd=session.root, server_url=side.server.url)
        side.engines[REMOTE] = SlipwayEngine(REMOTE, slipway.Client(settings))


def prepare_mlflow(session: Session, sizes: Sizes, selected: Sequence[str], modes: Sequence[str],
                   seed: list[SeedRun]) -> Side:
    """MLflow's SQLite store in this process (seeded for (d)), and an `mlflow server` on a copy of it."""
    import mlflow
    from mlflow import MlflowClient

    side = Side("mlflow")
    home = session.folder("mlflow-embedded")
    want_server = REMOTE in modes or "e" in selected
    remote_home = session.folder("mlflow-remote") if want_server else None
    db_uri = f"sqlite:///{home / 'mlflow.db'}"
    if EQUAL in modes:
        equal_home = session.folder("mlflow-equal-durability")
        equal_client = MlflowClient(tracking_uri=f"sqlite:///{equal_home / 'mlflow.db'}")
        at_slipway_durability(equal_client)
        side.engines[EQUAL] = MlflowEngine(EQUAL, equal_client, equal_home / "artifacts")
    if EMBEDDED in modes or ("d" in selected and remote_home is not None):
        mlflow.set_tracking_uri(db_uri)
        engine = MlflowEngine(EMBEDDED, MlflowClient(), home / "artifacts")
        side.engines[EMBEDDED] = engine
        if "d" in selected:
            t0 = time.perf_counter()
            exp = engine.create_experiment("bench-search")
            mlflow_bulk_seed(db_uri, exp, home / "artifacts", seed)
            log(f"mlflow: seeded {len(seed):,} runs for (d) in {time.perf_counter() - t0:.1f}s")
            side.search = (exp, expected_page(seed, sizes.search_page))
            if remote_home is not None:
                copy_sqlite(home / "mlflow.db", remote_home / "mlflow.db")
    if remote_home is not None:
        port = free_port()
        argv = [sys.executable, "-m", "mlflow", "server",
                "--backend-store-uri", f"sqlite:///{remote_home / 'mlflow.db'}",
                "--artifacts-destination", str(remote_home / "artifacts"),
                "--host", LOOPBACK, "--port", str(port),
                "--workers", str(MLFLOW_SERVER_WORKERS), "--uvicorn-opts", "--no-access-log"]
        try:
            side.server = session.launch_server("mlflow server", argv, port=port, cwd=remote_home,
                                                env=clean_env(**MLFLOW_QUIET_ENV))
        except Exception as exc:  # noqa: BLE001
            server_failed(side, exc, "mlflow server")
    return side


def at_slipway_durability(client: Any) -> None:
    """Point every connection of this MLflow client's SQLite store at WAL + synchronous=NORMAL."""
    from sqlalchemy import event, text

    engine = client._tracking_client.store.engine

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    engine.dispose()  # connections opened before the listener go; new ones get the pragmas
    with engine.connect() as conn:
        mode = conn.execute(text("PRAGMA journal_mode")).scalar()
        sync = conn.execute(text("PRAGMA synchronous")).scalar()
    if str(mode).lower() != "wal" or sync != 1:
        raise RuntimeError(f"MLflow's store did not take WAL + NORMAL: journal_mode={mode}, synchronous={sync}")


def connect_mlflow(session: Session, side: Side, modes: Sequence[str]) -> None:
    from mlflow import MlflowClient

    if side.server is None:
        return
    try:
        side.server.wait_ready("/health", timeout=180)
    except Exception as exc:  # noqa: BLE001
        session.stop_server(side.server)
        side.server = None
        server_failed(side, exc, "mlflow server")
        return
    log(f"mlflow server: {side.server.url}")
    if REMOTE in modes:
        side.engines[REMOTE] = MlflowEngine(REMOTE, MlflowClient(tracking_uri=side.server.url),
                                            session.root / "mlflow-remote" / "artifacts")


# --------------------------------------------------------------------------- the run


def measure_all(sides: Sequence[Side], sizes: Sizes, selected: Sequence[str],
                modes: Sequence[str]) -> Results:
    """Each workload on each mode, Slipway then MLflow back to back, so load changes hit both alike."""
    results: Results = {}
    for key in selected:
        if key == "e":
            continue
        for mode in modes:
            if mode == EQUAL and key not in EQUAL_WORKLOADS:
                continue
            for side in sides:
                m = attempt(partial(run_one, key, side, mode, sizes))
                results[(key, mode, side.system)] = m
                log(f"  ({key}) {side.system:8} {mode:24} {m.cell(UNITS[key])}")
    if "e" in selected:
        for side in sides:
            m = attempt(partial(workload_e_for, side, sizes))
            results[("e", VIA_MLFLOW_CLIENT, side.system)] = m
            log(f"  (e) {side.system:8} {VIA_MLFLOW_CLIENT:24} {m.cell(UNITS['e'])}")
    return results


def run_one(key: str, side: Side, mode: str, sizes: Sizes) -> Measurement:
    if mode in side.broken:
        return side.broken[mode]
    engine = side.engines[mode]
    if key == "a":
        return workload_a(engine, sizes)
    if key == "b":
        return workload_b(engine, sizes)
    if key == "c":
        return workload_c(engine, sizes)
    if side.search is None:
        raise RuntimeError("no search data was seeded")
    return workload_d(engine, sizes, *side.search)


def workload_e_for(side: Side, sizes: Sizes) -> Measurement:
    if side.server_error is not None:
        return side.server_error
    assert side.server is not None
    if side.system == "slipway":
        slipway_compat_api_available(side.server.url)
        if not mlflow_importable():
            raise NotAvailable("mlflow is not installed")
    return workload_e(side.server.url, sizes)


# --------------------------------------------------------------------------- table


UNITS = {"a": "calls/s", "b": "points/s", "c": "runs/s", "d": "ms", "e": "calls/s"}


def workload_label(key: str, sizes: Sizes) -> str:
    return {
        "a": f"(a) log_metric ×{sizes.single_calls:,}",
        "b": f"(b) log_batch, {sizes.batch_points:,} points",
        "c": f"(c) {sizes.runs:,} runs × {sizes.params_per_run} params",
        "d": f"(d) search {sizes.search_runs:,} runs, top {sizes.search_page}",
        "e": f"(e) MLflow client log_metric ×{sizes.mlflow_client_calls:,}",
    }[key]


def target_for(key: str, engine: str) -> Target | None:
    if key == "a" and engine == EQUAL:  # issue 22: the 20× must hold at equal durability
        return Target("ratio", 20)
    if key == "b" and engine == EMBEDDED:  # issue 22: batch logging ≥ 500,000 points/s embedded
        return Target("min", 500_000)
    if key == "c" and engine == EMBEDDED:  # issue 22: 1,000 runs × 10 params at ≥ 1,000 runs/s embedded
        return Target("min", 1_000)
    if key == "d":
        return Target("max", 50)
    if key == "e":
        return Target("ratio", 3)
    return None


def batch_remote_gap(results: Results) -> float | None:
    """How many times slower Slipway's batches are through a server than embedded (issue 22: ≤ 3×)."""
    embedded = results.get(("b", EMBEDDED, "slipway"))
    remote = results.get(("b", REMOTE, "slipway"))
    if embedded is None or remote is None or not embedded.value or not remote.value:
        return None
    return embedded.value / remote.value


def build_rows(results: Results, sizes: Sizes, selected: Sequence[str], engines: Sequence[str],
               mlflow_missing: str | None) -> list[Row]:
    rows = []
    for key in selected:
        for engine in ([VIA_MLFLOW_CLIENT] if key == "e" else engines):
            if engine == EQUAL and key not in EQUAL_WORKLOADS:
                continue
            slip = results.get((key, engine, "slipway"), Measurement(na="not run"))
            if mlflow_missing is not None:
                base = Measurement(na=mlflow_missing)
                if key == "e" and slip.error is None:
                    slip = Measurement(na=slip.na if slip.na == COMPAT_MISSING else mlflow_missing)
            else:
                base = results.get((key, engine, "mlflow"), Measurement(na="not run"))
            rows.append(Row(workload=workload_label(key, sizes), engine=engine, unit=UNITS[key],
                            higher_is_better=key != "d", slipway=slip, mlflow=base,
                            target=target_for(key, engine)))
    return rows


# --------------------------------------------------------------------------- main


def mlflow_importable() -> bool:
    try:
        import mlflow  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means "no baseline"
        return False
    return True


def quiet_mlflow() -> None:
    """Keep MLflow off the network and its warnings and INFO lines out of the report."""
    for key, value in MLFLOW_QUIET_ENV.items():
        os.environ.setdefault(key, value)
    warnings.filterwarnings("ignore")
    import logging

    for name in ("mlflow", "alembic", "alembic.runtime.migration", "sqlalchemy", "urllib3", "git"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def _no_slipway_env() -> Iterator[None]:
    """Nothing from the caller's SLIPWAY_* settings may point the benchmark at a real store or server."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("SLIPWAY_")}
    try:
        yield
    finally:
        os.environ.update(saved)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="every size 10× smaller, for a smoke run")
    p.add_argument("--only", default=",".join(WORKLOADS), help="workloads to run, e.g. a,b,d (default: all)")
    p.add_argument("--engines", default="embedded,remote", help="embedded, remote or both (default: both)")
    p.add_argument("--no-mlflow", action="store_true", help="measure Slipway only")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON to FILE")
    p.add_argument("--plain", action="store_true", help="plain-text table instead of Rich")
    p.add_argument("--keep", action="store_true", help="keep the temp folders (stores and server logs)")
    args = p.parse_args(argv)
    args.selected = [w.strip().lower() for w in args.only.split(",") if w.strip()]
    unknown = sorted(set(args.selected) - set(WORKLOADS))
    if unknown or not args.selected:
        p.error(f"--only takes letters among {', '.join(WORKLOADS)}; got {args.only!r}")
    engines = {e.strip().lower() for e in args.engines.split(",") if e.strip()}
    if not engines or engines - {"embedded", "remote"}:
        p.error(f"--engines takes embedded and/or remote; got {args.engines!r}")
    args.engine_names = [name for key, name in (("embedded", EMBEDDED), ("remote", REMOTE)) if key in engines]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = Sizes().quick() if args.quick else Sizes()
    selected = [w for w in WORKLOADS if w in args.selected]
    if "e" in selected and REMOTE not in args.engine_names:
        log("(e) needs both servers: it runs although --engines leaves out remote")

    quiet_mlflow()
    mlflow_missing: str | None = None
    if args.no_mlflow:
        mlflow_missing = "skipped: --no-mlflow"
    elif not mlflow_importable():
        mlflow_missing = "mlflow not installed: pip install 'slipway-mlops[bench]'"

    seed = seed_runs(sizes.search_runs) if "d" in selected else []
    modes = list(args.engine_names)
    if mlflow_missing is None and EMBEDDED in modes and set(selected) & set(EQUAL_WORKLOADS):
        modes.insert(modes.index(EMBEDDED) + 1, EQUAL)
    started = time.perf_counter()
    load_before = _load()
    sides: list[Side] = []
    with _no_slipway_env(), Session("tracking", keep=args.keep) as session, chdir(session.root):
        try:
            sides.append(prepare_slipway(session, sizes, selected, modes, seed))
            if mlflow_missing is None:
                sides.append(prepare_mlflow(session, sizes, selected, modes, seed))
            # Both servers start in parallel; then wait for each.
            connect_slipway(session, sides[0], modes)
            if mlflow_missing is None:
                connect_mlflow(session, sides[1], modes)
            results = measure_all(sides, sizes, selected, modes)
        finally:
            for side in sides:
                side.close()
    rows = build_rows(results, sizes, selected, modes, mlflow_missing)

    title = (f"Slipway vs MLflow tracking{' (--quick: sizes ÷10)' if args.quick else ''} — "
             f"{time.perf_counter() - started:.0f}s, load average {load_before} → {_load()} "
             f"on {os.cpu_count()} CPUs")
    render(rows, title, plain=args.plain)
    remote_gap = batch_remote_gap(results)
    if remote_gap is not None:
        print(f"(b) Slipway's remote path takes {remote_gap:.2f}× the embedded time per point "
              f"(target ≤ {REMOTE_BATCH_GAP:g}×)")
    if args.json:
        versions = {"slipway": _version("slipway"), "mlflow": None if mlflow_missing else _version("mlflow")}
        write_json(args.json, rows, {"quick": args.quick, "sizes": sizes.__dict__, "versions": versions,
                                     "batch_remote_over_embedded": remote_gap,
                                     "workloads": selected, "engines": modes,
                                     "load_average_before": load_before, "load_average_after": _load(),
                                     "mlflow_server_workers": MLFLOW_SERVER_WORKERS})
        log(f"wrote {args.json}")
    failed = [r for r in rows if r.slipway.error or r.mlflow.error]
    return 1 if failed else 0


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted: servers stopped, temp folders removed")
        sys.exit(130)
