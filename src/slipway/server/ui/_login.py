"""Log in with an API token, log out: the token travels in an HttpOnly, SameSite=Strict cookie.

The server's identity middleware reads the ``slipway_token`` cookie exactly as it reads an
``Authorization: Bearer`` header, so the UI acts with the same token, roles and audit trail as the
CLI. The cookie is HttpOnly (no script on a page can read it) and SameSite=Strict (no other site can
make the browser send it).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from slipway._backend import Backend
from slipway.errors import InvalidInput, Unauthenticated
from slipway.security import authenticate
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


@router.post("/login", dependencies=[Depends(verify_csrf)])
def log_in(request: Request, token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
    """Check the token, keep it in the login cookie, and go on to the page the user came for.

    A token that is unknown, revoked or expired, or a disabled user's, is refused here with the
    reason, rather than after a redirect to a page that would only send the browser back.
    """
    token = token.strip()
    if not token or any(c.isspace() or not c.isprintable() for c in token):
        error = InvalidInput("paste the token that `slipway tokens create` printed", field="token")
        return _login_form(request, next, error, status_code=400)
    backend: Backend = request.app.state.backend
    try:
        authenticate(backend.db, token, request.client.host if request.client else "unknown")
    except Unauthenticated as exc:
        return _login_form(request, next, exc, status_code=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        TOKEN_COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
    )
    return response


@router.post("/logout", dependencies=[Depends(verify_csrf)])
def log_out() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(TOKEN_COOKIE, path="/")
    return response
