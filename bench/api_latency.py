"""The API's latency while a heavy monitor check runs: in the API's process (before) or a worker's (after).

Run by hand::

    .venv/bin/python bench/api_latency.py            # 1,000,000 captured rows x 10 numeric columns
    .venv/bin/python bench/api_latency.py --quick    # 100,000 rows: a smoke run

One store (SQLite, in a temp folder) holds an endpoint, its baseline, a data-quality monitor and
``--rows`` captured rows (written as the endpoint's capture files). The same store is served twice
by ``slipway server --no-auth``: with ``--background-workers 0`` (the check runs in the API's
process, as before issue 19) and with ``--background-workers 1`` (a worker runs it). Each time, one
thread sends ``GET /api/v1/monitoring/monitors/{name}`` back to back, first alone (idle), then
while another thread asks ``POST /api/v1/monitoring/monitors/{name}/executions`` over all the
captured traffic; the table gives the GET's p50 and p99 in both phases and the check's duration.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _harness import LOOPBACK, Session, clean_env, free_port, percentile  # noqa: E402

COLUMNS = [f"c{i}" for i in range(10)]
ROWS_PER_LINE = 5_000
LINES_PER_FILE = 10
MONITOR = "bench-dq"
IDLE_S = 3.0


def prepare(home: Path, rows: int) -> None:
    """The endpoint, baseline, monitor and ``rows`` captured rows, written embedded."""
    from sklearn.linear_model import LinearRegression

    from slipway import Client
    from slipway._kinds import ObjectKind
    from slipway.models import save_model
    from slipway.store.artifacts import Owner

    rng = np.random.default_rng(0)
    train = pd.DataFrame({c: rng.normal(i, 1.0, 20_000) for i, c in enumerate(COLUMNS)})
    with Client(home=str(home)) as client:
        backend = client.backend
        package = home.parent / "model"
        save_model(LinearRegression().fit(train[COLUMNS], train.c0), package, input_example=train[COLUMNS].head())
        version = backend.registry.register_model("bench", package)
        backend.registry.approve("bench", version.version)
        endpoint = backend.serving.create_endpoint("bench", [{"model": f"bench/{version.version}"}])
        client.monitoring.create_baseline("bench-train", train)
        client.monitoring.create_monitor(MONITOR, baseline="bench-train", endpoint="bench")
        owner = Owner(ObjectKind.ENDPOINT, endpoint.id)
        now = dt.datetime.now(dt.UTC)
        written, files = 0, 0
        while written < rows:
            lines = []
            first = now
            for _ in range(LINES_PER_FILE):
                count = min(ROWS_PER_LINE, rows - written)
                if count <= 0:
                    break
                data = rng.normal(0.2, 1.0, (count, len(COLUMNS))) + np.arange(len(COLUMNS))
                lines.append(json.dumps({
                    "inference_id": f"{files}-{len(lines)}", "time": now.isoformat(), "endpoint": "bench",
                    "variant": "v1", "shadow": False,
                    "request": {"columns": COLUMNS, "data": np.round(data, 4).tolist()},
                    "response": np.round(data[:, 0], 4).tolist(),
                }))
                written += count
            ms = int(first.timestamp() * 1000)
            path = f"capture/{now:%Y/%m/%d/%H}/{ms}-1-{files}-{len(lines)}-{ms}.jsonl"
            backend.artifacts.put_bytes(owner, path, ("\n".join(lines) + "\n").encode())
            files += 1


def _get(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as resp:  # noqa: S310 - loopback only
        resp.read()
    return (time.perf_counter() - started) * 1000


def _check(url: str, start: str) -> dict[str, Any]:
    """One monitor run over the traffic captured since ``start``."""
    body = json.dumps({"start": start}).encode()
    request = urllib.request.Request(f"{url}/api/v1/monitoring/monitors/{MONITOR}/executions", data=body,
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=1800) as resp:  # noqa: S310 - loopback only
        answer: dict[str, Any] = json.loads(resp.read())
    return answer


def measure(url: str) -> dict[str, Any]:
    """GET latencies idle, then during one check over every captured row; the check's duration."""
    get_url = f"{url}/api/v1/monitoring/monitors/{MONITOR}"
    for _ in range(20):
        _get(get_url)  # warm-up
    _check(url, "2100-01-01T00:00:00+00:00")  # over no file: loads what a check needs, wherever it runs
    idle: list[float] = []
    deadline = time.monotonic() + IDLE_S
    while time.monotonic() < deadline:
        idle.append(_get(get_url))
    busy: list[float] = []
    outcome: dict[str, Any] = {}

    def check() -> None:
        started = time.perf_counter()
        outcome.update(_check(url, "2000-01-01T00:00:00+00:00"))
        outcome["seconds"] = time.perf_counter() - started

    thread = threading.Thread(target=check)
    thread.start()
    time.sleep(0.2)
    while thread.is_alive():
        busy.append(_get(get_url))
    thread.join()
    return {
        "idle_p50": percentile(idle, 50), "idle_p99": percentile(idle, 99), "idle_n": len(idle),
        "busy_p50": percentile(busy, 50) if busy else float("nan"),
        "busy_p99": percentile(busy, 99) if busy else float("nan"), "busy_n": len(busy),
        "check_s": outcome.get("seconds"), "items": outcome.get("item_count"), "status": outcome.get("status"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 rows")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = 100_000 if args.quick else args.rows
    results: dict[str, Any] = {"rows": rows}
    with Session("api-latency", keep=args.keep) as session:
        home = session.folder("store") / "home"
        started = time.perf_counter()
        prepare(home, rows)
        print(f"prepared {rows:,} captured rows in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        slipway = str(Path(sys.executable).parent / "slipway")
        for label, workers in (("before: check in the API process", 0), ("after: check in a worker", 1)):
            port = free_port()
            folder = session.folder(f"server-{workers}")
            env = clean_env(SLIPWAY_HOME=str(home))
            server = session.start_server(
                label, [slipway, "server", "--no-auth", "--port", str(port), "--background-workers", str(workers),
                        "--log-level", "warning"],
                port=port, cwd=folder, env=env, probe_path="/health",
            )
            results[label] = measure(f"http://{LOOPBACK}:{port}")
            session.stop_server(server)
    print(f"\nGET /api/v1/monitoring/monitors/{{name}} while a monitor check reads {rows:,} captured rows\n")
    print(f"{'':36} {'idle p50':>9} {'idle p99':>9} {'busy p50':>9} {'busy p99':>9} {'GETs':>6} {'check':>8}")
    for label in results:
        if label == "rows":
            continue
        r = results[label]
        print(f"{label:36} {r['idle_p50']:8.1f}ms {r['idle_p99']:8.1f}ms {r['busy_p50']:8.1f}ms "
              f"{r['busy_p99']:8.1f}ms {r['busy_n']:6d} {r['check_s']:7.1f}s  ({r['items']:,} rows, {r['status']})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
