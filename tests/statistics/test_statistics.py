"""Dataset statistics: the numbers are right, merge gives the union's, and the JSON layout holds."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from slipway.statistics import DatasetStatistics, compute_statistics


def abalone() -> pd.DataFrame:
    with resources.files("slipway").joinpath("_data/abalone.csv").open() as fh:
        return pd.read_csv(fh)


def frame(seed: int, rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(10, 3, rows)
    x[rng.random(rows) < 0.1] = np.nan
    return pd.DataFrame({
        "x": x,
        "n": rng.integers(-5, 100, rows),
        "kind": pd.Series(rng.choice(["red", "green", "blue", None], rows), dtype=object),
    })


def test_numbers_match_pandas() -> None:
    df = abalone()
    stats = compute_statistics(df, batch_rows=1000)
    assert stats.item_count == len(df)
    for name in df.columns.drop("sex"):
        col = stats[name]
        assert col.inferred_type == ("Integral" if name == "rings" else "Fractional")
        assert col.num_present == df[name].notna().sum() and col.num_missing == 0
        assert col.mean == pytest.approx(df[name].mean(), rel=1e-12)
        assert col.std_dev == pytest.approx(df[name].std(ddof=0), rel=1e-9)
        assert (col.min, col.max) == (df[name].min(), df[name].max())
        assert col.sum == pytest.approx(df[name].sum(), rel=1e-12)
        assert col.distinct.estimate() == pytest.approx(df[name].nunique(), rel=0.02)
        assert sum(b["count"] for b in col.histogram()) == pytest.approx(len(df))
    sex = stats["sex"]
    assert sex.inferred_type == "String"
    assert dict(sex.frequent.top()) == df["sex"].value_counts().to_dict()
    assert round(sex.distinct.estimate()) == 3


def test_missing_values_and_nan_count_as_missing() -> None:
    stats = compute_statistics(pd.DataFrame({"x": [1.0, np.nan, np.inf, None], "s": ["a", None, "b", "a"]}))
    assert (stats["x"].num_present, stats["x"].num_missing) == (1, 3)
    assert (stats["s"].num_present, stats["s"].num_missing) == (3, 1)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_merge_equals_statistics_of_the_union(seed: int) -> None:
    left, right = frame(seed, 20_000), frame(seed + 100, 7_000)
    right["n"] = right["n"].astype(float)  # Integral meets Fractional: the union is Fractional
    right["only_right"] = "z"
    merged = compute_statistics(left).merge(compute_statistics(right))
    union = compute_statistics(pd.concat([left, right], ignore_index=True))
    assert merged.item_count == union.item_count == 27_000
    assert list(merged.columns) == list(union.columns)
    for col in union:
        mine = merged[col.name]
        assert mine.inferred_type == col.inferred_type
        assert (mine.num_present, mine.num_missing) == (col.num_present, col.num_missing)
        if col.numeric:
            assert mine.mean == pytest.approx(col.mean, rel=1e-12)
            assert mine.std_dev == pytest.approx(col.std_dev, rel=1e-9)
            assert (mine.min, mine.max) == (col.min, col.max)
            truth = np.sort(pd.concat([left, right])[col.name].dropna().to_numpy(dtype=float))
            for fraction, estimate in zip([0.1, 0.5, 0.9], mine.quantiles([0.1, 0.5, 0.9]), strict=True):
                rank = np.searchsorted(truth, estimate, side="right") / len(truth)
                assert abs(rank - fraction) <= mine.kll.rank_error + 1 / len(truth) + 0.01  # ties
        else:
            assert mine.frequent.top() == col.frequent.top()
        assert np.array_equal(mine.distinct.registers, col.distinct.registers)


def test_json_layout_and_round_trip() -> None:
    stats = compute_statistics(abalone())
    doc = json.loads(stats.to_json())
    assert doc["dataset"] == {"item_count": 4177}
    length = next(f for f in doc["features"] if f["name"] == "length")
    num = length["numerical_statistics"]
    assert length["inferred_type"] == "Fractional"
    assert set(num["common"]) == {"num_present", "num_missing"}
    assert {"mean", "sum", "std_dev", "min", "max"} <= set(num)
    kll = num["distribution"]["kll"]
    assert len(kll["buckets"]) == 10 and set(kll["buckets"][0]) == {"lower_bound", "upper_bound", "count"}
    assert set(kll["sketch"]["parameters"]) == {"c", "k"} and isinstance(kll["sketch"]["data"], list)
    sex = next(f for f in doc["features"] if f["name"] == "sex")["string_statistics"]
    assert sex["distinct_count"] == 3
    assert {b["value"] for b in sex["distribution"]["categorical"]["buckets"]} == {"M", "F", "I"}

    back = DatasetStatistics.from_json(stats.to_json())
    assert back.to_dict() == doc
    doubled = back.merge(stats)
    assert doubled.item_count == 2 * 4177
    assert doubled["rings"].mean == pytest.approx(stats["rings"].mean)


def test_reading_a_foreign_statistics_file_without_our_sketches() -> None:
    doc = compute_statistics(abalone()).to_dict()
    for feature in doc["features"]:
        block = feature.get("numerical_statistics") or feature["string_statistics"]
        del block["distinct_sketch"]
    back = DatasetStatistics.from_dict(doc)
    assert back["sex"].frequent.top(1) == [("M", 1528)]
    with pytest.raises(ValueError):
        DatasetStatistics.from_dict({"features": []})


def test_batches_and_tables_agree() -> None:
    df = frame(9, 5_000)
    from_table = compute_statistics(pa.Table.from_pandas(df), batch_rows=999)
    from_frame = compute_statistics(df)
    assert from_table["x"].mean == pytest.approx(from_frame["x"].mean)
    assert from_table["kind"].frequent.top() == from_frame["kind"].frequent.top()


def test_numeric_and_string_columns_do_not_merge() -> None:
    one = compute_statistics(pd.DataFrame({"a": [1, 2]}))
    two = compute_statistics(pd.DataFrame({"a": ["x", "y"]}))
    with pytest.raises(ValueError, match="Integral on one side and String"):
        one.merge(two)
