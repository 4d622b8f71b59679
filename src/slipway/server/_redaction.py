"""Every JSON answer of the server leaves with its secrets hidden: one policy, applied to every route.

Routes return records; which of them carry params, tags, pipeline parameters or audit details
changes as routes are added (and as they come to be derived from declared operations). Rather than
trust each route to remember, this middleware passes every JSON response of the REST API, the
MLflow API and the incoming hooks through :func:`slipway._redact.redact`, the same policy the CLI
and the web UI apply. An admin who adds ``reveal_secrets=true`` to the query gets the values as
they are (anyone else asking is refused by the route, or simply gets them hidden).

The cost is kept to answers that can hold a secret: a body without any of the names the policy
looks under (``"params"``, ``"tags"``, ...) is passed on untouched, and one with nothing to hide is
sent byte for byte as the route made it.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import Headers, MutableHeaders, QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway._redact import CONTAINERS, may_reveal, redact

_PREFIXES = ("/api/", "/hooks/")
_MARKERS = tuple(f'"{name}"'.encode() for name in (*CONTAINERS, "details", "before", "after"))


def _revealing(scope: Scope) -> bool:
    """An admin asked for the values themselves (the route refuses anyone else who asks)."""
    wanted = QueryParams(scope.get("query_string", b"").decode("latin-1")).get("reveal_secrets", "")
    return wanted.lower() in ("1", "true", "yes") and may_reveal()


class RedactionMiddleware:
    """Hide secret-looking values in the JSON answers under ``/api/`` and ``/hooks/``.

    Added inside the identity middleware, so it knows who asks.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(_PREFIXES) or _revealing(scope):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def hold_json(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                media = Headers(raw=message["headers"]).get("content-type", "")
                if media.split(";")[0].strip() == "application/json":
                    start = message
                    return
                await send(message)
            elif start is None:
                await send(message)
            else:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await _send_redacted(start, b"".join(chunks), send)

        await self.app(scope, receive, hold_json)


async def _send_redacted(start: Message, body: bytes, send: Send) -> None:
    if any(marker in body for marker in _MARKERS):
        body = _redacted_body(body)
        headers = MutableHeaders(raw=list(start["headers"]))
        headers["content-length"] = str(len(body))
        start = {**start, "headers": headers.raw}
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _redacted_body(body: bytes) -> bytes:
    try:
        data: Any = json.loads(body)
    except ValueError:
        return body
    hidden = redact(data)
    if hidden is data:
        return body
    # As Starlette's JSONResponse renders, so a client sees the same form either way.
    return json.dumps(hidden, ensure_ascii=False, allow_nan=True, indent=None, separators=(",", ":")).encode()
