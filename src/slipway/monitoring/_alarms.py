"""Alarm rules: the state a threshold gives over the last N evaluations, and webhook delivery.

An alarm reads one metric of its monitor's latest executions (newest first). Its state only
depends on those values, so it is recomputed after every execution and an event is published
only when it changes: subscribers hear of each transition once, not of every evaluation.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from slipway._urls import UrlPolicy, post_json
from slipway.errors import InvalidInput, SlipwayError
from slipway.monitoring._records import AlarmState

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}
WEBHOOK_TIMEOUT = 5.0

_log = logging.getLogger(__name__)


def alarm_state(
    values: Sequence[float | None], comparison: str, threshold: float, periods: int, datapoints: int
) -> tuple[AlarmState, str]:
    """The state and its reason, from the metric's values in the latest executions, newest first.

    ``None`` is an execution that did not produce the metric; fewer than ``periods`` values in
    all is not enough to judge.
    """
    recent = [v for v in values[:periods] if v is not None]
    if len(recent) < periods:
        return AlarmState.INSUFFICIENT_DATA, f"{len(recent)} of {periods} evaluation periods have the metric"
    crossed = sum(COMPARISONS[comparison](value, threshold) for value in recent)
    shown = ", ".join(f"{v:.4g}" for v in recent)
    if crossed >= datapoints:
        return AlarmState.ALARM, f"{crossed} of the last {periods} values [{shown}] are {comparison} {threshold:g}"
    return AlarmState.OK, f"{crossed} of the last {periods} values [{shown}] are {comparison} {threshold:g}"


def check_rule(
    comparison: str, periods: int, datapoints: int, webhooks: Sequence[str], urls: UrlPolicy
) -> None:
    """Refuse a rule that cannot be evaluated, naming the field at fault.

    Raises:
        InvalidInput: for an unknown comparison, non-positive periods, more datapoints than
            periods, or a webhook that is not an http(s) URL or targets a host ``urls`` refuses.
    """
    if comparison not in COMPARISONS:
        raise InvalidInput(f"comparison must be one of {', '.join(COMPARISONS)}, not {comparison!r}",
                           field="comparison")
    if periods < 1:
        raise InvalidInput("evaluation_periods must be at least 1", field="evaluation_periods")
    if not 1 <= datapoints <= periods:
        raise InvalidInput(f"datapoints_to_alarm must be between 1 and {periods}", field="datapoints_to_alarm")
    for url in webhooks:
        urls.check_webhook(url, field="webhooks")


def post_webhooks(urls: Sequence[str], payload: dict[str, Any], policy: UrlPolicy) -> list[str]:
    """POST ``payload`` as JSON to each URL ``policy`` allows; returns the failures, in words, and never raises.

    A receiver that is down must not undo the alarm's transition, which is already committed
    and published as an event: failures are logged and returned for the caller to show. Each
    URL is checked again as it is sent (its host is resolved now), and redirects are not followed.
    """
    failures = []
    for url in urls:
        try:
            post_json(policy, url, payload, timeout=WEBHOOK_TIMEOUT)
        except (httpx.HTTPError, SlipwayError) as exc:
            _log.warning("alarm webhook %s failed: %s", url, exc)
            failures.append(f"{url}: {exc}")
    return failures
