"""The UI's text filters: times, numbers, durations, short descriptions, link segments."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from slipway.server.ui._render import environment


def _filter(name: str, *args: object) -> str:
    result: str = environment().filters[name](*args)
    return result


@pytest.mark.parametrize(("value", "text"), [
    (4.21, "4.2s"), (187, "3m 07s"), (3720, "1h 02m"), (dt.timedelta(days=3, hours=4, minutes=5), "3d 04h"),
    (None, ""),
])
def test_durations_read_at_a_glance(value: object, text: str) -> None:
    assert _filter("duration", value) == text


def test_times_are_utc_to_the_second_from_datetimes_or_milliseconds() -> None:
    moment = dt.datetime(2026, 1, 31, 23, 59, 58, 999_000, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert _filter("when", moment) == "2026-01-31 21:59:58"
    assert _filter("when", 1_700_000_000_000) == "2023-11-14 22:13:20"
    assert _filter("when", None) == ""


def test_numbers_keep_five_significant_digits_and_name_nan() -> None:
    assert _filter("num", 2.0 / 3) == "0.66667"
    assert _filter("num", 1234567) == "1,234,567"
    assert _filter("num", math.nan) == "NaN"
    assert _filter("num", 0.125, 2) == "0.12"


def test_a_short_description_is_the_first_line_cut_to_fit() -> None:
    assert _filter("first_line", "  ridge regression\nmore detail") == "ridge regression"
    assert _filter("first_line", "x" * 100) == "x" * 79 + "…"
    assert _filter("first_line", None) == ""


def test_a_name_with_slashes_stays_one_path_segment() -> None:
    assert _filter("q", "a/b?c d") == "a%2Fb%3Fc%20d"


def test_templates_escape_everything_they_are_given() -> None:
    page = environment().from_string("<p>{{ text }}</p>").render(text="<script>alert(1)</script>")
    assert page == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
