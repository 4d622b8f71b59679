"""One JSON error shape for every failure: ``{"error": {"code", "message", "field"}}``.

The remote client rebuilds the exception class from ``code`` (see :func:`slipway.errors.error_from_dict`),
so a caller catches the same :class:`~slipway.errors.SlipwayError` subclasses in remote mode as in
embedded mode. Bad input of any kind is a 4xx; only a fault of ours is a 500, and its body never
carries internals (the ``slipway.server`` logger gets the traceback).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.errors import InvalidInput, SlipwayError, storage_error

# Codes of the errors raised by the HTTP layer itself (no route, wrong method, unreadable body).
_HTTP_CODES = {
    400: "INVALID_INPUT",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}
logger = logging.getLogger("slipway.server")
_LOCATIONS = ("body", "query", "path", "header", "cookie")


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None
    details: Any = None


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


# For the OpenAPI spec: what a route may answer besides success (replaces FastAPI's own 422 shape).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "invalid input (the field is named) or malformed JSON"},
    404: {"model": ErrorBody, "description": "no such object"},
    409: {"model": ErrorBody, "description": "already exists, or the object's state forbids the change"},
    422: {"model": ErrorBody, "description": "the request does not have the documented shape"},
}


def error_response(status: int, code: str, message: str, *, field: str | None = None,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def slipway_error_response(exc: SlipwayError) -> JSONResponse:
    """The JSON answer of a Slipway error: its status, body and headers (``Retry-After`` of a 503)."""
    return JSONResponse(exc.to_dict(), status_code=exc.http_status, headers=exc.http_headers())


async def _slipway_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SlipwayError)
    return slipway_error_response(exc)


def _field(loc: Sequence[Any]) -> str:
    """``("body", "metrics", 0, "value")`` -> ``"metrics.0.value"``; the location alone if nothing follows."""
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(parts) or "body"


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    """Name the first bad field; a body that is not JSON at all is a 400, a wrong shape a 422."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first: dict[str, Any] = dict(errors[0]) if errors else {"loc": ("body",), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "not valid JSON")
        return error_response(400, InvalidInput.code, f"the request body is not valid JSON: {reason}", field="body")
    field = _field(first.get("loc", ()))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return error_response(422, InvalidInput.code, f"{field}: {first.get('msg', 'invalid')}{more}", field=field)


async def _unencodable_text(_: Request, exc: Exception) -> JSONResponse:
    """A JSON string may carry a lone surrogate (``"\\ud800"``), which no database can store."""
    return error_response(400, InvalidInput.code, "the request holds text that is not valid Unicode (a lone surrogate)")


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


class UnexpectedErrorMiddleware:
    """Answer a bug of ours with a generic 500 and log its traceback here.

    Handled here rather than by Starlette's last-resort handler, which re-raises to the server:
    uvicorn would then close the connection, and a client reusing it would see a reset instead of
    the answer. An error after the response has started cannot be answered; it is re-raised.
    Three failures that are not bugs also end here when no route handled them: a Slipway error
    raised by a middleware (a database that stayed locked while a token was looked up: 503), a
    full disk under a spool file (507), and a client that hung up mid-body (nothing to answer).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            logger.info("client left during %s %s", scope.get("method"), scope.get("path"))
        except Exception as exc:
            if started:
                raise  # the body cannot be completed: uvicorn logs it and drops the connection
            expected = storage_error(exc) or (exc if isinstance(exc, SlipwayError) else None)
            if expected is not None:
                await slipway_error_response(expected)(scope, receive, send)
                return
            logger.exception("unexpected error in %s %s", scope.get("method"), scope.get("path"))
            response = error_response(500, SlipwayError.code, "internal server error; the server log has the details")
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Map expected failures to the JSON error shape; :class:`UnexpectedErrorMiddleware` does the rest."""
    app.add_exception_handler(SlipwayError, _slipway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(UnicodeEncodeError, _unencodable_text)
