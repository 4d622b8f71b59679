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

from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from slipway.monitoring._records import Alarm, AlarmState, MonitorExecution

_DRIFT, _VIOLATIONS, _BIAS, _ATTRIBUTION = "drift.", "violations.", "bias.", "attribution."
_NDCG = "attribution.ndcg"
# name -> (help, label names)
_FAMILIES = {
    "slipway_monitor_drift_score": (
        "Drift score of a feature (its distance from the baseline) in the latest run.", ("monitor", "feature")),
    "slipway_monitor_violations": (
        "Violations of each check type (check=\"total\": all of them) in the latest run.", ("monitor", "check")),
    "slipway_monitor_quality": (
        "Model-quality metric (mae, accuracy, f1...) in the latest run.", ("monitor", "metric")),
    "slipway_monitor_bias": (
        "Post-training bias metric (DPPL, DI...) of a facet value in the latest run.", ("monitor", "facet", "metric")),
    "slipway_monitor_attribution": (
        "Global attribution (mean |SHAP|) of a feature in the latest run.", ("monitor", "feature")),
    "slipway_monitor_attribution_ndcg": (
        "nDCG of the feature ranking against the baseline's in the latest run.", ("monitor",)),
    "slipway_monitor_rows": ("Rows (or matched predictions) the latest run looked at.", ("monitor",)),
    "slipway_monitor_last_run_timestamp_seconds": (
        "When the latest run that did not fail ended.", ("monitor", "status")),
    "slipway_alarm_state": (
        "1 for the state each alarm is in (ALARM, OK or INSUFFICIENT_DATA), 0 for the others.",
        ("alarm", "monitor", "state")),
}


class _Gauges(Collector):
    """The gauges of one scrape, as prometheus_client collects them."""

    def __init__(self, executions: Iterable[MonitorExecution], alarms: Sequence[Alarm]) -> None:
        self._executions = sorted(executions, key=lambda e: e.monitor)
        self._alarms = sorted(alarms, key=lambda a: a.name)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {name: GaugeMetricFamily(name, text, labels=labels) for name, (text, labels) in _FAMILIES.items()}
        for run in self._executions:
            for key, value in sorted(run.metrics.items()):
                name, labels = _sample(run.monitor, key)
                families[name].add_metric(labels, value)
            families["slipway_monitor_rows"].add_metric([run.monitor], run.item_count)
            families["slipway_monitor_last_run_timestamp_seconds"].add_metric(
                [run.monitor, str(run.status)], run.ended_at.timestamp())
        for alarm in self._alarms:
            for state in AlarmState:
                families["slipway_alarm_state"].add_metric([alarm.name, alarm.monitor, str(state)],
                                                           int(alarm.state is state))
        yield from families.values()


def _sample(monitor: str, key: str) -> tuple[str, list[str]]:
    """The family and label values of one stored metric of a monitor's run."""
    if key.startswith(_DRIFT):
        return "slipway_monitor_drift_score", [monitor, key[len(_DRIFT):]]
    if key.startswith(_VIOLATIONS):
        return "slipway_monitor_violations", [monitor, key[len(_VIOLATIONS):]]
    if key.startswith(_BIAS):
        facet, _, metric = key[len(_BIAS):].rpartition("/")
        return "slipway_monitor_bias", [monitor, facet, metric]
    if key == _NDCG:
        return "slipway_monitor_attribution_ndcg", [monitor]
    if key.startswith(_ATTRIBUTION):
        return "slipway_monitor_attribution", [monitor, key[len(_ATTRIBUTION):]]
    return "slipway_monitor_quality", [monitor, key]


def render_monitor_metrics(executions: Iterable[MonitorExecution], alarms: Sequence[Alarm]) -> str:
    """The gauges of the latest executions (one per monitor) and of ``alarms``, as exposition text.

    Example:
        >>> print(render_monitor_metrics([], []).splitlines()[0])
        # HELP slipway_monitor_drift_score Drift score of a feature (its distance from the baseline) in the latest run.
    """
    registry = CollectorRegistry()
    registry.register(_Gauges(executions, alarms))
    return generate_latest(registry).decode()
