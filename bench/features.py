"""Feature store benchmark: point-in-time join and online reads, Slipway next to Feast.

Run by hand::

    .venv/bin/python bench/features.py            # 100,000 entity rows x 1,000,000 feature rows
    .venv/bin/python bench/features.py --quick    # every size / 10: a smoke run

Workloads:

- **join**: a point-in-time training set of 100,000 entity rows (id, time) against two feature
  groups of 500,000 rows each (50,000 ids, event times over 30 days, duplicates included).
  Both sides get the same warm-up (one join of the first 100 entity rows) and the same repeats
  (best of 3); the number of rows each join returns is printed and compared.
- **materialize**: copying the latest row of each of the 2 x 50,000 ids (100,000 rows) into the
  online store, timed per engine (Slipway only; every row is read back and counted).
- **online 1 / 100**: ``get_online_features`` for 1 and for 100 random ids of both groups, the
  median of 200 calls, on the SQLite online store and on Redis (127.0.0.1:6379).

Feast needs pandas < 3, which this project does not pin down to, so it runs in a virtual
environment of its own (``bench/_reference.py``: built on first use into the reference cache, at
the pins written there): the same data is written to Parquet and ``bench/_feast_side.py`` runs there
in a subprocess (local provider, file offline store, SQLite online store). If that environment cannot
be built its cells say n/a, with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _reference import ReferenceUnavailable, reference_python

from slipway.datasets import DatasetService
from slipway.features import FeatureService, OfflineStore, RedisOnlineStore, SqliteOnlineStore
from slipway.store import Database
from slipway.store.artifacts import ArtifactStore, LocalStorage

HERE = Path(__file__).resolve().parent
REDIS_URL = os.environ.get("SLIPWAY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
CALLS = 200
JOIN_WARMUP_ROWS = 100  # both sides: one join of the first 100 entity rows first (file cache, imports)
JOIN_REPEATS = 3  # both sides: the best of 3 full joins
TARGETS = {"join": 2.0, "online 100": 0.002}
BASE = pd.Timestamp("2024-01-01", tz="UTC")


def make_data(feature_rows: int, entity_rows: int, ids: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Two groups of feature rows and an entity frame, on an hourly grid so timestamps repeat."""
    rng = np.random.default_rng(seed)
    hours = 30 * 24

    def group(columns: list[str]) -> pd.DataFrame:
        frame = pd.DataFrame({"driver_id": rng.integers(0, ids, feature_rows),
                              "ts": BASE + pd.to_timedelta(rng.integers(0, hours, feature_rows), unit="h")})
        for column in columns:
            frame[column] = rng.normal(size=feature_rows)
        return frame

    entities = pd.DataFrame({"driver_id": rng.integers(0, ids, entity_rows),
                             "event_time": BASE + pd.to_timedelta(rng.integers(0, hours + 48, entity_rows), unit="h")})
    return {"stats": group(["conv_rate", "acc_rate"]), "trips": group(["avg_trip", "trips_today"]),
            "entities": entities}


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def median_latency(call: Callable[[], Any], calls: int = CALLS) -> float:
    call()  # warm up
    return statistics.median(timed(call) for _ in range(calls))


def slipway_side(data: dict[str, pd.DataFrame], work: Path, ids: int) -> dict[str, Any]:
    db = Database(f"sqlite:///{work / 'meta.db'}")
    db.ensure_schema()
    artifacts = ArtifactStore(db, LocalStorage(work / "artifacts"))
    offline = OfflineStore(artifacts, work / "cache")
    datasets = DatasetService(db, artifacts)
    engines: dict[str, Any] = {"sqlite": SqliteOnlineStore(work / "online.db")}
    try:
        engines["redis"] = RedisOnlineStore(REDIS_URL, prefix=f"slipway-bench:{uuid.uuid4().hex}:")
        engines["redis"].read("probe", ["x"])
    except Exception as exc:  # noqa: BLE001 - any failure to reach Redis makes its cells n/a
        engines["redis"] = f"n/a ({type(exc).__name__})"
    services = {name: FeatureService(db, offline, store, datasets) for name, store in engines.items()
                if not isinstance(store, str)}
    first = next(iter(services.values()))
    results: dict[str, Any] = {}
    for group in ("stats", "trips"):
        frame = data[group]
        schema = {"driver_id": "int64", "ts": "timestamp"} | {c: "float64" for c in frame.columns[2:]}
        first.create_group(group, schema, record_id="driver_id", event_time="ts")
        results[f"ingest {group}"] = timed(lambda f=frame, g=group: first.ingest(g, f, online=False))
    entities = data["entities"]
    first.training_set(entities.head(JOIN_WARMUP_ROWS), ["stats", "trips"])  # same warm-up as Feast's
    times, frames = [], []
    for _ in range(JOIN_REPEATS):
        start = time.perf_counter()
        frames.append(first.training_set(entities, ["stats", "trips"]))
        times.append(time.perf_counter() - start)
    results["join"] = min(times)
    results["join rows"] = len(frames[-1])
    results["join rows with every feature"] = int(frames[-1].notna().all(axis=1).sum())
    results["repeated entity rows"] = int(entities.duplicated().sum())
    rng = np.random.default_rng(1)
    for name, store in engines.items():
        if isinstance(store, str):
            results[f"online 1 {name}"] = results[f"online 100 {name}"] = store
            continue
        service = services[name]
        start = time.perf_counter()
        stored = sum(service.materialize(group).records for group in ("stats", "trips"))
        results[f"materialize {name}"] = time.perf_counter() - start
        every_id = [str(i) for i in range(ids)]
        results[f"materialize rows {name}"] = stored
        results[f"materialize read back {name}"] = sum(record is not None for group in ("stats", "trips")
                                                       for record in store.read(first.get_group(group).id, every_id))
        for count in (1, 100):
            keys = [int(i) for i in rng.integers(0, ids, count)]
            results[f"online {count} {name}"] = median_latency(
                lambda s=service, k=keys: s.get_online_features(["stats", "trips"], k))
        if name == "redis":
            store.delete_group(first.get_group("stats").id)
            store.delete_group(first.get_group("trips").id)
        service.close()
    db.dispose()
    return results


