"""Who makes each request: the one place where the server decides the acting principal.

There is no authentication yet, so every request acts as ``anonymous`` from the client's address.
The security work replaces :class:`IdentityMiddleware` (tokens, roles) without touching any route:
services read the principal through :func:`slipway._principal.current_principal`.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from slipway._principal import Principal, acting_as

ANONYMOUS = "anonymous"


class IdentityMiddleware:
    """Run each HTTP request under ``acting_as(Principal("anonymous", source=<client host>))``.

    A plain ASGI middleware rather than a dependency: the context variable is set around the whole
    request, so sync routes (copied into the threadpool) and streamed bodies all see it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        source = client[0] if client else "unknown"
        with acting_as(Principal(ANONYMOUS, source=source)):
            await self.app(scope, receive, send)
