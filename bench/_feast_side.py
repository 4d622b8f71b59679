"""Feast's side of bench/features.py; runs in a separate environment that has Feast (pandas < 3).

Usage: python _feast_side.py WORK_DIR IDS CALLS [WARMUP_ROWS REPEATS]. WORK_DIR holds stats.parquet, trips.parquet and
entities.parquet as bench/features.py wrote them. Prints one JSON line of timings (seconds):
the same join (local provider, file offline store) and online reads (SQLite online store).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("FEAST_USAGE", "False")  # no usage reports leave the machine

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType  # noqa: E402
from feast.types import Float64  # noqa: E402


def main(work: Path, ids: int, calls: int, warmup_rows: int = 100, repeats: int = 3) -> dict[str, float | str]:
    repo = work / "repo"
    repo.mkdir()
    (repo / "feature_store.yaml").write_text(
        "project: bench\n"
        f"registry: {work / 'registry.db'}\n"
        "provider: local\n"
        f"online_store:\n  type: sqlite\n  path: {work / 'online.db'}\n"
        "offline_store:\n  type: file\n"
        "entity_key_serialization_version: 3\n"
    )
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    views, refs = [], []
    for name in ("stats", "trips"):
        columns = [c for c in pd.read_parquet(work / f"{name}.parquet").columns if c not in ("driver_id", "ts")]
        source = FileSource(path=str(work / f"{name}.parquet"), timestamp_field="ts")
        views.append(FeatureView(name=name, entities=[driver], ttl=dt.timedelta(days=3650), source=source,
                                 schema=[Field(name=c, dtype=Float64) for c in columns]))
        refs += [f"{name}:{c}" for c in columns]
    store = FeatureStore(repo_path=str(repo))
    store.apply([driver, *views])
    entities = pd.read_parquet(work / "entities.parquet").rename(columns={"event_time": "event_timestamp"})

    results: dict[str, float | str] = {"version": __import__("feast").__version__}
    # The same warm-up and repeats as Slipway's side: one join of the first rows, then the best of N.
    store.get_historical_features(entity_df=entities.head(warmup_rows), features=refs).to_df()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        frame = store.get_historical_features(entity_df=entities, features=refs).to_df()
        times.append(time.perf_counter() - start)
    results["join"] = min(times)
    results["join rows"] = len(frame)
    results["join rows with every feature"] = int(frame[[r.split(":", 1)[1] for r in refs]].notna().all(axis=1).sum())

    store.materialize(dt.datetime(2023, 12, 1, tzinfo=dt.UTC), dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
    rng = np.random.default_rng(1)
    for count in (1, 100):
        rows = [{"driver_id": int(i)} for i in rng.integers(0, ids, count)]
        store.get_online_features(features=refs, entity_rows=rows).to_dict()  # warm up
        latencies = []
        for _ in range(calls):
            start = time.perf_counter()
            store.get_online_features(features=refs, entity_rows=rows).to_dict()
            latencies.append(time.perf_counter() - start)
        results[f"online {count} sqlite"] = statistics.median(latencies)
    return results


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), *(int(a) for a in sys.argv[2:]))))
