"""Monitoring past one process: statistics per block on Ray Data, merged, equal to the single-process ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _s3 import S3Server
from typer.testing import CliRunner

from slipway.cli import app
from slipway.errors import InvalidInput
from slipway.monitoring import statistics_of
from slipway.monitoring._blocks import blocks_of, statistics_on_ray
from slipway.statistics import DatasetStatistics

pytestmark = pytest.mark.ray
KLL_RANK_ERROR = 0.01  # KLL at k=512: about 0.6 % of the rank (docs/statistics.md); a margin on top


def _write(folder: Path, files: int, rows: int, seed: int, shift: float = 0.0) -> Path:
    """``files`` Parquet files of ``rows`` rows, row groups of rows/3: numbers (some missing), integers, text."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        x = rng.normal(10.0 + shift, 2.0, rows)
        x[rng.random(rows) < 0.05] = np.nan
        table = pa.table({
            "x": x,
            "n": rng.integers(0, 1_000, rows),
            "kind": rng.choice(["a", "b", "c"] if not shift else ["a", "z"], rows),
        })
        pq.write_table(table, folder / f"part-{i}.parquet", row_group_size=rows // 3)
    return folder


def _assert_equal_within_sketches(local: DatasetStatistics, merged: DatasetStatistics, values: dict[str, Any]) -> None:
    assert merged.item_count == local.item_count
    for column in local:
        other = merged[column.name]
        assert (other.inferred_type, other.num_present, other.num_missing) == (
            column.inferred_type, column.num_present, column.num_missing)
        assert other.distinct.estimate() == column.distinct.estimate()  # HyperLogLog registers merge exactly
        if column.numeric:
            assert (other.min, other.max) == (column.min, column.max)
            assert other.sum == pytest.approx(column.sum, rel=1e-12)
            assert other.std_dev == pytest.approx(column.std_dev, rel=1e-9)
            present = np.sort(values[column.name][~np.isnan(values[column.name])])
            for fraction, value in zip([0.1, 0.5, 0.9], other.quantiles([0.1, 0.5, 0.9]), strict=True):
                rank = np.searchsorted(present, value) / len(present)
                assert abs(rank - fraction) <= KLL_RANK_ERROR, (column.name, fraction, rank)
        else:
            assert other.frequent is not None and column.frequent is not None
            assert other.frequent.counts == column.frequent.counts  # exact below the summary's capacity


def test_statistics_per_block_on_ray_equal_the_single_process_ones(ray_cluster: Any, tmp_path: Path) -> None:
    folder = _write(tmp_path / "data", files=3, rows=30_000, seed=1)
    blocks = blocks_of(folder, rows=10_000)
    assert len(blocks) == 9 and all(b.row_groups is not None for b in blocks)  # three row groups a file
    table = pq.read_table(folder)
    values = {name: table[name].to_numpy().astype(float) for name in ("x", "n")}
    _assert_equal_within_sketches(statistics_of(folder), statistics_on_ray(folder, rows=10_000), values)
    with pytest.raises(InvalidInput, match="unknown engine 'spark'"):
        statistics_of(folder, engine="spark")


def test_cli_baseline_and_check_on_ray_over_an_s3_prefix(
    ray_cluster: Any, s3_server: S3Server, s3_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_S3_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = s3_server.client()
    prefix = s3_url.removeprefix(f"s3://{s3_server.bucket}/")
    for name, folder in (("train", _write(tmp_path / "train", 2, 6_000, seed=2)),
                         ("today", _write(tmp_path / "today", 2, 6_000, seed=3, shift=3.0))):
        for file in folder.iterdir():
            client.upload_file(str(file), s3_server.bucket, f"{prefix}/{name}/{file.name}")

    def cli(*args: str) -> str:
        result = CliRunner().invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    cli("monitor", "baseline", f"{s3_url}/train", "-o", str(tmp_path / "base-ray"), "--engine", "ray")
    cli("monitor", "baseline", str(tmp_path / "train"), "-o", str(tmp_path / "base-local"))
    ray_constraints = json.loads((tmp_path / "base-ray" / "constraints.json").read_text())
    assert ray_constraints == json.loads((tmp_path / "base-local" / "constraints.json").read_text())

    found = json.loads(cli("monitor", "check", f"{s3_url}/today", "-b", str(tmp_path / "base-ray"),
                           "-o", str(tmp_path / "out-ray"), "--engine", "ray", "--json"))
    local = json.loads(cli("monitor", "check", str(tmp_path / "today"), "-b", str(tmp_path / "base-local"),
                           "-o", str(tmp_path / "out-local"), "--json"))
    # The same checks fail; a drift distance may differ within the quantile sketches' error.
    checks = [[(v["feature_name"], v["constraint_check_type"]) for v in doc["violations"]] for doc in (found, local)]
    assert checks[0] == checks[1] and ("kind", "categorical_values_check") in checks[0]
