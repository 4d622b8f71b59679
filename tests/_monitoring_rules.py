"""Custom monitoring rules for the tests, importable by name (``_monitoring_rules:...``)."""

from collections.abc import Iterator

from slipway.monitoring import Baseline, Violation
from slipway.statistics import DatasetStatistics


def rows_halved(current: DatasetStatistics, baseline: Baseline) -> Iterator[Violation]:
    """Fewer than half the baseline's rows: the feed is probably broken upstream."""
    if current.item_count < baseline.statistics.item_count / 2:
        yield Violation("*", "custom_row_count_check",
                        f"{current.item_count} rows, under half the baseline's {baseline.statistics.item_count}")


def not_violations(current: DatasetStatistics, baseline: Baseline) -> list[str]:
    return ["not a violation"]
