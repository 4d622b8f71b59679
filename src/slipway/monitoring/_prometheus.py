"""Monitor metrics in the Prometheus text format, for ``GET /metrics`` of ``slipway server``.

Every execution stores its metrics (``drift.<feature>``, ``violations.<check>``,
``violations.total``, model-quality metrics such as ``mae`` or ``accuracy``, bias-drift metrics
``bias.<facet>=<value>/<METRIC>`` and attribution-drift metrics ``attribution.<feature>`` and
``attribution.ndcg``); a scrape shows
those of each monitor's latest execution that did not fail, as gauges, next to the state of every
alarm. A dashboard then charts drift and quality over time from Prometheus' own history, and
Prometheus' alerting can act on the same numbers the monitor's alarms read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from slipway.monitoring._records import Alarm, AlarmState, MonitorExecution

_DRIFT, _VIOLATIONS, _BIAS, _ATTRIBUTION = "drift.", "violations.", "bias.", "attribution."
_NDCG = "attribution.ndcg"
_FAMILIES = (
    ("slipway_monitor_drift_score", "Drift score of a feature (its distance from the baseline) in the latest run."),
    ("slipway_monitor_violations", "Violations of each check type (check=\"total\": all of them) in the latest run."),
    ("slipway_monitor_quality", "Model-quality metric (mae, accuracy, f1...) in the latest run."),
    ("slipway_monitor_bias", "Post-training bias metric (DPPL, DI...) of a facet value in the latest run."),
    ("slipway_monitor_attribution", "Global attribution (mean |SHAP|) of a feature in the latest run."),
    ("slipway_monitor_attribution_ndcg", "nDCG of the feature ranking against the baseline's in the latest run."),
    ("slipway_monitor_rows", "Rows (or matched predictions) the latest run looked at."),
    ("slipway_monitor_last_run_timestamp_seconds", "When the latest run that did not fail ended."),
    ("slipway_alarm_state", "1 for the state each alarm is in (ALARM, OK or INSUFFICIENT_DATA), 0 for the others."),
)


def render_monitor_metrics(executions: Iterable[MonitorExecution], alarms: Sequence[Alarm]) -> str:
    """The gauges of the latest executions (one per monitor) and of ``alarms``, as exposition text.

    Example:
        >>> print(render_monitor_metrics([], []).splitlines()[0])
        # HELP slipway_monitor_drift_score Drift score of a feature (its distance from the baseline) in the latest run.
    """
    samples: dict[str, list[str]] = {name: [] for name, _ in _FAMILIES}
    for run in sorted(executions, key=lambda e: e.monitor):
        monitor = _quote(run.monitor)
        for key, value in sorted(run.metrics.items()):
            if key.startswith(_DRIFT):
                line = f'slipway_monitor_drift_score{{monitor="{monitor}",feature="{_quote(key[len(_DRIFT):])}"}}'
            elif key.startswith(_VIOLATIONS):
                line = f'slipway_monitor_violations{{monitor="{monitor}",check="{_quote(key[len(_VIOLATIONS):])}"}}'
            elif key.startswith(_BIAS):
                facet, _, metric = key[len(_BIAS):].rpartition("/")
                line = f'slipway_monitor_bias{{monitor="{monitor}",facet="{_quote(facet)}",metric="{_quote(metric)}"}}'
            elif key == _NDCG:
                line = f'slipway_monitor_attribution_ndcg{{monitor="{monitor}"}}'
            elif key.startswith(_ATTRIBUTION):
                line = f'slipway_monitor_attribution{{monitor="{monitor}",feature="{_quote(key[len(_ATTRIBUTION):])}"}}'
            else:
                line = f'slipway_monitor_quality{{monitor="{monitor}",metric="{_quote(key)}"}}'
            samples[line.split("{", 1)[0]].append(f"{line} {_number(value)}")
        samples["slipway_monitor_rows"].append(f'slipway_monitor_rows{{monitor="{monitor}"}} {run.item_count}')
        samples["slipway_monitor_last_run_timestamp_seconds"].append(
            f'slipway_monitor_last_run_timestamp_seconds{{monitor="{monitor}",status="{run.status}"}} '
            f"{run.ended_at.timestamp()!r}"
        )
    for alarm in sorted(alarms, key=lambda a: a.name):
        for state in AlarmState:
            samples["slipway_alarm_state"].append(
                f'slipway_alarm_state{{alarm="{_quote(alarm.name)}",monitor="{_quote(alarm.monitor)}",'
                f'state="{state}"}} {int(alarm.state is state)}'
            )
    lines = []
    for name, help_text in _FAMILIES:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", *samples[name]]
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _quote(value: str) -> str:
    """A label value escaped as the exposition format asks: backslash, double quote, newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