def feast_side(data: dict[str, pd.DataFrame], work: Path, ids: int) -> dict[str, Any]:
    try:
        python = reference_python("feast")
    except ReferenceUnavailable as exc:
        return {"error": str(exc)}
    for name, frame in data.items():
        frame.to_parquet(work / f"{name}.parquet", index=False)
    proc = subprocess.run([str(python), str(HERE / "_feast_side.py"), str(work), str(ids), str(CALLS),
                           str(JOIN_WARMUP_ROWS), str(JOIN_REPEATS)],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def cell(value: Any, unit: str) -> str:
    if not isinstance(value, float):
        return str(value)
    return f"{value:.2f} s" if unit == "s" else f"{value * 1000:.3f} ms"


def join_rows_line(ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    """Both joins must return the same rows; say so, or print the difference."""
    mine = int(ours.get("join rows", 0))
    text = f"join rows: Slipway {mine:,} ({ours.get('join rows with every feature', 0):,} with every feature)"
    other = theirs.get("join rows")
    if not isinstance(other, int):
        return text + "; Feast n/a"
    text += f", Feast {other:,} ({theirs.get('join rows with every feature', 0):,} with every feature)"
    if other == mine:
        return text + "; equal"
    # Slipway keeps every entity row (a left join, nulls where a group has no earlier value).
    return (text + f"; DIFFERENT by {mine - other:+,} rows (the entities hold {mine:,} rows, "
            f"{ours.get('repeated entity rows', 0):,} of them repeating an earlier one)")


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every size / 10")
    parser.add_argument("--no-feast", action="store_true", help="Slipway only")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    feature_rows, entity_rows, ids = 500_000 // scale, 100_000 // scale, 50_000 // scale
    data = make_data(feature_rows, entity_rows, ids)
    load_before = _load()
    work = Path(tempfile.mkdtemp(prefix="slipway-bench-features-"))
    try:
        (work / "slipway").mkdir()
        ours = slipway_side(data, work / "slipway", ids)
        (work / "feast").mkdir()
        theirs = {"error": "skipped: --no-feast"} if args.no_feast else feast_side(data, work / "feast", ids)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"Feature store: {entity_rows:,} entity rows x {2 * feature_rows:,} feature rows in 2 groups; "
          f"online medians of {CALLS} calls")
    print()
    print("| workload | Slipway | Feast | Slipway faster by | target |")
    print("| --- | --- | --- | --- | --- |")
    rows = [("join", "join", "s")] + [(f"online {n} ({engine})", f"online {n} {engine}", "ms")
                                       for engine in ("sqlite", "redis") for n in (1, 100)]
    for label, key, unit in rows:
        mine, other = ours.get(key), theirs.get(key.replace(" redis", " sqlite") if key.endswith("redis") else key)
        if "error" in theirs:
            other = f"n/a ({theirs['error']})"
        ratio = f"{other / mine:.1f}x" if isinstance(mine, float) and isinstance(other, float) else "n/a"
        target = TARGETS.get(key.rsplit(" ", 1)[0] if key.startswith("online") else key)
        goal = "" if target is None else ("< " + cell(target, unit)) + (", >= 5x Feast" if key != "online 1" else "")
        print(f"| {label} | {cell(mine, unit)} | {cell(other, unit)} | {ratio} | {goal} |")
    print()
    print(join_rows_line(ours, theirs))
    for engine in ("sqlite", "redis"):
        took = ours.get(f"materialize {engine}")
        if isinstance(took, float):
            stored, read = ours[f"materialize rows {engine}"], ours[f"materialize read back {engine}"]
            print(f"materialize ({engine}, Slipway): {stored:,} rows in {took:.2f} s "
                  f"(target <= 0.5 s for 100,000 rows); {read:,} read back"
                  + ("" if read == stored else f": {stored - read:,} MISSING"))
    print(f"load average {load_before} -> {_load()} on {os.cpu_count()} CPUs; figures taken under load "
          "need a rerun on a quiet machine")
    print(f"ingest (offline, not compared): {ours['ingest stats']:.2f} s + {ours['ingest trips']:.2f} s; "
          "Feast's online cells use its SQLite online store for both rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
