"""Dataset and feature pages: versions with their schema and statistics, feature groups with schema and freshness.

Everything is read through :class:`~slipway.datasets.DatasetService` and
:class:`~slipway.features.FeatureService`. Statistics are drawn from the stored sketches (never from
rows): a histogram per numeric column, the most frequent values of a text column.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import HTMLResponse

from slipway._charts import category_bars, histogram_overlay
from slipway.server._operations import backend_of
from slipway.server.ui._render import UIRoute, render, svg
from slipway.statistics import ColumnStatistics

router = APIRouter(route_class=UIRoute)

TOP_VALUES = 10
HISTOGRAM_BINS = 20
QUANTILES = (0.25, 0.5, 0.75)


def column_chart(column: ColumnStatistics) -> Markup | None:
    """A numeric column's histogram, or a text column's most frequent values with the rest as one bar."""
    if column.numeric:
        buckets = column.histogram(HISTOGRAM_BINS)
        if not buckets:
            return None
        total = max(sum(b["count"] for b in buckets), 1e-12)
        shares = [b["count"] / total for b in buckets]
        return svg(histogram_overlay([shares], buckets[0]["lower_bound"], buckets[-1]["upper_bound"]))
    if column.frequent is None or not column.num_present:
        return None
    top = column.frequent.top(TOP_VALUES)
    if not top:
        return None
    shares = [count / column.num_present for _, count in top]
    rest = max(1.0 - sum(shares), 0.0)
    return svg(category_bars([str(v) for v, _ in top] + ["other"], [[*shares, rest]]))


def column_summary(column: ColumnStatistics) -> dict[str, Any]:
    """The numbers of a statistics row: counts, distinct estimate, moments, quartiles, top values."""
    rows = column.num_present + column.num_missing
    summary: dict[str, Any] = {
        "name": column.name,
        "type": column.inferred_type,
        "present": column.num_present,
        "missing_share": column.num_missing / rows if rows else 0.0,
        "distinct": round(column.distinct.estimate()),
        "chart": column_chart(column),
    }
    if column.numeric and column.num_present:
        summary |= {"mean": column.mean, "std": column.std_dev, "min": column.min, "max": column.max,
                    "quartiles": column.quantiles(list(QUANTILES))}
    elif column.frequent is not None:
        summary["top"] = column.frequent.top(3)
    return summary


# -------------------------------------------------------------------------------------- datasets


@router.get("/datasets")
def datasets_page(request: Request) -> HTMLResponse:
    backend = backend_of(request)
    return render(request, "data/datasets.html", title="Datasets", datasets=backend.datasets.list_datasets())


@router.get("/datasets/{name}")
def dataset_page(request: Request, name: str) -> HTMLResponse:
    service = backend_of(request).datasets
    dataset = service.get_dataset(name)
    versions = service.list_versions(name)
    return render(request, "data/dataset.html", title=f"Dataset {name}", dataset=dataset,
                  versions=list(reversed(versions)))


@router.get("/datasets/{name}/versions/{version}")
def dataset_version_page(request: Request, name: str, version: int) -> HTMLResponse:
    service = backend_of(request).datasets
    found = service.get_version(name, version)
    statistics = service.get_statistics(name, version)
    columns = [c.name for c in found.columns]
    return render(
        request,
        "data/version.html",
        title=f"{found.ref}",
        version=found,
        statistics=[column_summary(c) for c in statistics],
        item_count=statistics.item_count,
        preview_columns=columns,
        preview=[[_cell(row.get(c)) for c in columns] for row in found.preview],
        clarify_reports=backend_of(request).clarify.list_reports(dataset=found.ref),
    )


def _cell(value: Any) -> str:
    """A preview value as text: JSON for nested values, so a list reads as a list."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


@router.get("/datasets/{name}/diff")
def dataset_diff_page(request: Request, name: str, first: int, second: int) -> HTMLResponse:
    diff = backend_of(request).datasets.diff(name, first, second)
    return render(request, "data/diff.html", title=f"{name}: v{first} → v{second}", diff=diff)


# -------------------------------------------------------------------------------------- features


@router.get("/features")
def feature_groups_page(request: Request) -> HTMLResponse:
    service = backend_of(request).features
    groups = service.list_groups()
    return render(request, "data/features.html", title="Feature groups", groups=groups,
                  freshness={g.name: service.freshness(g.name) for g in groups})


@router.get("/features/{name}")
def feature_group_page(request: Request, name: str) -> HTMLResponse:
    service = backend_of(request).features
    group = service.get_group(name)
    history = service.schema_history(name)
    return render(
        request,
        "data/feature_group.html",
        title=f"Feature group {name}",
        group=group,
        freshness=service.freshness(name),
        history=[(i + 1, schema) for i, schema in enumerate(history)][::-1],
    )
