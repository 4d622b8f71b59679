"""Serving benchmark: the same scikit-learn model behind ``slipway serve`` and ``mlflow models serve``.

Run by hand::

    .venv/bin/python bench/serving.py             # 2,000 single-row requests at concurrency 1, 8,000 at 8
    .venv/bin/python bench/serving.py --quick     # 10x fewer: a smoke run
    .venv/bin/python bench/serving.py --no-mlflow # Slipway only

A ridge regression on the bundled abalone data (the seven numeric columns) is registered and
approved in a temp Slipway home and served by ``slipway serve`` (one process); the same fitted
estimator is saved with ``mlflow.sklearn`` and served by ``mlflow models serve --env-manager
local`` (one worker), each on a free loopback port. Both are asked the same single-row
``dataframe_split`` body over keep-alive HTTP connections:

* p50 and p99 latency of one request at a time, next to the model's bare in-process ``predict``
  of the same row as the float NumPy array the server hands the model (target: Slipway's p50 at
  most 0.5 ms above it); the DataFrame predict is printed too, for reference only;
* requests per second from 8 client threads at once (target: at least 3x MLflow's), and the same
  with Slipway's micro-batching on (``--max-batch-size 8 --max-wait-ms 1``), labelled as such:
  MLflow has no batching, so that row compares batched against unbatched.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

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
    """p50 (value) and p99 (the p95 slot, labelled) of single-row requests sent one at a time, in ms."""
    with httpx.Client(timeout=30) as http:
        for _ in range(50):
            http.post(url, json=body).raise_for_status()
        ms = []
        for _ in range(requests):
            t0 = time.perf_counter()
            http.post(url, json=body).raise_for_status()
            ms.append((time.perf_counter() - t0) * 1000)
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


def slipway_home(session: Session, model: object, example: object) -> Path:
    """A fresh home with the model registered, approved and behind the endpoint."""
    from slipway import Client, load_settings

    home = session.folder("slipway")
    with Client(load_settings(env={}, cwd=home, home=str(home))) as client:
        version = client.registry.register_model(ENDPOINT, model, input_example=example)
        client.registry.approve(ENDPOINT, version.version)
        client.serving.create_endpoint(ENDPOINT, [{"model": f"{ENDPOINT}/{version.version}"}])
    return home


def start_slipway(session: Session, home: Path, *options: str) -> str:
    """``slipway serve`` on the endpoint of ``home``, with extra command-line ``options``."""
    port = free_port()
    exe = str(Path(sys.executable).parent / "slipway")
    argv = [exe, "serve", ENDPOINT, "--port", str(port), "--log-level", "warning", *options]
    env = clean_env(SLIPWAY_HOME=str(home))
    server = session.start_server(
        f"slipway serve {' '.join(options)}", argv, port=port, cwd=home, env=env, probe_path="/ready"
    )
    return f"{server.url}/invocations"


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x fewer requests: a smoke run")
    parser.add_argument("--no-mlflow", action="store_true", help="Slipway only")
    parser.add_argument("--plain", action="store_true", help="plain-text table instead of Rich")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder and print where it is")
    args = parser.parse_args()
    single, concurrent = (200, 800) if args.quick else (2_000, 8_000)

    load_before = os.getloadavg()[0]
    with Session("serving", keep=args.keep) as session:
        model, example, body = train()
        bare = bare_predict(model, body, single)  # NumPy, as the server passes it
        bare_frame = bare_predict(model, body, single, as_array=False)
        home = slipway_home(session, model, example)
        slipway_url = start_slipway(session, home)
        # MLflow's cells: its figures, or why there are none (not asked, not installed, did not start).
        mlflow_url: str | None = None
        mlflow_missing = Measurement(na="skipped: --no-mlflow")
        if not args.no_mlflow:
            started = attempt(lambda: Measurement(extra={"url": start_mlflow(session, model, example)}))
            mlflow_url, mlflow_missing = started.extra.get("url"), started

        def both(measure: Callable[[str, dict[str, object]], Measurement]) -> tuple[Measurement, Measurement]:
            theirs = attempt(lambda: measure(mlflow_url, body)) if mlflow_url else mlflow_missing
            return attempt(lambda: measure(slipway_url, body)), theirs

        plain_rate, mlflow_rate = both(lambda u, b: throughput(u, b, concurrent))
        batched_url = start_slipway(session, home, "--max-batch-size", str(THREADS), "--max-wait-ms", "1")
        rows = [
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
                Target("max", (bare.value or 0) + 0.5),  # issue 22: at most 0.5 ms above the NumPy predict
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
    load = os.getloadavg()[0]
    render(rows, f"Slipway vs MLflow serving (the p95 column shows p99 for latencies) — load average "
                 f"{load_before:.2f} → {load:.2f} on {os.cpu_count()} CPUs; under load, rerun quiet",
           plain=args.plain)
    if args.json:
        write_json(args.json, rows, {"quick": args.quick, "single_requests": single, "concurrent_requests": concurrent})
    return 1 if any(r.slipway.error or r.mlflow.error for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
