"""Bias metrics on small cases computed by hand (the counts and each formula are written out below)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from slipway.clarify import BiasConfig, bias_metrics
from slipway.errors import InvalidInput

# a (sex M): six rows, d (sex F): four rows; (label, prediction) per row.
#   a: (1,1) (1,1) (1,0) (0,0) (0,0) (0,1)  -> TP 2, FN 1, TN 2, FP 1; na 6, na1 3, n^a1 3
#   d: (1,1) (0,0) (0,0) (0,1)              -> TP 1, FN 0, TN 2, FP 1; nd 4, nd1 1, n^d1 2
# group g1: the first three a rows and the first two d rows; g2: the others.
# x: the flip test's one feature; d's nearest a neighbours (k = 1 below ten a rows) are x = 0, 10, 11, 2.
SMALL = pd.DataFrame({
    "sex": ["M"] * 6 + ["F"] * 4,
    "label": [1, 1, 1, 0, 0, 0, 1, 0, 0, 0],
    "pred": [1, 1, 0, 0, 0, 1, 1, 0, 0, 1],
    "group": ["g1", "g1", "g1", "g2", "g2", "g2", "g1", "g1", "g2", "g2"],
    "x": [0.0, 1.0, 2.0, 10.0, 11.0, 12.0, 0.1, 10.1, 11.1, 2.1],
})
PA, PD = [0.5, 0.5], [0.75, 0.25]  # label distributions (negative, positive) of a and d
P = [(x + y) / 2 for x, y in zip(PA, PD, strict=True)]
GE_BENEFITS = [1, 1, 0, 1, 1, 2, 1, 1, 1, 2]  # y^ - y + 1 per row, mean 1.1

EXPECTED = {
    "CI": (6 - 4) / 10,
    "DPL": 3 / 6 - 1 / 4,
    "KL": sum(a * math.log(a / d) for a, d in zip(PA, PD, strict=True)),
    "JS": 0.5 * (sum(a * math.log(a / p) for a, p in zip(PA, P, strict=True))
                 + sum(d * math.log(d / p) for d, p in zip(PD, P, strict=True))),
    "LP": math.sqrt(2 * 0.25**2),
    "TVD": 0.5 * (0.25 + 0.25),
    "KS": 0.25,
    "CDDL": (5 * (1 / 1 - 1 / 4) + 5 * (2 / 5 - 0)) / 10,  # per group: d's share of negatives - of positives
    "DPPL": 3 / 6 - 2 / 4,
    "DI": (2 / 4) / (3 / 6),
    "DCA": 3 / 3 - 1 / 2,
    "DCR": 3 / 2 - 3 / 3,
    "RD": 2 / 3 - 1 / 1,
    "SD": 2 / 3 - 2 / 3,
    "DAR": 2 / 3 - 1 / 2,
    "DRR": 2 / 2 - 2 / 3,
    "AD": 4 / 6 - 3 / 4,
    "TE": 0 / 1 - 1 / 1,
    "CDDPL": (5 * (1 / 2 - 1 / 3) + 5 * (1 / 3 - 1 / 2)) / 10,
    "FT": (1 - 0) / 4,  # the last d row: the model says 1, its neighbour (x = 2) got 0
    "GE": sum((b / 1.1) ** 2 - 1 for b in GE_BENEFITS) / (10 * 2 * 1),
}


def _values(report: dict, section: str, entry: int = 0) -> dict[str, float | str | None]:
    facets = report[section]["facets"]
    [entries] = facets.values()
    return {m["name"]: m["value"] for m in entries[entry]["metrics"]}


def test_every_metric_matches_the_hand_computed_value() -> None:
    config = BiasConfig(label="label", label_values=(1,), facet="sex", facet_values=("F",), group="group",
                        predicted_label="pred")
    report = bias_metrics(SMALL, config)
    found = _values(report, "pre_training_bias_metrics") | _values(report, "post_training_bias_metrics")
    assert set(found) == set(EXPECTED)
    for name, value in EXPECTED.items():
        assert found[name] == pytest.approx(value, abs=1e-12), name
    assert report["pre_training_bias_metrics"]["facets"]["sex"][0]["value_or_threshold"] == "F"
    assert report["post_training_bias_metrics"]["label_value_or_threshold"] == "1"


def test_one_value_against_all_others_for_each_facet_value() -> None:
    report = bias_metrics(SMALL, BiasConfig(label="label", label_values=(1,), facet="sex"), methods=["CI", "DPL"])
    entries = report["pre_training_bias_metrics"]["facets"]["sex"]
    assert [e["value_or_threshold"] for e in entries] == ["M", "F"]  # order of appearance
    assert _values(report, "pre_training_bias_metrics", 0) == {"CI": pytest.approx(-0.2), "DPL": pytest.approx(-0.25)}
    assert _values(report, "pre_training_bias_metrics", 1) == {"CI": pytest.approx(0.2), "DPL": pytest.approx(0.25)}
    assert "post_training_bias_metrics" not in report


def test_thresholds_and_multiclass_labels() -> None:
    frame = pd.DataFrame({"age": [20, 30, 40, 50, 60, 70], "grade": ["A", "B", "C", "A", "C", "C"],
                          "rings": [5, 12, 11, 3, 20, 9]})
    # age > 45 is the sensitive group: ages 50, 60, 70 (d) against 20, 30, 40 (a).
    by_threshold = bias_metrics(frame, BiasConfig(label="grade", label_values=("A", "B"), facet="age",
                                                  facet_threshold=45), methods=["DPL"])
    section = by_threshold["pre_training_bias_metrics"]
    assert section["facets"]["age"][0]["value_or_threshold"] == "(45, 70]"
    assert section["label_value_or_threshold"] == "A,B"
    assert _values(by_threshold, "pre_training_bias_metrics") == {"DPL": pytest.approx(2 / 3 - 1 / 3)}
    by_label = bias_metrics(frame, BiasConfig(label="rings", label_threshold=10, facet="age", facet_threshold=45),
                            methods=["DPL"])
    assert by_label["pre_training_bias_metrics"]["label_value_or_threshold"] == "(10, 20]"
    assert _values(by_label, "pre_training_bias_metrics") == {"DPL": pytest.approx(2 / 3 - 1 / 3)}


def test_infinite_and_undefined_values_are_reported_as_the_cloud_stack_writes_them() -> None:
    frame = pd.DataFrame({"f": ["a", "a", "d", "d"], "y": [1, 0, 1, 0], "p": [0, 0, 1, 0]})
    report = bias_metrics(frame, BiasConfig(label="y", label_values=(1,), facet="f", facet_values=("d",),
                                            predicted_label="p"), methods=["DI", "CDDPL", "FT"])
    metrics = {m["name"]: m for m in report["post_training_bias_metrics"]["facets"]["f"][0]["metrics"]}
    assert metrics["DI"]["value"] == "Infinity"  # a has no predicted positive
    assert metrics["CDDPL"]["value"] is None and "Group variable" in metrics["CDDPL"]["error"]
    assert metrics["FT"]["value"] is None and "feature columns" in metrics["FT"]["error"]


def test_empty_facet_side_is_an_error_of_the_metric_not_of_the_report() -> None:
    frame = pd.DataFrame({"f": ["a", "a"], "y": [1, 0]})
    report = bias_metrics(frame, BiasConfig(label="y", label_values=(1,), facet="f", facet_values=("d",)),
                          methods=["CI"])
    [metric] = report["pre_training_bias_metrics"]["facets"]["f"][0]["metrics"]
    assert metric["value"] is None and "empty" in metric["error"]


def test_rows_missing_a_value_are_left_out() -> None:
    frame = SMALL.assign(label=SMALL["label"].astype(float))
    frame.loc[len(frame)] = ["F", None, 1, "g1", 5.0]
    report = bias_metrics(frame, BiasConfig(label="label", label_values=(1,), facet="sex", facet_values=("F",)),
                          methods=["CI"])
    assert _values(report, "pre_training_bias_metrics") == {"CI": pytest.approx(0.2)}


@pytest.mark.parametrize(("fields", "field"), [
    ({"label": "nope", "label_values": (1,), "facet": "sex"}, "label"),
    ({"label": "label", "label_values": (1,), "facet": "sex", "predicted_label": "nope"}, "predicted_label"),
    ({"label": "label", "label_threshold": 1, "facet": "sex", "facet_threshold": 3}, "facet_threshold"),
])
def test_bad_columns_are_refused_naming_the_field(fields: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        bias_metrics(SMALL, BiasConfig(**fields))
    assert caught.value.field == field


def test_bad_configs_and_methods_are_refused() -> None:
    with pytest.raises(InvalidInput, match="label_values or label_threshold"):
        BiasConfig.of(label="y", facet="f")
    with pytest.raises(InvalidInput) as caught:
        bias_metrics(SMALL, BiasConfig(label="label", label_values=(1,), facet="sex"), methods=["XYZ"])
    assert caught.value.field == "methods"


def test_reads_files_in_batches(tmp_path) -> None:
    path = tmp_path / "small.parquet"
    SMALL.to_parquet(path)
    config = BiasConfig(label="label", label_values=(1,), facet="sex", facet_values=("F",), predicted_label="pred")
    assert bias_metrics(path, config) == bias_metrics(SMALL, config)
