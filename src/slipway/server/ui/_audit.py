"""The audit log page: who changed what, when and from where, newest first, with the chain's check.

Entries come from :meth:`~slipway.security.SecurityService.audit_entries`, the call behind
``slipway audit list``; it needs the audit permission (admins, and approvers who answer for what
they approve), so anyone else gets the service's 403 page. ``?verify=1`` also walks the hash chain
as ``slipway audit verify`` does and says whether every link holds.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse

from slipway.errors import InvalidInput
from slipway.server._operations import backend_of
from slipway.server.ui._render import UIRoute, render

router = APIRouter(route_class=UIRoute)

LIMITS = (100, 500, 2000)


def _day(value: str, field: str) -> dt.datetime | None:
    """A ``YYYY-MM-DD`` from a date input as midnight UTC; empty is no bound."""
    if not value:
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    except ValueError:
        raise InvalidInput(f"{field} must be a date like 2026-01-31", field=field) from None


@router.get("/audit")
def audit_page(
    request: Request,
    user: Annotated[str, Query(max_length=256)] = "",
    object_id: Annotated[str, Query(max_length=256)] = "",
    since: Annotated[str, Query(max_length=10, description="first day, YYYY-MM-DD (UTC)")] = "",
    until: Annotated[str, Query(max_length=10, description="last day, YYYY-MM-DD (UTC), included")] = "",
    limit: int = LIMITS[0],
    verify: bool = False,
) -> HTMLResponse:
    if limit not in LIMITS:
        raise InvalidInput(f"limit must be one of {', '.join(map(str, LIMITS))}", field="limit")
    last_day = _day(until, "until")
    backend = backend_of(request)
    entries = backend.security.audit_entries(
        user=user.strip() or None, object_id=object_id.strip() or None, since=_day(since, "since"),
        until=last_day + dt.timedelta(days=1) if last_day else None, limit=limit,
    )
    check = backend.security.verify_audit() if verify else None
    return render(request, "audit.html", title="Audit log", entries=list(reversed(entries)), check=check,
                  user=user, object_id=object_id, since=since, until=until, limit=limit, limits=LIMITS)
