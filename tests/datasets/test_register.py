"""Registering versions: content hashing and dedup, every kind of source, what a version records."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from slipway.datasets import DatasetService, SourcePolicy, _parquet, _sources
from slipway.errors import InvalidInput, NotFound, PermissionDenied
from slipway.events._tables import events
from slipway.statistics import compute_statistics
from slipway.store import Database


def test_same_content_is_the_same_version(datasets: DatasetService, abalone_csv: Path, abalone: pd.DataFrame,
                                          tmp_path: Path) -> None:
    first = datasets.register("abalone", abalone_csv, description="UCI", tags={"source": "uci"})
    assert first.created and first.version.version == 1 and first.version.ref == "abalone:1"

    again = datasets.register("abalone", abalone, description="ignored")  # DataFrame, same rows
    assert not again.created and again.version == first.version

    halves = tmp_path / "parts"
    halves.mkdir()
    pq.write_table(pa.Table.from_pandas(abalone.iloc[:2000]), halves / "a.parquet")
    pq.write_table(pa.Table.from_pandas(abalone.iloc[2000:]), halves / "b.parquet")
    (halves / "_SUCCESS").write_text("")
    assert datasets.register("abalone", halves).version.id == first.version.id  # a folder, in parts

    changed = datasets.register("abalone", abalone.iloc[:-1])
    assert changed.created and changed.version.version == 2
    assert changed.version.content_hash != first.version.content_hash
    assert [v.version for v in datasets.list_versions("abalone")] == [1, 2]
    assert datasets.get_dataset("abalone").latest_version == 2
    assert datasets.get_version("abalone").version == 2


def test_a_version_records_schema_rows_preview_source_and_who(datasets: DatasetService, abalone_csv: Path,
                                                              abalone: pd.DataFrame) -> None:
    version = datasets.register("abalone", str(abalone_csv), tags={"n": 1}).version
    assert version.num_rows == 4177 and version.num_bytes > 0
    assert [(c.name, c.type) for c in version.columns][:2] == [("sex", "string"), ("length", "double")]
    assert version.columns[-1].type == "int64"
    assert len(version.preview) == 20 and version.preview[0]["sex"] == "M" and version.preview[0]["rings"] == 15
    assert version.source == str(abalone_csv) and version.created_by and version.tags == {"n": "1"}
    stats = datasets.get_statistics("abalone", 1)
    assert stats.to_dict() == compute_statistics(abalone).to_dict()
    pd.testing.assert_frame_equal(datasets.load("abalone", 1), abalone)


def test_registration_publishes_one_event(datasets: DatasetService, db: Database, abalone: pd.DataFrame) -> None:
    datasets.register("abalone", abalone)
    datasets.register("abalone", abalone)
    with db.read() as conn:
        rows = conn.execute(select(events).where(events.c.type == "dataset_version.registered")).all()
    assert len(rows) == 1 and json.loads(rows[0].payload)["version"] == 1


def test_json_lines_and_a_frame_of_the_same_rows(datasets: DatasetService, tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]})
    frame.to_json(tmp_path / "rows.jsonl", orient="records", lines=True)
    from_json = datasets.register("rows", tmp_path / "rows.jsonl").version
    assert datasets.register("rows", frame).version.id == from_json.id
    assert from_json.preview[2] == {"a": 3, "b": None}


def test_big_inputs_are_converted_in_chunks(datasets: DatasetService, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_parquet, "ROW_GROUP_ROWS", 1000)
    monkeypatch.setattr(_sources, "BLOCK_BYTES", 16 << 10)
    frame = pd.DataFrame({"i": range(25_500), "s": [f"v{i % 97}" for i in range(25_500)]})
    frame.to_csv(tmp_path / "big.csv", index=False)
    version = datasets.register("big", tmp_path / "big.csv").version
    with datasets.open("big") as src:
        stored = pq.ParquetFile(src)
        assert stored.metadata.num_row_groups == 26
        assert {stored.metadata.row_group(i).num_rows for i in range(25)} == {1000}
    # The same rows in other batch boundaries give the same bytes.
    assert datasets.register("big", frame).version.id == version.id
    assert datasets.get_statistics("big")["s"].frequent.top(1) == [("v0", 263)]


def test_empty_data_keeps_its_schema(datasets: DatasetService) -> None:
    version = datasets.register("empty", pd.DataFrame({"a": pd.Series([], dtype="int64")})).version
    assert version.num_rows == 0 and [c.name for c in version.columns] == ["a"]


@pytest.mark.parametrize(
    ("source", "error", "match"),
    [
        ("https://example.com/data.csv", InvalidInput, "never fetches http"),
        ("ftp://host/data.csv", InvalidInput, "unsupported scheme 'ftp'"),
        ("file://otherhost/data.csv", InvalidInput, "must be local"),
        ("missing.csv", NotFound, "no file or folder"),
    ],
)
def test_refused_sources(datasets: DatasetService, source: str, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        datasets.register("x", source)


def test_unknown_formats_and_names(datasets: DatasetService, tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("a\n1\n")
    with pytest.raises(InvalidInput, match="format") as err:
        datasets.register("x", tmp_path / "data.txt")
    assert err.value.field == "format"
    assert datasets.register("x", tmp_path / "data.txt", format="csv").version.num_rows == 1
    with pytest.raises(InvalidInput) as bad:
        datasets.register("no spaces", tmp_path / "data.txt", format="csv")
    assert bad.value.field == "name"
    with pytest.raises(InvalidInput):
        datasets.register("x", 42)  # type: ignore[arg-type]


def test_allowed_roots_limit_local_paths(db: Database, tmp_path: Path, abalone_csv: Path) -> None:
    from slipway.store.artifacts import ArtifactStore, LocalStorage

    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "ok.csv").write_text("a\n1\n")
    service = DatasetService(db, ArtifactStore(db, LocalStorage(tmp_path / "art")),
                             policy=SourcePolicy(allowed_roots=(shared,)))
    assert service.register("ok", f"file://{shared / 'ok.csv'}").created
    with pytest.raises(PermissionDenied, match="outside the folders"):
        service.register("no", f"file://{abalone_csv}")
    (shared / "escape.csv").symlink_to(abalone_csv)
    with pytest.raises(PermissionDenied):
        service.register("no", shared / "escape.csv")


def test_missing_things_are_not_found(datasets: DatasetService, abalone: pd.DataFrame) -> None:
    with pytest.raises(NotFound) as err:
        datasets.get_version("nope")
    assert err.value.field == "name"
    datasets.register("abalone", abalone)
    with pytest.raises(NotFound) as err:
        datasets.get_version("abalone", 7)
    assert err.value.field == "version"
    with pytest.raises(InvalidInput):
        datasets.get_version("abalone", 0)
