"""Experiment pages: the experiments, and a table of runs with filter, sortable columns and paging.

The filter is the ``runs search`` language (``metrics.rmse < 2 and params.depth = '5'``) and the
table pages through :meth:`~slipway.tracking.TrackingService.search_runs`, the same call as
``slipway runs search`` and ``POST /api/v1/runs/search``: one page of runs per request, however
many the experiment holds (``bench/ui.py`` measures it with 100,000).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse

from slipway._redact import is_secret_key
from slipway._time import datetime_to_ms
from slipway.errors import InvalidInput
from slipway.server._operations import backend_of
from slipway.server.ui._render import UIRoute, render
from slipway.tracking import Experiment, Run, TrackingService, nest_runs

router = APIRouter(route_class=UIRoute)

PAGE_SIZES = (25, 50, 100, 200)
MAX_KEY_COLUMNS = 8  # metric and param columns each, picked from the keys of the runs shown
MAX_TRAIL = 50  # earlier pages a "Previous" link can go back through
# Sortable run attributes: column label -> the search language's name.
ATTRIBUTE_SORTS = {"Name": "run_name", "Status": "status", "Started": "start_time", "User": "user"}
_PLAIN_KEY = re.compile(r"^[\w-]+$")
_CURSOR = re.compile(r"^k(\d{1,15})\.([0-9A-Za-z]{1,64})$")



@router.get("/experiments")
def experiments_page(request: Request, name: Annotated[str | None, Query(max_length=500)] = None) -> HTMLResponse:
    pattern = f"%{name}%" if name else None
    found = backend_of(request).tracking.list_experiments(name_like=pattern)
    return render(request, "experiments/list.html", title="Experiments", experiments=found, name=name or "")


@dataclass(frozen=True)
class RunTable:
    """One page of runs and everything its template needs to draw links that keep the other settings."""

    runs: list[Run]
    metric_keys: list[str]
    param_keys: list[str]
    filter: str
    order: str
    descending: bool
    size: int
    page: str | None
    trail: list[str]
    next_page: str | None

    def rows(self) -> list[tuple[Run, int]]:
        """The page's runs, each child run right under its parent (when both are on the page), with its depth."""
        return nest_runs(self.runs)

    def sort_key(self, kind: str, key: str) -> str | None:
        """The ``order`` value sorting by a metric or param column, or None when the key needs quoting."""
        if "`" in key:
            return None  # the search language cannot quote a backtick inside a backticked name
        if kind == "params" and is_secret_key(key):
            return None  # its values are hidden, and ordering by them would tell them (slipway._redact)
        return f"{kind}.{key}" if _PLAIN_KEY.match(key) else f"{kind}.`{key}`"

    def link(self, **changes: object) -> str:
        """A query string for this table with ``changes`` applied (None drops a setting)."""
        values: dict[str, object] = {
            "filter": self.filter or None, "order": self.order or None, "desc": "1" if self.descending else None,
            "size": self.size if self.size != PAGE_SIZES[1] else None, "page": self.page,
            "trail": ",".join(self.trail) or None,
        }
        values.update(changes)
        return "?" + urlencode({k: v for k, v in values.items() if v is not None})

    def sort_link(self, order: str) -> str:
        """Sort by ``order``: descending first for a new column, then toggled; back to the first page."""
        descending = not self.descending if order == self.order else order == "start_time"
        return self.link(order=order, desc="1" if descending else None, page=None, trail=None)

    def next_link(self) -> str:
        trail = [*self.trail, self.page or ""][-MAX_TRAIL:]
        return self.link(page=self.next_page, trail=",".join(trail))

    def previous_link(self) -> str | None:
        if not self.page:
            return None
        if not self.trail:
            return self.link(page=None, trail=None)
        *earlier, previous = self.trail
        return self.link(page=previous or None, trail=",".join(earlier) or None)


def _cursor_condition(page: str) -> str:
    """The filter clause for a keyset page: runs started before the cursor's run (ties broken by id).

    A cursor is ``k<start ms>.<run id>``; anything else is refused, since it goes into a filter.
    """
    found = _CURSOR.match(page)
    if found is None:
        raise InvalidInput("page is not one this table issued", field="page")
    started, run_id = found.groups()
    return (f"attributes.start_time <= {started} and "
            f"not (attributes.start_time = {started} and attributes.run_id >= '{run_id}')")


def run_cursor(run: Run) -> str:
    """The keyset page that continues after ``run``, newest first."""
    return f"k{datetime_to_ms(run.start_time, 'start_time')}.{run.id}"


def run_table(
    service: TrackingService, experiment_ids: list[str] | None, filter: str, order: str, descending: bool,
    size: int, page: str | None, trail: str | None,
) -> RunTable:
    """Search one page of runs as the table's settings say; bad settings name themselves.

    Newest first (no ``order``), pages are keyset pages: each continues below the last run shown,
    a range scan of the (experiment, start time) index however deep the page. Other orders page
    with the service's own page tokens, keyset tokens too: a deep page costs what the first does.
    """
    if size not in PAGE_SIZES:
        raise InvalidInput(f"size must be one of {', '.join(map(str, PAGE_SIZES))}", field="size")
    if order:
        found = service.search_runs(experiment_ids, filter=filter or None, max_results=size, page_token=page or None,
                                    order_by=[f"{order} {'DESC' if descending else 'ASC'}"])
        next_page = found.next_page_token
    else:
        clauses = [f"({filter})" if filter.strip() else "", _cursor_condition(page) if page else ""]
        found = service.search_runs(experiment_ids, filter=" and ".join(c for c in clauses if c) or None,
                                    max_results=size)
        next_page = run_cursor(found.runs[-1]) if found.next_page_token else None
    metric_keys = sorted({k for r in found.runs for k in r.metrics})[:MAX_KEY_COLUMNS]
    param_keys = sorted({k for r in found.runs for k in r.params})[:MAX_KEY_COLUMNS]
    return RunTable(
        runs=found.runs, metric_keys=metric_keys, param_keys=param_keys, filter=filter, order=order,
        descending=descending, size=size, page=page or None, trail=(trail.split(",") if trail else [])[-MAX_TRAIL:],
        next_page=next_page,
    )


@router.get("/experiments/{experiment_id}")
def experiment_page(
    request: Request,
    experiment_id: str,
    filter: Annotated[str, Query(max_length=4000)] = "",
    order: Annotated[str, Query(max_length=500)] = "",
    desc: bool = False,
    size: int = PAGE_SIZES[1],
    page: Annotated[str | None, Query(max_length=200)] = None,
    trail: Annotated[str | None, Query(max_length=20_000)] = None,
) -> HTMLResponse:
    service = backend_of(request).tracking
    experiment: Experiment = service.get_experiment(experiment_id)
    try:
        table = run_table(service, [experiment.id], filter, order, desc, size, page, trail)
        error = None
    except InvalidInput as exc:  # a filter with a typo: show the page with the message next to the box
        table = RunTable([], [], [], filter, order, desc, size if size in PAGE_SIZES else PAGE_SIZES[1], None, [],
                         None)
        error = exc.message
    return render(request, "experiments/runs.html", title=experiment.name, experiment=experiment, table=table,
                  error=error, page_sizes=PAGE_SIZES, attribute_sorts=ATTRIBUTE_SORTS)
