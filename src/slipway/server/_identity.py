"""Who makes each request: the one place where the server decides the acting principal.

A request carries an API token as ``Authorization: Bearer <token>`` or, from the web UI, in the
HttpOnly cookie ``slipway_token``. The token becomes ``Principal(user, roles, source=<client
address>)`` for the whole request; services read it through
:func:`slipway._principal.current_principal` and check permissions themselves, so this middleware
decides only *who*, never *what*. Without a valid token a request is refused with 401, except on
the few open paths (health, the login page, static files, the API description).

``auth=False`` (``slipway server --no-auth``, loopback only) runs every request as the admin
``anonymous``: for development on one's own machine.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from slipway._config import Settings
from slipway._principal import ROLES, Principal, acting_as
from slipway.errors import Unauthenticated
from slipway.registry import ApprovalPolicy
from slipway.security import authenticate
from slipway.server._errors import error_response
from slipway.server._guard import CREDENTIALS_KEY
from slipway.store import Database

ANONYMOUS = "anonymous"
TOKEN_COOKIE = "slipway_token"
# Paths anyone may reach: liveness, the login page, the UI's static files and the API's description;
# logging out too, so a browser whose session already ended can still forget its cookie.
# The Open Inference Protocol's health and server metadata too: probes carry no token.
OPEN_PATHS = frozenset({"/health", "/login", "/logout", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc",
                        "/v2", "/v2/health/live", "/v2/health/ready"})
OPEN_PREFIXES = ("/static/", "/hooks/")  # incoming webhooks prove themselves by HMAC signature
# Acts on an open path without a token: holds no role, so any service call it reaches is refused.
NOBODY_ROLES: frozenset[str] = frozenset()


def request_credentials(headers: Headers) -> tuple[str | None, str]:
    """(token, how it came): ``"bearer"`` from the header, ``"cookie"`` from the UI's cookie, else ``"none"``."""
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip(), "bearer"
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except CookieError:  # a malformed cookie header is the same as none
        return None, "none"
    morsel = cookie.get(TOKEN_COOKIE)
    return (morsel.value, "cookie") if morsel is not None and morsel.value else (None, "none")


def _is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def _wants_page(scope: Scope, headers: Headers) -> bool:
    """A browser asking for a UI page (not the API): better sent to the login page than shown JSON."""
    path: str = scope["path"]
    return scope["method"] == "GET" and not path.startswith("/api/") and "text/html" in headers.get("accept", "")


class IdentityMiddleware:
    """Run each HTTP request as the principal its token stands for, or refuse it with 401.

    A plain ASGI middleware rather than a dependency: the context variable is set around the whole
    request, so sync routes (copied into the threadpool) and streamed bodies all see it.

    Args:
        app: the application to wrap.
        db: the metadata database holding users and tokens.
        auth: False runs every request as the admin ``anonymous`` (``--no-auth``).
    """

    def __init__(self, app: ASGIApp, db: Database, auth: bool = True) -> None:
        self.app = app
        self.db = db
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        source = client[0] if client else "unknown"
        if not self.auth:
            scope[CREDENTIALS_KEY] = "none"
            with acting_as(Principal(ANONYMOUS, frozenset(ROLES), source=source)):
                await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        token, scope[CREDENTIALS_KEY] = request_credentials(headers)
        try:
            if token is None:
                raise Unauthenticated("this server needs an API token: send 'Authorization: Bearer <token>'")
            principal = await run_in_threadpool(authenticate, self.db, token, source)
        except Unauthenticated as exc:
            if _is_open(scope["path"]):
                principal = Principal(ANONYMOUS, NOBODY_ROLES, source=source)
                scope[CREDENTIALS_KEY] = "none"
            elif _wants_page(scope, headers):
                await RedirectResponse(f"/login?next={quote(scope['path'])}", status_code=303)(scope, receive, send)
                return
            else:
                challenge = 'Bearer realm="slipway"' + ("" if token is None else ', error="invalid_token"')
                response = error_response(401, exc.code, exc.message, headers={"WWW-Authenticate": challenge})
                await response(scope, receive, send)
                return
        with acting_as(principal):
            await self.app(scope, receive, send)


def server_approval_policy(settings: Settings) -> ApprovalPolicy:
    """A server's approval rules: approvers approve and move protected aliases (``prod``...); separation
    of duties unless turned off."""
    return ApprovalPolicy(
        require_approver_role=True,
        forbid_self_approval=settings.separation_of_duties,
        protected_aliases=frozenset(settings.protected_aliases),
    )
