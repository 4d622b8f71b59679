"""Request size limits: one middleware for every route, answering 413 in the API's JSON error shape.

Two limits, both settings: ``max_request_bytes`` for bodies parsed in memory (JSON, forms), and
the larger ``max_upload_bytes`` for the routes that stream a raw body to disk (artifacts, model
files, dataset and feature uploads). A declared ``Content-Length`` over the limit is refused before
a byte is read; a body sent without one (chunked) is counted as it arrives and cut off at the limit.

Upload routes are found, not listed: a route is one if it declares its request body as raw bytes
(``application/octet-stream`` in its ``openapi_extra``), as every upload route does for the spec;
the app's :class:`~slipway.server._guard.RouteIndex` tells.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.errors import InvalidInput, PayloadTooLarge
from slipway.server._errors import error_response
from slipway.server._guard import RouteIndex


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes its limit.

    An :class:`HTTPException` rather than a :class:`~slipway.errors.SlipwayError`: FastAPI turns
    any other exception raised while it reads a body into a generic 400, but re-raises these to the
    app's handler, which answers ``{"error": {"code": "PAYLOAD_TOO_LARGE", ...}}``.
    """

    def __init__(self, message: str) -> None:
        super().__init__(status_code=413, detail=message)


def _readable(count: int) -> str:
    """``65536`` -> ``"64 KiB"``: limits are read by people."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if count >= 1 << shift:
            return f"{count / (1 << shift):.4g} {unit}"
    return f"{count} bytes"


class BodyLimitMiddleware:
    """Refuse request bodies over their limit with a JSON 413 naming the limit.

    Args:
        app: the application to guard.
        max_request_bytes: the limit of any body but an upload's.
        max_upload_bytes: the limit of a body sent to an upload route.
        index: the app's route index, which tells upload routes.
    """

    def __init__(self, app: ASGIApp, *, max_request_bytes: int, max_upload_bytes: int, index: RouteIndex) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.max_upload_bytes = max_upload_bytes
        self.index = index

    def _limit(self, scope: Scope) -> tuple[int, str]:
        """The limit of a request, and the words that explain it."""
        if self.index.lookup(scope).upload:
            limit, setting, what = self.max_upload_bytes, "max_upload_bytes", "an upload"
        else:
            limit, setting, what = self.max_request_bytes, "max_request_bytes", "a request body"
        return limit, f"{what} may be at most {_readable(limit)} (server setting {setting})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, message = self._limit(scope)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isdigit():
                response = error_response(400, InvalidInput.code, f"Content-Length {declared!r} is not a number",
                                          field="content-length")
                await response(scope, receive, send)
                return
            if int(declared) > limit:
                response = error_response(413, PayloadTooLarge.code, f"{message}; this one declares {declared} bytes",
                                          field="body", headers={"Connection": "close"})
                await response(scope, receive, send)
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(message)
            return msg

        await self.app(scope, counted, send)
