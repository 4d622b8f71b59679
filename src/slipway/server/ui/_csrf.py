"""Cross-site request forgery protection for the UI's forms: the double-submit cookie.

Every page rendered by :func:`slipway.server.ui._render.render` makes sure the browser holds a random
``slipway_csrf`` cookie (SameSite=Strict, HttpOnly) and writes the same value into a hidden
``csrf_token`` field of its forms. A form post is accepted only when the field equals the cookie: another
site can make a browser send the cookie, but cannot read it to put it in the form.
"""

from __future__ import annotations

import secrets

from fastapi import Request
from starlette.responses import Response

from slipway.errors import PermissionDenied
from slipway.server._guard import CSRF_COOKIE, CSRF_FORM_ATTRIBUTE

CSRF_FIELD = "csrf_token"
_TOKEN_BYTES = 24


def csrf_token_for(request: Request) -> str:
    """The request's CSRF token: the cookie's when it has one, else a new one (set by :func:`set_csrf_cookie`).

    Kept on ``request.state`` so every form of one page carries the same token.
    """
    token = getattr(request.state, "csrf_token", None)
    if token is None:
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(_TOKEN_BYTES)
        request.state.csrf_token = token
    return str(token)


def set_csrf_cookie(request: Request, response: Response) -> None:
    """Give the browser the page's token as a cookie, unless it already holds that very token."""
    token = getattr(request.state, "csrf_token", None)
    if token is not None and request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/")


async def verify_csrf(request: Request) -> None:
    """FastAPI dependency for every UI form post: the form's ``csrf_token`` must equal the cookie.

    Raises:
        PermissionDenied: the field or the cookie is missing, or they differ (a forged or stale form).
    """
    form = await request.form()  # Starlette keeps the parsed form: the route reads it again for free
    sent = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE)
    if not isinstance(sent, str) or not cookie or not secrets.compare_digest(sent, cookie):
        raise PermissionDenied(
            "the form's CSRF token is missing or does not match this browser's; reload the page and try again",
            field=CSRF_FIELD,
        )


# The server's route guard leaves the CSRF check of a form post to this dependency (it reads the form).
setattr(verify_csrf, CSRF_FORM_ATTRIBUTE, True)
