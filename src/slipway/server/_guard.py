"""What the server checks between knowing who calls and reading what they send.

The order is: authenticate (:mod:`slipway.server._identity`), then check what the route needs,
then read the body. A viewer's 60 MB batch is refused before a byte of it is read, not after the
server parsed it into gigabytes of Python objects.

Each route declares the permission it needs, the least one when the rest depends on the body (the
service checks that part), in one of two ways:

- ``dependencies=[needs(Permission.WRITE)]`` on the route (``needs(None)``: any signed-in caller;
  ``needs(OPEN)``: no token needed);
- its endpoint function carrying ``__slipway_permission__`` (what
  :func:`slipway.security.requires` puts on a service method), for routes generated from them.

:class:`RouteIndex` finds a request's route (the first whose path and method match, as the router
will) and what it declares; :class:`RouteGuardMiddleware` then

1. refuses a change authenticated by the web UI's cookie that lacks the CSRF token (the
   ``X-CSRF-Token`` header equal to the ``slipway_csrf`` cookie; UI form routes check their form
   field themselves, see :mod:`slipway.server.ui._csrf`);
2. refuses a caller without the route's permission (403);
3. refuses a JSON body nested deeper than :data:`slipway._limits.MAX_JSON_DEPTH` (400), before it
   is parsed, for routes whose body FastAPI parses (the MLflow and inference routes check it where
   they parse).

Refusals answer in the route's own error shape: a route class with a ``refusal(request, error)``
static method (the MLflow API's, the web UI's) renders its own.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import fastapi.routing
from fastapi import Depends, params
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request, cookie_parser
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway._limits import MAX_JSON_DEPTH, json_too_deep
from slipway._origins import SAFE_METHODS
from slipway.errors import InvalidInput, PayloadTooLarge, PermissionDenied, SlipwayError
from slipway.security import PERMISSION_ATTRIBUTE, Permission, require
from slipway.server._errors import slipway_error_response

CSRF_HEADER = "x-csrf-token"
CSRF_COOKIE = "slipway_csrf"  # set by the web UI's pages (slipway.server.ui._csrf)
CREDENTIALS_KEY = "slipway.credentials"  # in the ASGI scope: "bearer", "cookie" or "none", set by identity
RAW_MEDIA_TYPE = "application/octet-stream"
CSRF_FORM_ATTRIBUTE = "__slipway_csrf_form__"  # on a dependency that checks the CSRF token of a form


class _Open:
    """The permission of a route anyone may call without a token (health, login, signed webhooks)."""

    def __repr__(self) -> str:
        return "OPEN"


OPEN = _Open()
Needed = Permission | None | _Open
_UNDECLARED = object()


@functools.cache
def needs(permission: Needed) -> params.Depends:
    """A route dependency declaring what the route needs; the guard checks it before the body is read.

    The dependency checks it again when FastAPI solves it, so a route is guarded even where the
    middleware is absent (an app built without :func:`slipway.server.create_app`).

    Example:
        >>> @router.post("/runs/{run_id}/batch", dependencies=[needs(Permission.WRITE)])
        ... def log_batch(run_id: str, body: LogBatch) -> None: ...
    """

    async def check() -> None:
        if isinstance(permission, Permission):
            require(permission)

    setattr(check, PERMISSION_ATTRIBUTE, permission)
    return Depends(check)


@dataclass(frozen=True)
class RoutePolicy:
    """What one route declares, as the guard and the body limit read it."""

    path: str
    permission: Any  # a Needed, or _UNDECLARED
    upload: bool = False  # its raw body is streamed to disk (max_upload_bytes applies)
    form_csrf: bool = False  # it checks a form's CSRF field itself
    parsed_json: bool = False  # FastAPI parses its body as JSON before the route runs
    refusal: Callable[[Request, SlipwayError], Response] | None = None

    @property
    def declared(self) -> bool:
        return self.permission is not _UNDECLARED

    def refuse(self, scope: Scope, error: SlipwayError) -> Response:
        if self.refusal is not None:
            return self.refusal(Request(scope), error)
        return slipway_error_response(error)


_NO_ROUTE = RoutePolicy(path="", permission=_UNDECLARED)


@dataclass(frozen=True)
class _Entry:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    policy: RoutePolicy


def _contexts(routes: Sequence[BaseRoute]) -> Iterable[Any]:
    """The app's routes, included routers unfolded (FastAPI's ``iter_route_contexts`` where it has one)."""
    iterate: Callable[[Sequence[BaseRoute]], Iterable[Any]] | None = getattr(
        fastapi.routing, "iter_route_contexts", None
    )
    return iterate(routes) if iterate is not None else routes


def _declared(context: Any) -> Any:
    endpoint = getattr(context, "endpoint", None)
    found = getattr(endpoint, PERMISSION_ATTRIBUTE, _UNDECLARED)
    if found is not _UNDECLARED:
        return found
    for dependency in getattr(context, "dependencies", None) or ():
        found = getattr(getattr(dependency, "dependency", None), PERMISSION_ATTRIBUTE, _UNDECLARED)
        if found is not _UNDECLARED:
            return found
    return _UNDECLARED


def _policy(context: Any, path: str) -> RoutePolicy:
    original = getattr(context, "original_route", context)
    extra = getattr(context, "openapi_extra", None) or {}
    dependencies = getattr(context, "dependencies", None) or ()
    return RoutePolicy(
        path=path,
        permission=_declared(context),
        upload=RAW_MEDIA_TYPE in extra.get("requestBody", {}).get("content", {}),
        form_csrf=any(getattr(getattr(d, "dependency", None), CSRF_FORM_ATTRIBUTE, False) for d in dependencies),
        parsed_json=getattr(context, "body_field", None) is not None,
        refusal=getattr(original, "refusal", None),
    )


def _entries(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[_Entry]:
    for context in _contexts(routes):
        original = getattr(context, "original_route", context)
        if isinstance(original, Mount):
            yield from _entries(original.routes, prefix + str(original.path))
            continue
        pattern = getattr(context, "path_regex", None)
        if pattern is None:
            continue
        if prefix:
            pattern = re.compile("^" + re.escape(prefix) + pattern.pattern.removeprefix("^"))
        path = prefix + str(getattr(context, "path_format", None) or getattr(context, "path", ""))
        methods = frozenset(getattr(context, "methods", None) or ())
        yield _Entry(methods, pattern, _policy(context, path))


class RouteIndex:
    """Each request's route and what it declares, read from the app's routes at the first request.

    Matching mirrors the router: routes in order, the first whose path and method both match.
    Answers are cached per (method, path), so a hot path (MLflow's one-metric-per-call logging)
    pays for one dictionary lookup.
    """

    def __init__(self) -> None:
        self._entries: list[_Entry] | None = None
        self._find = functools.lru_cache(maxsize=4096)(self._search)

    def policies(self, routes: Sequence[BaseRoute]) -> list[tuple[frozenset[str], RoutePolicy]]:
        """Every route's methods and policy, in the router's order (for tests and docs)."""
        return [(entry.methods, entry.policy) for entry in self._load(routes)]

    def _load(self, routes: Sequence[BaseRoute]) -> list[_Entry]:
        if self._entries is None:
            self._entries = list(_entries(routes))
        return self._entries

    def lookup(self, scope: Scope) -> RoutePolicy:
        """The policy of the route that will serve ``scope`` (an undeclared one if none will)."""
        self._load(scope["app"].routes)
        found: RoutePolicy = self._find(scope["method"], scope["path"])
        return found

    def _search(self, method: str, path: str) -> RoutePolicy:
        assert self._entries is not None
        for entry in self._entries:
            if method in entry.methods and entry.pattern.match(path):
                return entry.policy
        return _NO_ROUTE


def _csrf_token_matches(headers: Headers) -> bool:
    sent = headers.get(CSRF_HEADER)
    cookie = cookie_parser(headers.get("cookie", "")).get(CSRF_COOKIE)
    return bool(sent and cookie) and secrets.compare_digest(str(sent), str(cookie))


def _is_form(headers: Headers) -> bool:
    kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return kind in ("application/x-www-form-urlencoded", "multipart/form-data")


class RouteGuardMiddleware:
    """Check the CSRF token, the route's permission and the JSON depth, in that order, before the body is read.

    Runs inside :class:`~slipway.server._identity.IdentityMiddleware`, which sets who acts and how
    they proved it.

    Args:
        app: the application to guard.
        index: the app's route index (shared with the body limit).
    """

    def __init__(self, app: ASGIApp, *, index: RouteIndex) -> None:
        self.app = app
        self.index = index

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.index.lookup(scope)
        headers = Headers(scope=scope)
        try:
            if (scope["method"] not in SAFE_METHODS and scope.get(CREDENTIALS_KEY) == "cookie"
                    and not (policy.form_csrf and _is_form(headers)) and not _csrf_token_matches(headers)):
                raise PermissionDenied(
                    "a change made with the web UI's login cookie needs the CSRF token: send the "
                    f"{CSRF_HEADER} header with the value of the {CSRF_COOKIE} cookie", field=CSRF_HEADER)
            if isinstance(policy.permission, Permission):
                require(policy.permission, f"call {scope['method']} {policy.path}")
            if policy.parsed_json and scope["method"] not in SAFE_METHODS and not _is_form(headers):
                receive = await self._checked_json(scope, receive, policy)
        except SlipwayError as exc:
            await policy.refuse(scope, exc)(scope, receive, send)
            return
        except ClientDisconnect:
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _checked_json(scope: Scope, receive: Receive, policy: RoutePolicy) -> Receive:
        """Read the body (within the body limit), refuse it if too deeply nested, and hand it on unread."""
        chunks = []
        while True:
            try:
                message = await receive()
            except HTTPException as exc:  # the body limit cut it off
                raise PayloadTooLarge(str(exc.detail), field="body") from None
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if json_too_deep(body, MAX_JSON_DEPTH):
            raise InvalidInput(f"the request body nests JSON more than {MAX_JSON_DEPTH} levels deep", field="body")
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay
