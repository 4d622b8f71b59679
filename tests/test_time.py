"""One rule for times (slipway._time): stored milliseconds <-> aware UTC datetimes, naive ones refused."""

from __future__ import annotations

import datetime as dt

import pytest

from slipway._time import check_aware, datetime_to_ms, ms_to_datetime
from slipway.errors import InvalidInput


def test_milliseconds_round_trip_exactly() -> None:
    # 1.001 s is 1000.9999999999999 ms in floating point: the conversion must not lose that millisecond.
    for ms in (0, 1, 1001, 1_700_000_000_123, -1, -86_400_001):
        assert datetime_to_ms(ms_to_datetime(ms), "t") == ms
    assert ms_to_datetime(None) is None
    assert ms_to_datetime(1_000).tzinfo is dt.UTC


def test_zones_other_than_utc_mean_the_same_moment() -> None:
    plus_two = dt.datetime(2026, 1, 1, 2, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert datetime_to_ms(plus_two, "t") == datetime_to_ms(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "t")
    assert datetime_to_ms(dt.datetime(2026, 1, 1, 0, 0, 0, 999, tzinfo=dt.UTC), "t") % 1000 == 0  # rounded down


def test_a_naive_time_is_refused_naming_the_argument() -> None:
    with pytest.raises(InvalidInput, match="time zone") as caught:
        datetime_to_ms(dt.datetime(2026, 1, 1), "since")
    assert caught.value.field == "since"
    with pytest.raises(InvalidInput, match="must be a datetime") as caught:
        check_aware("2026-01-01", "until")  # type: ignore[arg-type]
    assert caught.value.field == "until"
