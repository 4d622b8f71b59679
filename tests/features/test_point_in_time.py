"""Point-in-time training sets match a brute-force join exactly, on random data full of traps:
duplicate timestamps, rows arriving late (ingested after rows with later event times), entity
times before any data, unknown ids, exact ties between entity and event times, and two groups."""

from __future__ import annotations

import datetime as dt
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from slipway.errors import InvalidInput
from slipway.features import FeatureService

BASE = pd.Timestamp("2024-03-01", tz="UTC")


def brute_force(entities: pd.DataFrame, ingested: list[pd.DataFrame], key: str, features: list[str],
                max_age: dt.timedelta | None = None) -> pd.DataFrame:
    """The answer by definition: pair each entity row with every row ever ingested for its id,
    keep those not after its time, and take the latest (the last ingested among equal times)."""
    history = pd.concat(ingested, ignore_index=True)  # in ingestion order: later rows win ties
    history["_order"] = range(len(history))
    pairs = entities[[key, "event_time"]].reset_index(names="_entity").merge(history, on=key)
    pairs = pairs[pairs["ts"] <= pairs["event_time"]]
    best = pairs.sort_values(["_entity", "ts", "_order"]).groupby("_entity").tail(1).set_index("_entity")
    if max_age is not None:
        best = best[best["event_time"] - best["ts"] <= max_age]
    out = entities.copy()
    for feature in features:
        out[feature] = best[feature].reindex(range(len(entities))).astype(object).to_numpy()
    return out


