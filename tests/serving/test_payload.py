"""Request bodies become the frames pandas would build, including on the fast path for uniform rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from slipway.serving._payload import parse_body


def _split(rows: list[list[object]]) -> bytes:
    return json.dumps({"dataframe_split": {"columns": ["a", "b"], "data": rows}}).encode()


@pytest.mark.parametrize(
    "rows",
    [
        [[1.0, 2.5]],  # all floats: the fast path
        [[1, 2], [3, 4]],  # all ints: int64, as pandas gives, so a long column still accepts them
        [[True, False]],
        [[1, 2.5], [3, 4.5]],  # a column of ints next to one of floats: pandas' own inference
        [[1.0, "x"]],
        [[1.0, None]],
    ],
)
def test_dataframe_split_gives_what_pandas_gives(rows: list[list[object]]) -> None:
    got, params = parse_body(_split(rows), "application/json")
    assert params is None
    expected = pd.DataFrame(rows, columns=["a", "b"])
    pd.testing.assert_frame_equal(got, expected)


def test_uniform_rows_past_64_bits_take_the_general_path() -> None:
    got, _ = parse_body(_split([[2**70, 1]]), "application/json")
    assert got["a"].dtype == object and got["b"].tolist() == [1]
    assert parse_body(_split([[1.5, 2.5]]), "application/json")[0].dtypes.tolist() == [np.float64, np.float64]
