"""Cron expressions in UTC, and what a scheduler does with occurrences it missed.

Expressions are the five fields of Vixie cron (minute hour day-of-month month day-of-week, with
``*``, lists, ranges, steps, names, ``L`` and ``#``), parsed by cronsim, a small, dependency-free
and maintained implementation. All times are UTC: a schedule that fires "at 02:00" fires at
02:00 UTC whatever the server's time zone.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from cronsim import CronSim, CronSimError

from slipway._time import datetime_to_ms, ms_to_datetime
from slipway.errors import InvalidInput

# How late an occurrence may be fired and still count as on time: the scheduler polls every few
# seconds, so a few seconds of delay is normal and a minute of it is downtime.
ON_TIME_GRACE_MS = 60_000


class MissedRuns(StrEnum):
    """What a schedule does with occurrences that passed while no scheduler was running.

    ``skip`` drops them and waits for the next occurrence; ``catch_up_one`` fires once, at once,
    for all of them together (a retraining missed over a weekend runs once on Monday, not 3 times).
    """

    SKIP = "skip"
    CATCH_UP_ONE = "catch_up_one"


def check_cron(expression: str) -> str:
    """Return ``expression`` normalised (single spaces), or raise naming what is wrong.

    Raises:
        InvalidInput: (``field="cron"``) for anything but five valid cron fields.
    """
    normalised = " ".join(str(expression).split())
    if len(normalised.split(" ")) != 5:
        raise InvalidInput(
            f"cron expression {expression!r} must have 5 fields (minute hour day-of-month month day-of-week), "
            "e.g. '0 2 * * *' for 02:00 UTC every day",
            field="cron",
        )
    try:
        CronSim(normalised, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    except CronSimError as exc:
        raise InvalidInput(f"invalid cron expression {expression!r}: {exc}", field="cron") from None
    return normalised


def next_after(expression: str, after_ms: int) -> int:
    """The first occurrence of ``expression`` strictly after ``after_ms`` (epoch milliseconds, UTC)."""
    return datetime_to_ms(next(CronSim(expression, ms_to_datetime(after_ms))), "cron")


def plan_fire(expression: str, due_ms: int, now_ms: int, missed: MissedRuns) -> tuple[bool, int]:
    """Whether the occurrence due at ``due_ms`` fires now, and the next occurrence to wait for.

    An occurrence processed within :data:`ON_TIME_GRACE_MS` of its time is on time and fires. A
    later one was missed (the scheduler was down): under ``skip`` it does not fire; under
    ``catch_up_one`` it fires once for every occurrence missed since. Either way the next
    occurrence is the first one after ``now_ms``, so a long downtime never fires a burst.
    """
    following = next_after(expression, max(due_ms, now_ms))
    on_time = now_ms - due_ms <= ON_TIME_GRACE_MS
    return on_time or missed is MissedRuns.CATCH_UP_ONE, following
