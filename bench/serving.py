"""Serving benchmark: the same scikit-learn model behind ``slipway serve`` and ``mlflow models serve``.

Run by hand::

    .venv/bin/python bench/serving.py             # 2,000 single-row requests at concurrency 1, 8,000 at 8
    .venv/bin/python bench/serving.py --quick     # 10x fewer: a smoke run
    .venv/bin/python bench/serving.py --no-mlflow # Slipway only
    .venv/bin/python bench/serving.py --no-ray    # without the Ray Serve table
    .venv/bin/python bench/serving.py --only-ray  # the Ray Serve table only

A ridge regression on the bundled abalone data (the seven numeric columns) is registered and
approved in a temp Slipway home and served by ``slipway serve`` (one process); the same fitted
estimator is saved with ``mlflow.sklearn`` and served by ``mlflow models serve --env-manager
local`` (one worker), each on a free loopback port. Both are asked the same single-row
``dataframe_split`` body over keep-alive HTTP connections (``http.client`` one at a time, httpx from 8
threads):

* p50 and p99 latency of one request at a time, next to the model's bare in-process ``predict``
  of the same row as the float NumPy array the server hands the model (target: Slipway's p50 at
  most 0.5 ms above it); the DataFrame predict is printed too, for reference only;
* requests per second from 8 client threads at once (target: at least 3x MLflow's), and the same
  with Slipway's micro-batching on (``--max-batch-size 8 --max-wait-ms 1``), labelled as such:
  MLflow has no batching, so that row compares batched against unbatched.

Then, when ``ray[serve]`` is installed, a model whose predict computes for about 5 ms (a random
forest) behind ``slipway serve`` (local) and ``slipway serve --engine ray`` on a 2-CPU local Ray
cluster the benchmark starts (replicas reserve no CPU, so the cluster's two cores are shared as
the local server's would be):

* p50 and p99 at concurrency 1, local and on Ray Serve with 1 replica (target: at most 2 ms more);
* requests per second at concurrency 8: local, Ray Serve with 1 and with 2 replicas (target: 2
  replicas at least 1.6x one);
* the autoscaler (min 1, max 2 replicas, 1 request in flight per replica, no upscale delay, 2 s
  downscale delay): seconds from a step of 8 concurrent clients to the second replica running, and
  from the end of the load to its removal.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402 - the harness sits beside this script
    MLFLOW_QUIET_ENV,
    Measurement,
    NotAvailable,
    Row,
    Session,
    Target,
    attempt,
    clean_env,
    free_port,
    percentile,
    render,
    write_json,
)

ENDPOINT = "abalone"
THREADS = 8


def train() -> tuple[object, object, dict[str, object]]:
    """A ridge regression on abalone's numeric columns, a few rows as an input example, and one row
    as a ``dataframe_split`` body."""
    import pandas as pd
    from sklearn.linear_model import Ridge

    data = pd.read_csv(Path(__file__).resolve().parents[1] / "src" / "slipway" / "_data" / "abalone.csv")
    X = data.drop(columns=["sex", "rings"])
    model = Ridge(alpha=1.0).fit(X, data["rings"])
    row = X.iloc[:1]
    body = {"dataframe_split": {"columns": list(row.columns), "data": row.to_numpy().tolist()}}
    return model, X.iloc[:5], body


def bare_predict(model: object, body: dict[str, object], repetitions: int, *, as_array: bool = True) -> Measurement:
    """The in-process predict of the same one row: what serving adds to is this.

    ``as_array``: the row as a float NumPy array in signature order, which is what the server hands a
    scikit-learn model (``LoadedModel.predict`` converts a numeric DataFrame to one, see
    src/slipway/models/_package.py); otherwise a one-row DataFrame, several times slower to predict.
    """
    import warnings

    import numpy as np
    import pandas as pd

    split = body["dataframe_split"]
    frame = pd.DataFrame(split["data"], columns=split["columns"])  # type: ignore[index]
    data = np.asarray(split["data"], dtype=np.float64) if as_array else frame  # type: ignore[index]
    with warnings.catch_warnings():  # as the flavor does: no feature-name warning for an array
        warnings.filterwarnings("ignore", "X does not have valid feature names", UserWarning)
        for _ in range(50):
            model.predict(data)  # type: ignore[attr-defined]
        ms = []
        for _ in range(repetitions):
            t0 = time.perf_counter()
            model.predict(data)  # type: ignore[attr-defined]
            ms.append((time.perf_counter() - t0) * 1000)
    return Measurement(value=statistics.median(ms), p95=percentile(ms, 99), extra={"unit_p95_is": "p99"})


def latency(url: str, body: dict[str, object], requests: int) -> Measurement:
    """p50 (value) and p99 (the p95 slot, labelled) of single-row requests sent one at a time, in ms.

    Sent with the standard library's keep-alive ``http.client``, not httpx: httpx spends 0.5-0.8 ms
    of its own per request here (measured against a bare ASGI app answering in 0.11 ms), more than
    the serving overhead this row measures. Both servers get the same client.
    """
    parts = urlsplit(url)
    payload = json.dumps(body).encode()
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)

    def post() -> None:
        conn.request("POST", parts.path, payload, {"Content-Type": "application/json"})
        answer = conn.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"HTTP {answer.status} from {url}")

    try:
        for _ in range(50):
            post()
        ms = []
        for _ in range(requests):
            t0 = time.perf_counter()
            post()
            ms.append((time.perf_counter() - t0) * 1000)
    finally:
        conn.close()
    return Measurement(value=statistics.median(ms), p95=percentile(ms, 99), extra={"requests": requests})


def throughput(url: str, body: dict[str, object], requests: int) -> Measurement:
    """Requests per second from ``THREADS`` threads, each on its own keep-alive connection."""
    failures: list[str] = []
    per_thread = requests // THREADS
    start_line = threading.Barrier(THREADS + 1)

    def client() -> None:
        with httpx.Client(timeout=30) as http:
            http.post(url, json=body)
            start_line.wait()
            for _ in range(per_thread):
                resp = http.post(url, json=body)
                if resp.status_code != 200:
                    failures.append(str(resp.status_code))

    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for t in threads:
        t.start()
    start_line.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
    return Measurement(value=per_thread * THREADS / elapsed, extra={"requests": per_thread * THREADS})


def slipway_home(
    session: Session, model: object, example: object, endpoint: str = ENDPOINT, trusted: list[str] | None = None
) -> Path:
    """A fresh home with the model registered, approved and behind the endpoint (``trusted``: the
    types its file holds that skops trusts only when told, and the version is marked trusted)."""
    from slipway import Client, load_settings

    home = session.folder(f"slipway-{endpoint}")
    with Client(load_settings(env={}, cwd=home, home=str(home))) as client:
        version = client.registry.register_model(endpoint, model, input_example=example, trusted=trusted or False)
        if trusted:
            client.registry.trust_version(endpoint, version.version)
        client.registry.approve(endpoint, version.version)
        client.serving.create_endpoint(endpoint, [{"model": f"{endpoint}/{version.version}"}])
    return home


def start_slipway(session: Session, home: Path, *options: str, endpoint: str = ENDPOINT) -> str:
    """``slipway serve`` on the endpoint of ``home``, with extra command-line ``options``, ready."""
    port = free_port()
    exe = str(Path(sys.executable).parent / "slipway")
    argv = [exe, "serve", endpoint, "--port", str(port), "--log-level", "warning", *options]
    env = clean_env(SLIPWAY_HOME=str(home))
    server = session.start_server(
        f"slipway serve {' '.join(options)}", argv, port=port, cwd=home, env=env, probe_path="/ready", timeout=300
    )
    deadline = time.monotonic() + 300  # Ray Serve's proxy answers (404) before the endpoint's ingress runs
    while not _ready(f"{server.url}/ready"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{server.name} did not become ready: {server.log_tail()}")
        time.sleep(0.2)
    return f"{server.url}/invocations"


def _ready(url: str) -> bool:
    """Whether ``url`` answers 200; a probe that times out (a loaded machine, replicas starting) is a no."""
    try:
        return httpx.get(url, timeout=10).status_code == 200
    except httpx.TransportError:
        return False


# --------------------------------------------------------------------------- Ray Serve

SLOW = "forest"


def train_slow(target_ms: float = 5.0) -> tuple[object, object, dict[str, object]]:
    """A random forest whose one-row predict computes for about ``target_ms`` on this machine now:
    fitted with many trees, then cut to as many as that time allows (its trees run one after another)."""
    import pandas as pd
    from sklearn.ensemble import RandomForestRegressor

    data = pd.read_csv(Path(__file__).resolve().parents[1] / "src" / "slipway" / "_data" / "abalone.csv")
    X = data.drop(columns=["sex", "rings"])
    model = RandomForestRegressor(n_estimators=400, max_depth=8, n_jobs=1, random_state=0).fit(X, data["rings"])
    row = X.iloc[:1]
    body = {"dataframe_split": {"columns": list(row.columns), "data": row.to_numpy().tolist()}}
    trees = model.estimators_
    full = bare_predict(model, body, 30).value or 1.0
    model.estimators_ = trees[:1]
    one = bare_predict(model, body, 30).value or 0.0
    per_tree = max((full - one) / (len(trees) - 1), 1e-6)  # a call's own cost, then each tree's
    keep = max(1, min(len(trees), round(1 + (target_ms - one) / per_tree)))
    model.estimators_ = trees[:keep]
    model.n_estimators = keep
    return model, X.iloc[:5], body


def _replicas(home: Path) -> int:
    """Running replicas of the forest's variant, as ``slipway endpoints show`` shows them (the engine reports
    them; an endpoint of one variant computes it in its ingress replicas)."""
    from slipway import Client, load_settings

    with Client(load_settings(env={}, cwd=home, home=str(home))) as client:
        return sum(client.serving.get_endpoint(SLOW).replicas.values())


def _until(condition: Callable[[], bool], timeout: float = 300.0) -> float:
    """Seconds until ``condition`` holds (polled every 0.1 s)."""
    t0 = time.perf_counter()
    while not condition():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"not within {timeout:g} s")
        time.sleep(0.1)
    return time.perf_counter() - t0


def _set_variant(home: Path, **settings: object) -> None:
    from slipway import Client, load_settings

    with Client(load_settings(env={}, cwd=home, home=str(home))) as client:
        model = client.serving.get_endpoint(SLOW).variants[0].model
        client.serving.update_endpoint(SLOW, [{"model": model, **settings}])


def _load_step(url: str, body: dict[str, object], stop: threading.Event) -> None:
    def client() -> None:
        with httpx.Client(timeout=60) as http:
            while not stop.is_set():
                http.post(url, json=body)

    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for t in threads:
        t.start()
    stop.wait()
    for t in threads:
        t.join()


def ray_rows(session: Session, single: int, concurrent: int) -> list[Row]:
    """The forest behind local serving and Ray Serve (1 and 2 replicas, then autoscaled)."""
    try:
        import ray
        import ray.serve  # noqa: F401 - the serve extra, not only Ray
    except ImportError:
        missing = Measurement(na="ray[serve] is not installed: pip install 'slipway-mlops[ray]'")
        return [Row("Ray Serve", "—", "", False, missing, missing)]
    model, example, body = train_slow()
    bare = bare_predict(model, body, min(single, 500))
    home = slipway_home(session, model, example, SLOW, trusted=["sklearn.tree._tree.Tree"])
    # The same watch as the Ray Serve ingress below (each polls the endpoint every 0.5 s): like with like.
    local_url = start_slipway(session, home, "--poll-seconds", "0.5", endpoint=SLOW)
    local_latency = attempt(lambda: latency(local_url, body, single))
    local_rate = attempt(lambda: throughput(local_url, body, concurrent // 4))
    session.stop_server(session._servers[-1])  # its CPU goes to the cluster
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        address = ray.get_runtime_context().gcs_address
        ray_url = start_slipway(session, home, "--engine", "ray", "--address", address, "--replica-cpus", "0",
                                "--poll-seconds", "0.5", endpoint=SLOW)
        one_latency = attempt(lambda: latency(ray_url, body, single))
        one_rate = attempt(lambda: throughput(ray_url, body, concurrent // 4))
        _set_variant(home, workers=2)
        scaled = attempt(lambda: Measurement(value=_until(lambda: _replicas(home) == 2)))
        two_rate = attempt(lambda: throughput(ray_url, body, concurrent // 4)) if scaled.ok else scaled

        def autoscaling() -> tuple[Measurement, Measurement]:
            _set_variant(home, autoscaling={"min_replicas": 1, "max_replicas": 2, "target_ongoing": 1,
                                            "upscale_delay_seconds": 0, "downscale_delay_seconds": 2})
            _until(lambda: _replicas(home) == 1)
            stop = threading.Event()
            load = threading.Thread(target=_load_step, args=(ray_url, body, stop))
            load.start()
            try:
                up = _until(lambda: _replicas(home) == 2)
            finally:
                stop.set()
                load.join()
            down = _until(lambda: _replicas(home) == 1)
            return Measurement(value=up), Measurement(value=down)

        try:
            up, down = autoscaling()
        except Exception as exc:  # noqa: BLE001 - the table shows it
            up = down = Measurement(error=f"{type(exc).__name__}: {exc}"[:160])
    finally:
        while session._servers:
            session.stop_server(session._servers[-1])
        ray.shutdown()
    return [
        Row("bare predict of the forest, one row (median, p99)", "in process", "ms", False, bare,
            Measurement(na="same model")),
        Row("latency, one row, concurrency 1 (p50, p99)", "Ray Serve 1 replica vs local 1 process", "ms", False,
            one_latency, local_latency, Target("max", (local_latency.value or 0) + 2.0)),
        Row(f"throughput, one row, concurrency {THREADS}", "Ray Serve 1 replica vs local 1 process", "req/s", True,
            one_rate, local_rate),
        Row(f"throughput, one row, concurrency {THREADS}", "Ray Serve 2 replicas vs 1 replica", "req/s", True,
            two_rate, one_rate, Target("ratio", 1.6, than="1 replica")),
        Row("autoscaler: load step to the 2nd replica running", "Ray Serve, min 1 max 2, 1 ongoing", "s", False,
            up, Measurement(na="—")),
        Row("autoscaler: load gone to the 2nd replica removed", "Ray Serve, 2 s downscale delay", "s", False,
            down, Measurement(na="—")),
    ]


def start_mlflow(session: Session, model: object, example: object) -> str:
    """Save the same estimator with mlflow.sklearn and start ``mlflow models serve`` on it."""
    try:
        import mlflow.sklearn
    except ImportError:
        raise NotAvailable("mlflow is not installed: pip install 'slipway-mlops[bench]'") from None
    folder = session.folder("mlflow")
    mlflow.sklearn.save_model(model, str(folder / "model"), input_example=example)
    port = free_port()
    exe = str(Path(sys.executable).parent / "mlflow")
    argv = [exe, "models", "serve", "-m", str(folder / "model"), "-h", "127.0.0.1", "-p", str(port)]
    argv += ["--env-manager", "local", "-w", "1"]
    # It starts uvicorn by name through bash: the virtual environment's bin must be on the PATH.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = clean_env(**MLFLOW_QUIET_ENV, PATH=path)
    server = session.start_server("mlflow models serve", argv, port=port, cwd=folder, env=env, probe_path="/ping")
    return f"{server.url}/invocations"


def slipway_rows(session: Session, single: int, concurrent: int, *, no_mlflow: bool) -> list[Row]:
    """The ridge regression behind ``slipway serve`` (unbatched and batched) and ``mlflow models serve``
    (their servers left running for the caller to stop)."""
    model, example, body = train()
    bare = bare_predict(model, body, single)  # NumPy, as the server passes it
    bare_frame = bare_predict(model, body, single, as_array=False)
    home = slipway_home(session, model, example)
    slipway_url = start_slipway(session, home)
    # MLflow's cells: its figures, or why there are none (not asked, not installed, did not start).
    mlflow_url: str | None = None
    mlflow_missing = Measurement(na="skipped: --no-mlflow")
    if not no_mlflow:
        started = attempt(lambda: Measurement(extra={"url": start_mlflow(session, model, example)}))
        mlflow_url, mlflow_missing = started.extra.get("url"), started

    def both(measure: Callable[[str, dict[str, object]], Measurement]) -> tuple[Measurement, Measurement]:
        theirs = attempt(lambda: measure(mlflow_url, body)) if mlflow_url else mlflow_missing
        return attempt(lambda: measure(slipway_url, body)), theirs

    plain_rate, mlflow_rate = both(lambda u, b: throughput(u, b, concurrent))
    batched_url = start_slipway(session, home, "--max-batch-size", str(THREADS), "--max-wait-ms", "1")
    return [
        Row("bare predict, one row, NumPy array as the server passes it (median, p99)", "in process", "ms",
            False, bare, Measurement(na="same model")),
        Row("bare predict, one row, DataFrame (not what the server passes; for reference)", "in process",
            "ms", False, bare_frame, Measurement(na="same model")),
        Row(
            "latency, one row, concurrency 1 (p50, p99)",
            "HTTP, 1 process",
            "ms",
            False,
            *both(lambda u, b: latency(u, b, single)),
            Target("max", round((bare.value or 0) + 0.5, 2)),  # issue 22: at most 0.5 ms above the NumPy predict
        ),
        Row(
            f"throughput, one row, concurrency {THREADS}",
            "HTTP, 1 process",
            "req/s",
            True,
            plain_rate,
            mlflow_rate,
            Target("ratio", 3.0),
        ),
        Row(
            f"throughput, one row, concurrency {THREADS}: Slipway WITH micro-batching (≤{THREADS}, 1 ms) "
            "vs MLflow unbatched (it has none)",
            "HTTP, 1 process",
            "req/s",
            True,
            attempt(lambda: throughput(batched_url, body, concurrent)),
            mlflow_rate,  # MLflow's server has no batching: its figure is the same
            Target("ratio", 3.0),
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x fewer requests: a smoke run")
    parser.add_argument("--no-mlflow", action="store_true", help="Slipway only")
    parser.add_argument("--no-ray", action="store_true", help="without the Ray Serve table")
    parser.add_argument("--only-ray", action="store_true", help="the Ray Serve table only (no ridge, no MLflow)")
    parser.add_argument("--plain", action="store_true", help="plain-text table instead of Rich")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder and print where it is")
    args = parser.parse_args()
    single, concurrent = (200, 800) if args.quick else (2_000, 8_000)

    load_before = os.getloadavg()[0]
    with Session("serving", keep=args.keep) as session:
        rows = [] if args.only_ray else slipway_rows(session, single, concurrent, no_mlflow=args.no_mlflow)
        load = os.getloadavg()[0]
        for server in list(session._servers):  # the next table's CPU
            session.stop_server(server)
        ray_load = os.getloadavg()[0]
        ray_table = [] if args.no_ray else ray_rows(session, single, concurrent)
        ray_load_after = os.getloadavg()[0]
    if rows:
        render(rows, f"Slipway vs MLflow serving (the p95 column shows p99 for latencies) — load average "
                     f"{load_before:.2f} → {load:.2f} on {os.cpu_count()} CPUs; under load, rerun quiet",
               plain=args.plain)
    if ray_table:
        render(ray_table, f"A 5 ms model on Ray Serve vs local serving (the p95 column shows p99 for latencies) — "
                          f"load average {ray_load:.2f} → {ray_load_after:.2f}",
               plain=args.plain, columns=("Ray Serve", "compared with"))
    if args.json:
        write_json(args.json, rows + ray_table,
                   {"quick": args.quick, "single_requests": single, "concurrent_requests": concurrent})
    return 1 if any(r.slipway.error or r.mlflow.error for r in rows + ray_table) else 0


if __name__ == "__main__":
    sys.exit(main())
