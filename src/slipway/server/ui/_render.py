"""Page rendering for the web UI: the Jinja2 environment, :func:`render`, and HTML error pages.

Every page goes through :func:`render`, which autoescapes all text (a run named
``<script>alert(1)</script>`` shows literally), hands the template the acting principal and the
page's CSRF token, and sets the CSRF cookie. Routes of the UI use :class:`UIRoute`, so a domain error
(an unknown run, a refused permission) answers with an HTML page and the right status instead of the
REST API's JSON body, and a missing login sends the browser to ``/login``.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, BinaryIO
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from markupsafe import Markup
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from slipway._principal import Principal, current_principal
from slipway._redact import redact
from slipway._time import ms_to_datetime
from slipway.errors import InvalidInput, SlipwayError, Unauthenticated
from slipway.server._identity import ANONYMOUS
from slipway.server.ui._csrf import CSRF_FIELD, csrf_token_for, set_csrf_cookie

TOKEN_COOKIE = "slipway_token"

# The nav bar: (label, path). Pages of an area live under its path.
NAV = (
    ("Home", "/"),
    ("Experiments", "/experiments"),
    ("Models", "/models"),
    ("Pipelines", "/pipelines"),
    ("Endpoints", "/endpoints"),
    ("Monitoring", "/monitoring"),
    ("Datasets", "/datasets"),
    ("Features", "/features"),
    ("Lineage", "/lineage"),
)
ADMIN_NAV = (("Audit", "/audit"),)


def has_role(principal: Principal, role: str) -> bool:
    """Whether ``principal`` acts with ``role``; admins act with every role.

    The UI uses it only to hide controls a user may not use: the services check permissions anyway.
    """
    return role in principal.roles or "admin" in principal.roles


def _segment(value: object) -> str:
    """Quote a value for one path segment of a link: a name holding ``/`` or ``?`` stays one segment."""
    return quote(str(value), safe="")


def _when(value: dt.datetime | int | float | None) -> str:
    """A time in UTC to the second; ints are milliseconds since the epoch, as metrics store them."""
    if value is None:
        return ""
    if isinstance(value, int | float):
        value = ms_to_datetime(round(value))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _number(value: float | int | None, digits: int = 5) -> str:
    """A number with ``digits`` significant digits; NaN and infinities spelled out."""
    if value is None:
        return ""
    if isinstance(value, int):
        return f"{value:,}"
    if math.isnan(value):
        return "NaN"
    return f"{value:.{digits}g}"


def _duration(value: dt.timedelta | float | None) -> str:
    """``3d 04h``, ``1h 02m``, ``3m 07s`` or ``4.2s``: as precise as a person reading a table needs."""
    if value is None:
        return ""
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def _first_line(text: str | None, limit: int = 80) -> str:
    """The first line of a description, cut to ``limit`` characters: a table's short description."""
    lines = (text or "").strip().splitlines()
    first = lines[0] if lines else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


@functools.cache
def environment() -> jinja2.Environment:
    """The one Jinja2 environment of the UI (built on first use): package templates, autoescape on."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("slipway.server.ui", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt variable fails the page (and its test), not a blank cell
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(q=_segment, when=_when, num=_number, duration=_duration, first_line=_first_line)
    env.globals.update(nav=NAV, admin_nav=ADMIN_NAV, has_role=has_role, csrf_field=CSRF_FIELD)
    return env


def render(request: Request, template_name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template_name`` (under ``templates/``) into an HTML response.

    The template also sees ``request``, ``principal`` (who acts), ``csrf_token`` (for the hidden
    field of its forms), ``logged_in`` (the browser holds a login cookie), ``auth_off`` (the server
    runs with ``--no-auth``) and ``page_path``. Values that are already safe HTML (the SVG of
    :mod:`slipway._charts`) must be wrapped in :class:`markupsafe.Markup` by the caller (see
    :func:`svg`); everything else is escaped.
    """
    principal = current_principal()
    page = environment().get_template(template_name).render(
        request=request,
        principal=principal,
        csrf_token=csrf_token_for(request),
        logged_in=TOKEN_COOKIE in request.cookies,
        # Without a valid token the server runs a request to an open page as ANONYMOUS with no role;
        # with --no-auth, as ANONYMOUS with every role: then there is nothing to log in to.
        auth_off=principal.name == ANONYMOUS and bool(principal.roles),
        page_path=request.url.path,
        # The policy of every face (slipway._redact): no page shows a secret-looking param, tag,
        # pipeline parameter or audit detail; the UI has no way to ask for them revealed.
        **{name: redact(value) for name, value in context.items()},
    )
    response = HTMLResponse(page, status_code=status_code)
    set_csrf_cookie(request, response)
    return response


def svg(markup: str) -> Markup:
    """Mark SVG made by :mod:`slipway._charts` (which escapes every text it draws) as safe for a template."""
    return Markup(markup)


def error_page(request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
    """An HTML error page in the site's layout (the REST API answers the same errors in JSON)."""
    return render(request, "error.html", status_code=status_code, title=title, message=message)


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


class UIRoute(APIRoute):
    """An APIRoute whose domain errors become HTML pages: 404 for an unknown object, 403 for a refusal.

    A request without a valid login is sent to ``/login`` (and back afterwards); a malformed query
    parameter is a 400 page naming it, never a 500.
    """

    @staticmethod
    def refusal(request: Request, exc: SlipwayError) -> Response:
        """The page for a domain error: the login page for a missing login, else an error page."""
        if isinstance(exc, Unauthenticated):
            return _login_redirect(request)
        page = error_page(request, exc.http_status, _TITLES.get(exc.http_status, "Error"), exc.message)
        page.headers.update(exc.http_headers())
        return page

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SlipwayError as exc:
                return self.refusal(request, exc)
            except RequestValidationError as exc:
                errors = exc.errors()
                first = dict(errors[0]) if errors else {}
                field = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
                message = f"{field}: {first.get('msg', 'invalid value')}"
                return error_page(request, InvalidInput.http_status, "Invalid request", message)

        return handle


_TITLES = {400: "Invalid request", 403: "Not allowed", 404: "Not found", 409: "Conflict", 413: "Too large"}


def download(stream: BinaryIO, path: str, media_type: str) -> StreamingResponse:
    """A stored file as an attachment named after its last path part, read in 1 MiB chunks and closed
    at the end; nosniff, so a browser never renders what it downloads."""
    filename = quote(path.rsplit("/", 1)[-1], safe="")

    def chunks() -> Iterator[bytes]:
        with stream:
            while chunk := stream.read(1 << 20):
                yield chunk

    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{filename}", "X-Content-Type-Options": "nosniff"}
    return StreamingResponse(chunks(), media_type=media_type, headers=headers)
