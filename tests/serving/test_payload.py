"""Request bodies become the frames pandas would build, including on the fast path for uniform rows,
and each model gets them as its signature takes them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from slipway.models import infer_signature
from slipway.serving._payload import Rows, model_input, parse_body


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
    pd.testing.assert_frame_equal(got.frame() if isinstance(got, Rows) else got, expected)


def test_uniform_rows_past_64_bits_take_the_general_path() -> None:
    got, _ = parse_body(_split([[2**70, 1]]), "application/json")
    assert isinstance(got, pd.DataFrame) and got["a"].dtype == object and got["b"].tolist() == [1]
    floats, _ = parse_body(_split([[1.5, 2.5]]), "application/json")
    assert isinstance(floats, Rows) and floats.values.dtype == np.float64


def test_rows_reach_a_model_as_its_signature_takes_them() -> None:
    rows, _ = parse_body(_split([[1.0, 2.0]]), "application/json")
    same = infer_signature(pd.DataFrame({"a": [0.0], "b": [0.0]}))
    swapped = infer_signature(pd.DataFrame({"b": [0.0], "a": [0.0]}))
    positional = infer_signature(np.zeros((1, 2)))
    assert isinstance(model_input(rows, same), np.ndarray)  # the names are its columns, in order: the array
    assert isinstance(model_input(rows, positional), np.ndarray)  # matched by position anyway
    for other in (swapped, None):  # columns to be matched by name, or no signature: the DataFrame, names kept
        frame = model_input(rows, other)
        assert isinstance(frame, pd.DataFrame) and frame.columns.tolist() == ["a", "b"]
    assert swapped.validate(model_input(rows, swapped)).to_dict("list") == {"b": [2.0], "a": [1.0]}