def normalized(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    """Rows as tuples with every kind of missing value as None, for exact comparison."""
    return [tuple(None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else v
                  for v in row) for row in frame.astype(object).itertuples(index=False)]


def random_history(rng: np.random.Generator, rows: int, ids: int, batches: int) -> list[pd.DataFrame]:
    """Feature rows on an hourly grid (so timestamps repeat), ingested in shuffled batches."""
    frame = pd.DataFrame({
        "key": rng.integers(0, ids, rows),
        "ts": BASE + pd.to_timedelta(rng.integers(0, 72, rows), unit="h"),
        "x": rng.normal(size=rows).round(3),
        "label": rng.choice(["a", "b", "c"], rows),
    })
    order = rng.permutation(rows)  # late arrivals: batch order is not time order
    return [frame.iloc[part].reset_index(drop=True) for part in np.array_split(order, batches)]


def random_entities(rng: np.random.Generator, rows: int, ids: int) -> pd.DataFrame:
    return pd.DataFrame({
        "key": rng.integers(0, ids + 3, rows),  # some ids were never ingested
        "event_time": BASE + pd.to_timedelta(rng.integers(-5, 80, rows), unit="h"),  # some before any data
        "weight": rng.random(rows),
    })


@pytest.mark.parametrize("seed", range(6))
def test_one_group_matches_brute_force(local_features: FeatureService, seed: int) -> None:
    rng = np.random.default_rng(seed)
    local_features.create_group("g", {"key": "int64", "ts": "timestamp", "x": "float64", "label": "string"},
                                record_id="key", event_time="ts")
    history = random_history(rng, 400, 25, 4)
    for batch in history:
        local_features.ingest("g", batch)
    entities = random_entities(rng, 300, 25)
    got = local_features.training_set(entities, "g")
    want = brute_force(entities, history, "key", ["x", "label"])
    assert list(got.columns) == list(want.columns)
    assert normalized(got) == normalized(want)

    max_age = dt.timedelta(hours=int(rng.integers(1, 12)))
    aged = local_features.training_set(entities, "g", max_age=max_age)
    assert normalized(aged) == normalized(brute_force(entities, history, "key", ["x", "label"], max_age))


@pytest.mark.parametrize("seed", range(3))
def test_two_groups_and_string_ids(local_features: FeatureService, seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    for name, column in (("left", "x"), ("right", "y")):
        local_features.create_group(name, {"key": "string", "ts": "timestamp", column: "float64"},
                                    record_id="key", event_time="ts")
    histories = {}
    for name, column in (("left", "x"), ("right", "y")):
        batches = [b.drop(columns="label").rename(columns={"x": column}).assign(key="id" + b["key"].astype(str))
                   for b in random_history(rng, 300, 15, 3)]
        for batch in batches:
            local_features.ingest(name, batch)
        histories[name] = batches
    entities = random_entities(rng, 250, 15).assign(key=lambda f: "id" + f["key"].astype(str))
    got = local_features.training_set(entities, ["left", "right"])
    want = brute_force(entities, histories["left"], "key", ["x"])
    want["y"] = brute_force(entities, histories["right"], "key", ["y"])["y"]
    assert normalized(got) == normalized(want)


def test_abalone_split_into_two_groups_matches_brute_force(local_features: FeatureService) -> None:
    with resources.files("slipway").joinpath("_data/abalone.csv").open() as fh:
        abalone = pd.read_csv(fh).rename(columns=lambda c: c.replace(" ", "_"))
    abalone.insert(0, "abalone_id", range(len(abalone)))
    size = ["sex", "length", "diameter", "height"]
    weight = ["whole_weight", "shucked_weight", "viscera_weight", "shell_weight", "rings"]
    rng = np.random.default_rng(42)
    types = {c: ("string" if c == "sex" else "int64" if c == "rings" else "float64") for c in size + weight}
    histories: dict[str, list[pd.DataFrame]] = {}
    for name, columns in (("abalone_size", size), ("abalone_weight", weight)):
        local_features.create_group(name, {"abalone_id": "int64", "ts": "timestamp"} | {c: types[c] for c in columns},
                                    record_id="abalone_id", event_time="ts")
        # Each abalone measured three times at random hours: duplicates and late rows included.
        versions = []
        for revision in range(3):
            frame = abalone[["abalone_id", *columns]].copy()
            frame.insert(1, "ts", BASE + pd.to_timedelta(rng.integers(0, 48, len(frame)), unit="h"))
            numeric = [c for c in columns if c != "sex"]
            frame[numeric] = frame[numeric] + revision if revision else frame[numeric]
            versions.append(frame)
        batches = [versions[2].iloc[:2000], versions[0], versions[2].iloc[2000:], versions[1]]
        for batch in batches:
            local_features.ingest(name, batch)
        histories[name] = batches
    entities = pd.DataFrame({
        "abalone_id": rng.integers(0, len(abalone), 3000),
        "event_time": BASE + pd.to_timedelta(rng.integers(-2, 52, 3000), unit="h"),
    })
    got = local_features.training_set(entities, ["abalone_size", "abalone_weight"])
    want = brute_force(entities, histories["abalone_size"], "abalone_id", size)
    for column, values in brute_force(entities, histories["abalone_weight"], "abalone_id", weight)[weight].items():
        want[column] = values
    assert normalized(got) == normalized(want)

    registered = local_features.register_training_set("abalone-train", entities, ["abalone_size", "abalone_weight"])
    assert registered.created and registered.version.num_rows == 3000
    assert registered.version.columns[0].name == "abalone_id"


def test_time_range_retrieval(local_features: FeatureService) -> None:
    rng = np.random.default_rng(7)
    local_features.create_group("g", {"key": "int64", "ts": "timestamp", "x": "float64", "label": "string"},
                                record_id="key", event_time="ts")
    history = random_history(rng, 200, 10, 2)
    for batch in history:
        local_features.ingest("g", batch)
    start, end = BASE + pd.Timedelta(hours=10), BASE + pd.Timedelta(hours=30)
    got = local_features.historical_features("g", start.to_pydatetime(), end.to_pydatetime())
    rows = pd.concat(history)
    keys = (rows[(rows.ts >= start) & (rows.ts <= end)][["key", "ts"]].drop_duplicates()
            .sort_values(["ts", "key"]).rename(columns={"ts": "event_time"}).reset_index(drop=True))
    want = brute_force(keys, history, "key", ["x", "label"]).rename(columns={"event_time": "ts"})
    assert normalized(got) == normalized(want)


def test_entity_problems_are_named(local_features: FeatureService) -> None:
    local_features.create_group("g", {"key": "int64", "ts": "timestamp", "x": "float64"}, record_id="key",
                                event_time="ts")
    with pytest.raises(InvalidInput, match="no 'key' column"):
        local_features.training_set(pd.DataFrame({"event_time": [BASE]}), "g")
    with pytest.raises(InvalidInput, match="no 'event_time' column"):
        local_features.training_set(pd.DataFrame({"key": [1]}), "g")
    with pytest.raises(InvalidInput, match="clashes"):
        local_features.training_set(pd.DataFrame({"key": [1], "event_time": [BASE], "x": [0.0]}), "g")
    empty = local_features.training_set(pd.DataFrame({"key": [1], "event_time": [BASE]}), "g")
    assert empty["x"].isna().all()  # a group without rows answers with missing values
