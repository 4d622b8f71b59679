"""Diffs of two versions, downloads and the lineage of runs and steps reading and writing data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from slipway.datasets import DatasetService


def test_diff_shows_schema_and_statistics_side_by_side(datasets: DatasetService, abalone: pd.DataFrame) -> None:
    datasets.register("abalone", abalone)
    second = abalone.drop(columns=["height"]).assign(rings=abalone["rings"] * 1.5, age=abalone["rings"] + 1.5)
    datasets.register("abalone", second)
    diff = datasets.diff("abalone", 1, 2)
    assert diff.versions == [1, 2] and diff.num_rows == [4177, 4177] and not diff.same_content
    by_name = {c.name: c for c in diff.columns}
    assert by_name["height"].change == "removed" and by_name["height"].types == ["double", None]
    assert by_name["age"].change == "added"
    assert by_name["rings"].change == "type_changed" and by_name["rings"].types == ["int64", "double"]
    assert by_name["rings"].statistics["mean"][1] == abalone["rings"].mean() * 1.5
    assert by_name["sex"].change == "unchanged" and by_name["sex"].statistics["top"][0][0] == "M (1528)"
    assert datasets.diff("abalone", 1, 1).same_content


def test_download_gives_the_stored_parquet(datasets: DatasetService, abalone: pd.DataFrame, tmp_path: Path) -> None:
    version = datasets.register("abalone", abalone).version
    path = datasets.download("abalone", 1, tmp_path / "out.parquet")
    assert pq.read_table(path).num_rows == version.num_rows


def test_lineage_of_runs_and_steps(datasets: DatasetService, abalone: pd.DataFrame) -> None:
    raw = datasets.register("raw", abalone, produced_by=("run", "run-etl")).version
    datasets.load("raw", reader=("step_execution", "step-clean"))
    clean = datasets.register("clean", abalone.dropna(), produced_by=("step_execution", "step-clean"),
                              derived_from=[("dataset_version", raw.id)]).version
    datasets.record_read("clean", None, ("run", "run-train"))

    down = datasets.lineage("raw", 1, depth=4)
    kinds = {(n.kind, n.id) for n in down.nodes}
    assert {("step_execution", "step-clean"), ("dataset_version", clean.id), ("run", "run-train")} <= kinds
    up = datasets.lineage("clean", direction="upstream")
    relations = {(e.src, e.relation) for e in up.edges}
    assert (("dataset_version", raw.id), "derived_from") in relations
    assert (("step_execution", "step-clean"), "produced") in relations
    assert (("dataset", clean.dataset_id), "contains") in relations
