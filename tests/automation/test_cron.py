"""Cron expressions, due times and the missed-run policies, as pure functions."""

import datetime as dt

import pytest

from slipway.automation import MissedRuns, check_cron
from slipway.automation._cron import ON_TIME_GRACE_MS, next_after, plan_fire
from slipway.errors import InvalidInput


def ms(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp() * 1000)


def test_next_occurrence_is_strictly_after_and_in_utc() -> None:
    assert next_after("0 2 * * *", ms(2026, 3, 1, 1, 59)) == ms(2026, 3, 1, 2, 0)
    assert next_after("0 2 * * *", ms(2026, 3, 1, 2, 0)) == ms(2026, 3, 2, 2, 0)
    assert next_after("*/15 * * * *", ms(2026, 3, 1, 10, 7)) == ms(2026, 3, 1, 10, 15)
    assert next_after("0 9 * * mon", ms(2026, 11, 25, 12, 0)) == ms(2026, 11, 30, 9, 0)  # a Wednesday


@pytest.mark.parametrize("bad", ["", "* * * *", "61 * * * *", "* * * * * *", "0 2 * * funday"])
def test_bad_expressions_name_the_cron_field(bad: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_cron(bad)
    assert err.value.field == "cron"


def test_expressions_are_normalised() -> None:
    assert check_cron("  0   2 * *  1 ") == "0 2 * * 1"


def test_an_occurrence_processed_on_time_fires_under_either_policy() -> None:
    due = ms(2026, 3, 1, 2, 0)
    for policy in MissedRuns:
        assert plan_fire("0 2 * * *", due, due + 3_000, policy) == (True, ms(2026, 3, 2, 2, 0))


def test_missed_occurrences_are_skipped_or_caught_up_once() -> None:
    due = ms(2026, 3, 1, 2, 0)
    back = ms(2026, 3, 4, 14, 0)  # three and a half days of downtime
    assert plan_fire("0 2 * * *", due, back, MissedRuns.SKIP) == (False, ms(2026, 3, 5, 2, 0))
    assert plan_fire("0 2 * * *", due, back, MissedRuns.CATCH_UP_ONE) == (True, ms(2026, 3, 5, 2, 0))
    late = due + ON_TIME_GRACE_MS + 1
    assert plan_fire("0 2 * * *", due, late, MissedRuns.SKIP)[0] is False
