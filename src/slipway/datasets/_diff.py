"""Two versions of a dataset side by side: which columns came, went or changed type, and how the
statistics of each column moved."""

from __future__ import annotations

import math
from typing import Any

from slipway.datasets._records import ColumnDiff, DatasetDiff, DatasetVersion
from slipway.statistics import ColumnStatistics, DatasetStatistics

TOP_VALUES = 5


def column_summary(column: ColumnStatistics) -> dict[str, Any]:
    """The few numbers of a column worth comparing, JSON-ready (no NaN, no infinities)."""
    out: dict[str, Any] = {
        "inferred_type": column.inferred_type,
        "num_present": column.num_present,
        "num_missing": column.num_missing,
        "distinct_count": round(column.distinct.estimate()),
    }
    if column.numeric:
        p50 = column.quantiles([0.5])[0] if column.num_present else None
        values = {"mean": column.mean, "std_dev": column.std_dev, "min": column.min, "max": column.max, "p50": p50}
        out.update({k: v if v is not None and math.isfinite(v) else None for k, v in values.items()})
    elif column.frequent is not None:
        out["top"] = [f"{value} ({count})" for value, count in column.frequent.top(TOP_VALUES)]
    return out


def diff_versions(
    first: DatasetVersion, second: DatasetVersion, first_stats: DatasetStatistics, second_stats: DatasetStatistics
) -> DatasetDiff:
    """Schema and statistics of ``first`` and ``second``, column by column (first's order, then new)."""
    types = [{c.name: c.type for c in v.columns} for v in (first, second)]
    columns = []
    for name in dict.fromkeys([*types[0], *types[1]]):
        pair = [t.get(name) for t in types]
        if pair[0] is None:
            change = "added"
        elif pair[1] is None:
            change = "removed"
        else:
            change = "type_changed" if pair[0] != pair[1] else "unchanged"
        sides = [column_summary(s.columns[name]) if name in s.columns else {} for s in (first_stats, second_stats)]
        keys = dict.fromkeys([*sides[0], *sides[1]])
        columns.append(ColumnDiff(name=name, change=change, types=pair,
                                  statistics={k: [side.get(k) for side in sides] for k in keys}))
    return DatasetDiff(
        dataset_name=first.dataset_name,
        versions=[first.version, second.version],
        num_rows=[first.num_rows, second.num_rows],
        same_content=first.content_hash == second.content_hash,
        columns=columns,
    )
