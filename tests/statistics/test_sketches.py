"""The sketches on their own: accuracy within their bounds, merges, and JSON round trips."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from slipway.statistics import FrequentItems, HyperLogLog, KllSketch, hash_values

FRACTIONS = [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0]


def rank_errors(sketch: KllSketch, values: np.ndarray) -> np.ndarray:
    """How far (as a fraction of the count) each estimated quantile's true rank is from asked."""
    ordered = np.sort(values)
    estimates = sketch.quantiles(FRACTIONS)
    low = np.searchsorted(ordered, estimates, side="left") / len(ordered)
    high = np.searchsorted(ordered, estimates, side="right") / len(ordered)
    asked = np.asarray(FRACTIONS)
    return np.where(asked < low, low - asked, np.where(asked > high, asked - high, 0.0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kll_quantiles_within_the_rank_error(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.lognormal(size=150_000), rng.integers(0, 50, 50_000).astype(float)])
    sketch = KllSketch()
    for chunk in np.array_split(rng.permutation(values), 7):
        sketch.update(chunk)
    assert sketch.count == len(values)
    assert sketch.size < 4 * sketch.k
    assert rank_errors(sketch, values).max() <= sketch.rank_error


def test_kll_merge_is_the_sketch_of_the_union() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=80_000), rng.normal(3, 2, size=30_000)
    left, right = KllSketch(), KllSketch()
    left.update(a)
    right.update(b)
    merged = left.merge(right)
    assert merged.count == len(a) + len(b)
    assert rank_errors(merged, np.concatenate([a, b])).max() <= merged.rank_error
    assert left.count == len(a)  # inputs untouched


def test_kll_json_round_trip_keeps_answers() -> None:
    sketch = KllSketch(k=64)
    sketch.update(np.arange(10_000, dtype=float))
    doc = sketch.to_dict()
    assert doc["parameters"] == {"c": pytest.approx(2 / 3), "k": 64}
    back = KllSketch.from_dict(doc)
    assert back.count == 10_000
    np.testing.assert_array_equal(back.quantiles(FRACTIONS), sketch.quantiles(FRACTIONS))


def test_kll_empty_and_bad_input() -> None:
    sketch = KllSketch()
    assert np.isnan(sketch.quantiles([0.5])[0]) and np.isnan(sketch.cdf([1.0])[0])
    with pytest.raises(ValueError):
        sketch.quantiles([1.5])
    with pytest.raises(ValueError):
        KllSketch.from_dict({"data": []})


def test_kll_is_deterministic() -> None:
    values = np.random.default_rng(3).normal(size=50_000)
    one, two = KllSketch(), KllSketch()
    one.update(values)
    two.update(values)
    assert one.to_dict() == two.to_dict()


@pytest.mark.parametrize("distinct", [1, 10, 1_000, 200_000])
def test_hll_estimates_within_its_error(distinct: int) -> None:
    hll = HyperLogLog()
    values = np.arange(400_000) % distinct
    hll.update(hash_values(values))
    assert hll.estimate() == pytest.approx(distinct, rel=0.05)


def test_hll_merge_and_round_trip() -> None:
    one, two = HyperLogLog(), HyperLogLog()
    one.update(hash_values(np.arange(0, 30_000)))
    two.update(hash_values(np.arange(20_000, 50_000)))
    merged = HyperLogLog.from_dict(one.merge(two).to_dict())
    assert merged.estimate() == pytest.approx(50_000, rel=0.05)
    with pytest.raises(ValueError):
        one.merge(HyperLogLog(p=10))


def test_hashes_are_stable_and_number_types_agree() -> None:
    assert hash_values(np.array([1, 2]))[0] == hash_values(np.array([1.0, 2.0]))[0]
    assert hash_values(np.array(["a", "b"], dtype=object)).tolist() == hash_values(
        np.array(["a", "b"], dtype=object), unique=True).tolist()


def test_frequent_items_exact_while_under_capacity() -> None:
    items = FrequentItems(capacity=5)
    items.update(pa.array(["a", "b"]), np.array([3, 1]))
    items.update(pa.array(["b", "c"]), np.array([4, 2]))
    assert items.top() == [("b", 5), ("a", 3), ("c", 2)] and items.exact


def test_frequent_items_bounded_and_never_overcounting() -> None:
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.integers(0, 5_000, 40_000), np.repeat([7, 8, 9], 5_000)]).astype(str)
    rng.shuffle(values)
    items = FrequentItems(capacity=50)
    for chunk in np.array_split(values, 9):
        uniques, counts = np.unique(chunk, return_counts=True)
        items.update(pa.array(uniques), counts)
    truth = dict(zip(*np.unique(values, return_counts=True), strict=True))
    assert len(items.counts) <= 50
    for value, count in items.counts.items():
        assert truth[value] - items.max_error <= count <= truth[value]
    assert {v for v, _ in items.top(3)} == {"7", "8", "9"}
    back = FrequentItems.from_dict(items.to_dict())
    assert back.counts == items.counts and back.max_error == items.max_error
