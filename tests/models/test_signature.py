from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from slipway.errors import InvalidInput
from slipway.models import ColumnSpec, Signature, TensorSpec, infer_signature
from slipway.models._signature import SignatureChecker


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "d": [0.5, 1.5],
            "f": np.array([1.0, 2.0], dtype=np.float32),
            "l": [1, 2],
            "i": np.array([1, 2], dtype=np.int32),
            "b": [True, False],
            "s": ["a", "b"],
            "t": pd.to_datetime(["2024-01-01", "2024-02-01"]),
            "y": [b"x", b"y"],
            "n": ["a", None],
        }
    )


def test_infers_every_column_type_from_a_frame() -> None:
    sig = infer_signature(_frame())
    assert not sig.positional
    assert [(c.name, c.type, c.nullable) for c in sig.inputs] == [
        ("d", "double", False),
        ("f", "float", False),
        ("l", "long", False),
        ("i", "integer", False),
        ("b", "boolean", False),
        ("s", "string", False),
        ("t", "datetime", False),
        ("y", "binary", False),
        ("n", "string", True),
    ]


def test_records_and_column_dicts_are_frames() -> None:
    by_records = infer_signature([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
    by_columns = infer_signature({"a": [1, 2], "b": ["x", "y"]})
    assert by_records == by_columns
    assert [c.type for c in by_records.inputs] == ["long", "string"]


def test_a_2d_array_gives_positional_columns_and_outputs_are_described() -> None:
    sig = infer_signature(np.zeros((3, 2)), np.zeros(3, dtype=np.int64))
    assert sig.positional
    assert sig.inputs == (ColumnSpec(name="0", type="double"), ColumnSpec(name="1", type="double"))
    assert sig.outputs == TensorSpec(dtype="int64", shape=(-1,))


def test_arrays_of_more_than_two_dims_give_a_tensor() -> None:
    sig = infer_signature(np.zeros((5, 3, 2), dtype=np.float32))
    assert sig.inputs == TensorSpec(dtype="float32", shape=(-1, 3, 2))


def test_mixed_columns_are_refused_by_name() -> None:
    with pytest.raises(InvalidInput) as err:
        infer_signature(pd.DataFrame({"ok": [1, 2], "mixed": [1, "a"]}))
    assert err.value.field == "mixed"


def test_validate_orders_columns_drops_extras_and_widens_numbers() -> None:
    sig = infer_signature(pd.DataFrame({"x": [0.5], "k": [1]}))
    out = sig.validate(pd.DataFrame({"extra": ["z"], "k": [2], "x": np.array([3], dtype=np.int32)}))
    assert isinstance(out, pd.DataFrame)
    assert out.columns.tolist() == ["x", "k"]
    assert out["x"].dtype == np.float64 and out["x"].tolist() == [3.0]


def test_validate_names_the_missing_column() -> None:
    sig = infer_signature(pd.DataFrame({"length": [0.5], "sex": ["M"]}))
    with pytest.raises(InvalidInput, match="missing column 'sex'") as err:
        sig.validate({"length": [0.1]})
    assert err.value.field == "sex"


def test_validate_names_the_column_of_the_wrong_type() -> None:
    sig = infer_signature(pd.DataFrame({"length": [0.5], "sex": ["M"]}))
    with pytest.raises(InvalidInput, match="'length' has type string, expected double") as err:
        sig.validate({"length": ["long"], "sex": ["F"]})
    assert err.value.field == "length"


@pytest.mark.parametrize(
    ("have", "want", "ok"),
    [
        (np.array([1], dtype=np.int32), np.array([1], dtype=np.int64), True),
        (np.array([1]), np.array([1.0], dtype=np.float32), True),
        (np.array([1.0]), np.array([1.0], dtype=np.float32), True),
        (np.array([1.5]), np.array([1]), False),
        (np.array([1]), np.array([True]), False),
        (np.array([True]), np.array([1.0]), False),
    ],
)
def test_only_safe_conversions_are_allowed(have: np.ndarray, want: np.ndarray, ok: bool) -> None:
    sig = infer_signature(pd.DataFrame({"c": want}))
    if ok:
        out = sig.validate(pd.DataFrame({"c": have}))
        assert out["c"].dtype == want.dtype
    else:
        with pytest.raises(InvalidInput) as err:
            sig.validate(pd.DataFrame({"c": have}))
        assert err.value.field == "c"


def test_missing_values_are_refused_unless_nullable_except_in_float_columns() -> None:
    sig = infer_signature(pd.DataFrame({"s": ["a"], "x": [1.0]}))
    with pytest.raises(InvalidInput, match="missing values") as err:
        sig.validate({"s": [None], "x": [1.0]})
    assert err.value.field == "s"
    assert np.isnan(sig.validate({"s": ["a"], "x": [np.nan]})["x"][0])
    assert infer_signature({"s": ["a", None]}).validate({"s": [None]}).shape == (1, 1)


def test_positional_signatures_take_arrays_or_frames_by_position_and_return_arrays() -> None:
    sig = infer_signature(np.zeros((2, 3)))
    from_array = sig.validate(np.ones((4, 3), dtype=np.int64))
    from_frame = sig.validate(pd.DataFrame({"a": [1.0], "b": [2.0], "c": [3.0]}))
    assert isinstance(from_array, np.ndarray)
    assert from_array.dtype == np.float64 and from_array.shape == (4, 3)
    np.testing.assert_array_equal(from_frame, [[1.0, 2.0, 3.0]])
    with pytest.raises(InvalidInput, match="expected 3 columns, got 2"):
        sig.validate(pd.DataFrame({"a": [1.0], "b": [2.0]}))


def test_named_signatures_take_arrays_in_column_order() -> None:
    sig = infer_signature(pd.DataFrame({"a": [1.0], "b": [2.0]}))
    out = sig.validate(np.array([[5.0, 6.0]]))
    assert isinstance(out, pd.DataFrame) and out.to_dict("list") == {"a": [5.0], "b": [6.0]}
    with pytest.raises(InvalidInput, match="2-D array of 2 columns"):
        sig.validate(np.array([1.0, 2.0]))


def test_tensor_signatures_check_shape_and_dtype() -> None:
    sig = infer_signature(np.zeros((2, 3, 4), dtype=np.float32))
    assert sig.validate(np.ones((7, 3, 4))).dtype == np.float32
    with pytest.raises(InvalidInput, match="shape"):
        sig.validate(np.ones((7, 4, 3)))
    with pytest.raises(InvalidInput, match="float32 tensor"):
        sig.validate(np.full((1, 3, 4), "x"))


def test_unsupported_inputs_are_refused() -> None:
    sig = infer_signature(np.zeros((2, 2)))
    with pytest.raises(InvalidInput, match="cannot predict on str"):
        sig.validate("1,2")
    named = infer_signature({"a": [1.0]})
    with pytest.raises(InvalidInput, match="duplicate"):
        named.validate(pd.DataFrame([[1.0, 2.0]], columns=["a", "a"]))


def test_signature_is_frozen_and_round_trips_through_json() -> None:
    sig = infer_signature(_frame(), np.zeros((2, 3, 1)))
    assert Signature.model_validate_json(sig.model_dump_json()) == sig
    with pytest.raises(ValidationError):
        sig.positional = True  # type: ignore[misc]
    with pytest.raises(ValidationError):
        ColumnSpec(name="x", type="decimal")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        TensorSpec(dtype="not-a-dtype", shape=(-1,))


def test_the_checker_keeps_a_layouts_plan_but_still_refuses_a_new_layout() -> None:
    sig = Signature(inputs=(ColumnSpec(name="x", type="double"), ColumnSpec(name="n", type="long")))
    checker = SignatureChecker(sig)
    first = checker.validate(pd.DataFrame({"n": [1, 2], "x": [0.5, 1.5], "extra": [9, 9]}))
    assert first.columns.tolist() == ["x", "n"] and first["n"].tolist() == [1, 2]
    again = checker.validate(pd.DataFrame({"n": [7], "x": [2.5], "extra": [0]}))  # the same layout: the kept plan
    assert again.to_dict("list") == {"x": [2.5], "n": [7]}
    with pytest.raises(InvalidInput) as refused:  # n now floats: another layout, checked afresh
        checker.validate(pd.DataFrame({"n": [1.5], "x": [2.5], "extra": [0]}))
    assert refused.value.field == "n"
    with pytest.raises(InvalidInput) as missing:
        checker.validate(pd.DataFrame({"n": pd.array([None], dtype="Int64"), "x": [2.5]}))  # checked by value
    assert missing.value.field == "n"


def test_the_checker_gives_arrays_in_signature_order_when_asked() -> None:
    sig = Signature(inputs=(ColumnSpec(name="b", type="double"), ColumnSpec(name="a", type="double")))
    frame = pd.DataFrame({"a": [1, 2], "b": [10, 20]})  # ints, widened to the signature's doubles
    as_array = SignatureChecker(sig, arrays=True).validate(frame)
    assert isinstance(as_array, np.ndarray) and as_array.dtype == np.float64
    assert as_array.tolist() == [[10.0, 1.0], [20.0, 2.0]]
    as_frame = SignatureChecker(sig).validate(frame)
    assert as_frame.dtypes.tolist() == [np.float64, np.float64] and as_frame.columns.tolist() == ["b", "a"]
    mixed = Signature(inputs=(ColumnSpec(name="b", type="double"), ColumnSpec(name="a", type="long")))
    kept = SignatureChecker(mixed, arrays=True).validate(frame)  # two dtypes: a DataFrame keeps both
    assert isinstance(kept, pd.DataFrame) and kept.dtypes.tolist() == [np.float64, np.int64]


def test_the_checker_keeps_an_arrays_plan_and_answers_it_as_the_first_time() -> None:
    sig = Signature(inputs=(ColumnSpec(name="m", type="long"), ColumnSpec(name="n", type="long")))
    for arrays in (True, False):
        checker = SignatureChecker(sig, arrays=arrays)
        with pytest.raises(InvalidInput) as refused:  # floats for long columns: refused, and not kept
            checker.validate(np.array([[0.5, 1.5]]))
        assert refused.value.field == "m"
        ints = np.array([[1, 2], [3, 4]], dtype=np.int32)  # widened to the signature's int64
        first, again = checker.validate(ints), checker.validate(ints)  # again: from the kept plan
        for out in (first, again):
            assert isinstance(out, np.ndarray if arrays else pd.DataFrame)
        if arrays:
            assert again.tolist() == first.tolist() == ints.tolist() and again.dtype == np.int64
        else:
            pd.testing.assert_frame_equal(again, first)
        with pytest.raises(InvalidInput, match="2-D array of 2 columns"):  # another width: not the kept plan
            checker.validate(np.array([[1, 2, 3]]))
        with pytest.raises(InvalidInput):
            checker.validate(np.array([[0.5, 1.5]]))  # still refused after the ints' plan was kept
