"""read_frames: fixed-size DataFrames across the files of a folder, for batch inference."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from slipway.datasets import read_frames
from slipway.errors import InvalidInput, NotFound


def test_frames_hold_the_asked_rows_across_files_of_several_formats(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    pd.DataFrame({"x": range(0, 7), "s": list("abcdefg")}).to_csv(folder / "a.csv", index=False)
    pd.DataFrame({"x": range(7, 12), "s": list("hijkl")}).to_csv(folder / "b.csv", index=False)
    frames = list(read_frames(folder, 4))
    assert [len(f) for f in frames] == [4, 4, 4]
    joined = pd.concat(frames, ignore_index=True)
    assert joined["x"].tolist() == list(range(12)) and joined["s"].str.cat() == "abcdefghijkl"
    pd.DataFrame({"x": [1.5, 2.5, 3.5]}).to_parquet(tmp_path / "one.parquet")
    assert [f["x"].tolist() for f in read_frames(tmp_path / "one.parquet", 2)] == [[1.5, 2.5], [3.5]]


def test_bad_sources_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        next(read_frames(tmp_path / "nothing.csv", 10))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InvalidInput):
        next(read_frames(tmp_path / "notes.txt", 10))
    with pytest.raises(InvalidInput) as refused:
        next(read_frames(tmp_path / "notes.txt", 0))
    assert refused.value.field == "rows"
