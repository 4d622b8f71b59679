"""Log in with an API token, renew the session, log out: a session token in an HttpOnly, SameSite=Strict cookie.

Logging in trades the pasted API token for a *session* token of the same user, which expires after
the server's ``session_ttl`` (12 hours by default) unless the user renews it (the "Renew" button,
or ``POST /api/v1/session/renew``), and never later than ``session_max_age`` after login. Logging
out revokes the session on the server, so a copy of the cookie is worthless afterwards. The API
token itself never lands in the browser.

The server's identity middleware reads the ``slipway_token`` cookie exactly as it reads an
``Authorization: Bearer`` header, so the UI acts with the same user, roles and audit trail as the
CLI. The cookie is HttpOnly (no script on a page can read it) and SameSite=Strict (no other site can
make the browser send it).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from slipway._principal import acting_as, current_principal
from slipway.errors import InvalidInput, PermissionDenied, Unauthenticated
from slipway.security import authenticate
from slipway.server._guard import OPEN, needs
from slipway.server._operations import backend_of
from slipway.server.ui._csrf import verify_csrf
from slipway.server.ui._render import TOKEN_COOKIE, UIRoute, render

router = APIRouter(route_class=UIRoute)


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only, never another host (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_form(request: Request, next: str | None, error: Exception | None = None, status_code: int = 200) -> Response:
    return render(request, "login.html", status_code=status_code, title="Log in", next=_safe_next(next), error=error)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return _login_form(request, next)


@router.post("/login", dependencies=[needs(OPEN), Depends(verify_csrf)])
def log_in(request: Request, token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
    """Check the token, start a session for its user in the login cookie, and go on to the page asked for.

    A token that is unknown, revoked or expired, or a disabled user's, is refused here with the
    reason, rather than after a redirect to a page that would only send the browser back.
    """
    token = token.strip()
    if not token or any(c.isspace() or not c.isprintable() for c in token):
        error = InvalidInput("paste the token that `slipway tokens create` printed", field="token")
        return _login_form(request, next, error, status_code=400)
    backend = backend_of(request)
    try:
        principal = authenticate(backend.db, token, request.client.host if request.client else "unknown")
        with acting_as(principal):
            session = backend.security.start_session()
    except (Unauthenticated, PermissionDenied) as exc:
        return _login_form(request, next, exc, status_code=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        TOKEN_COOKIE, session.secret, httponly=True, samesite="strict", secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/session/renew", dependencies=[needs(None), Depends(verify_csrf)])
def renew(request: Request, next: Annotated[str, Form()] = "/") -> Response:
    """The page's "Renew" button: the session lasts ``session_ttl`` again from now (see the module)."""
    backend_of(request).security.renew_session()
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[needs(OPEN), Depends(verify_csrf)])
def log_out(request: Request) -> Response:
    """Revoke the session on the server, then forget the cookie (an expired session just forgets it)."""
    if current_principal().account:
        backend_of(request).security.end_session()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(TOKEN_COOKIE, path="/")
    return response
