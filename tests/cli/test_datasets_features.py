"""``slipway datasets`` and ``slipway features``: what a user sees, through the embedded store."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import Result

from slipway import Client

Cli = Callable[..., Result]


@pytest.fixture
def abalone_csv() -> Path:
    with resources.as_file(resources.files("slipway").joinpath("_data/abalone.csv")) as path:
        return Path(path)


def test_datasets_register_list_show_diff_download(cli: Cli, client: Client, abalone_csv: Path,
                                                   tmp_path: Path) -> None:
    first = cli("datasets", "register", "abalone", str(abalone_csv), "-d", "UCI abalone", "-t", "src=uci")
    assert first.exit_code == 0, first.output
    version = client.datasets.get_version("abalone", 1)
    assert first.stdout == f"Registered abalone:1: 4,177 rows, 9 columns, {_size(version.num_bytes)} ({version.id}).\n"
    again = cli("datasets", "register", "abalone", str(abalone_csv))
    assert again.stdout == "abalone:1 already holds this content; nothing new was stored.\n"
    pd.read_csv(abalone_csv).head(100).to_parquet(tmp_path / "small.parquet")
    assert cli("datasets", "register", "abalone", str(tmp_path / "small.parquet")).exit_code == 0

    listing = cli("datasets", "list")
    assert "abalone" in listing.stdout and " 2 " in listing.stdout
    versions = json.loads(cli("datasets", "versions", "abalone", "--json").stdout)
    assert [v["num_rows"] for v in versions] == [4177, 100]

    shown = cli("datasets", "show", "abalone:1")
    assert shown.exit_code == 0, shown.output
    assert "abalone:1" in shown.stdout and "whole weight" in shown.stdout and "M (1528)" in shown.stdout
    assert "First 5 rows" in shown.stdout
    doc = json.loads(cli("datasets", "show", "abalone", "--json").stdout)
    assert doc["version"]["version"] == 2 and doc["statistics"]["dataset"]["item_count"] == 100

    diff = cli("datasets", "diff", "abalone", "1", "2")
    assert diff.exit_code == 0 and "4,177 → 100" in diff.stdout and "unchanged" in diff.stdout

    out = tmp_path / "v1.parquet"
    assert cli("datasets", "download", "abalone:1", str(out)).exit_code == 0
    assert pd.read_parquet(out).shape == (4177, 9)

    client.datasets.record_read("abalone", 1, ("run", "run-42"))
    lineage = cli("datasets", "lineage", "abalone", "1")
    assert "consumed" in lineage.stdout and "run-42" in lineage.stdout


def _size(size: int) -> str:
    from slipway.cli._output import fmt_size

    return fmt_size(size)


def test_datasets_errors_are_one_line(cli: Cli) -> None:
    missing = cli("datasets", "show", "nope")
    assert missing.exit_code == 2 and missing.stderr.startswith("error: dataset 'nope' does not exist")
    web = cli("datasets", "register", "web", "https://example.com/x.csv")
    assert web.exit_code == 2 and "never fetches http" in web.stderr
    bad = cli("datasets", "show", "abalone:x")
    assert bad.exit_code == 2


def test_features_from_create_to_training_set(cli: Cli, client: Client, tmp_path: Path) -> None:
    made = cli("features", "create", "drivers", "-f", "driver:int64", "-f", "ts:timestamp", "-f", "rate:float64",
               "--record-id", "driver", "--event-time", "ts", "--ttl", "86400", "-d", "driver stats")
    assert made.exit_code == 0, made.output
    assert made.stdout.startswith("Created feature group drivers with 3 features")
    rows = pd.DataFrame({"driver": [1, 1, 2], "ts": ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z",
                                                       "2024-01-01T00:00:00Z"], "rate": [0.1, 0.2, 0.3]})
    rows.to_csv(tmp_path / "rows.csv", index=False)
    ingested = cli("features", "ingest", "drivers", str(tmp_path / "rows.csv"), "--offline-only")
    assert ingested.exit_code == 0, ingested.output
    assert ingested.stdout == ("Ingested 3 rows into drivers: 2 offline file(s), 0 online record(s) updated.\n")
    assert cli("features", "materialize", "drivers").stdout.startswith("Materialized 2 record(s)")

    listing = cli("features", "list")
    assert "drivers" in listing.stdout and "86400s" in listing.stdout
    assert "record id" in cli("features", "show", "drivers").stdout
    got = json.loads(cli("features", "get", "drivers", "1", "3", "--json").stdout)
    assert got[1] == {"id": "3", "rate": None}  # 1 expired after a day; unknown 3 is missing
    assert got[0]["id"] == "1"

    pd.DataFrame({"driver": [1, 1, 2], "event_time": ["2024-01-01T12:00:00Z", "2024-01-03T00:00:00Z",
                                                      "2023-12-31T00:00:00Z"]}).to_csv(tmp_path / "e.csv", index=False)
    out = tmp_path / "train.parquet"
    built = cli("features", "training-set", str(tmp_path / "e.csv"), "-g", "drivers", "-o", str(out),
                "--register", "drivers-train")
    assert built.exit_code == 0, built.output
    assert pd.read_parquet(out)["rate"].tolist()[:2] == [0.1, 0.2]
    assert client.datasets.get_version("drivers-train").num_rows == 3


def test_features_usage_errors(cli: Cli) -> None:
    bad = cli("features", "create", "g", "-f", "x", "--record-id", "x", "--event-time", "t")
    assert bad.exit_code == 2
    changed = cli("features", "create", "g", "-f", "x:decimal", "-f", "t:timestamp", "--record-id", "x",
                  "--event-time", "t")
    assert changed.exit_code == 2 and "unknown type 'decimal'" in changed.stderr
