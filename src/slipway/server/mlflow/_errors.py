"""MLflow's error shape, ``{"error_code", "message"}``, with the HTTP status MLflow gives each code.

Slipway's errors map onto MLflow's codes so the MLflow client raises its usual
``MlflowException`` (``RestException``) with the code it would get from MLflow's server. No code
the client retries (500, 503 and 429) is used for an error that retrying cannot fix.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from slipway._limits import check_json_depth
from slipway.errors import (
    AlreadyExists,
    Conflict,
    InsufficientStorage,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ServiceUnavailable,
    SlipwayError,
    Unauthenticated,
)

INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
NOT_IMPLEMENTED = "NOT_IMPLEMENTED"

# (code, status) per Slipway error class, most specific first. A Conflict (a param that would
# change, a deleted run) is what MLflow's server reports as an invalid parameter value.
_CODES: list[tuple[type[SlipwayError], str, int]] = [
    (AlreadyExists, RESOURCE_ALREADY_EXISTS, 400),
    (InvalidInput, INVALID_PARAMETER_VALUE, 400),
    (NotFound, RESOURCE_DOES_NOT_EXIST, 404),
    (Conflict, INVALID_PARAMETER_VALUE, 400),
    (Unauthenticated, "UNAUTHENTICATED", 401),
    (PermissionDenied, "PERMISSION_DENIED", 403),
    (PayloadTooLarge, "BAD_REQUEST", 413),
    (ServiceUnavailable, "TEMPORARILY_UNAVAILABLE", 503),
    (InsufficientStorage, "RESOURCE_EXHAUSTED", 507),
]


class MlflowApiError(Exception):
    """An error with an MLflow code of its own, for cases no Slipway error describes (unsupported calls)."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def not_implemented(what: str) -> MlflowApiError:
    return MlflowApiError(NOT_IMPLEMENTED, f"{what} is not supported by Slipway's MLflow-compatible API", 501)


def mlflow_error(code: str, message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error_code": code, "message": message}, status_code=status, headers=headers)


def error_for(exc: Exception) -> JSONResponse | None:
    """The MLflow error answer for ``exc``, or None if it is not an expected failure."""
    if isinstance(exc, MlflowApiError):
        return mlflow_error(exc.code, exc.message, exc.status)
    if isinstance(exc, SlipwayError):
        for cls, code, status in _CODES:
            if isinstance(exc, cls):
                return mlflow_error(code, exc.message, status, headers=exc.http_headers())
        return None
    if isinstance(exc, RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return mlflow_error(INVALID_PARAMETER_VALUE, f"{field}: {first.get('msg', 'invalid')}", 400)
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        return mlflow_error("BAD_REQUEST" if exc.status_code != 404 else ENDPOINT_NOT_FOUND, str(exc.detail),
                            exc.status_code)
    return None


class MlflowRoute(APIRoute):
    """A route whose expected failures answer in MLflow's error shape instead of Slipway's."""

    @staticmethod
    def refusal(request: Request, exc: SlipwayError) -> Response:
        """MLflow's answer to a refusal made before the route runs (a permission, a CSRF token)."""
        return error_for(exc) or mlflow_error(exc.code, exc.message, exc.http_status)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                answer = error_for(exc)
                if answer is None:
                    raise
                return answer

        return handle


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (``{}`` for an empty body).

    Raises:
        InvalidInput: if the body is not a JSON object, or nests deeper than ``MAX_JSON_DEPTH``.
    """
    raw = await request.body()
    if not raw.strip():
        return {}
    check_json_depth(raw)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"the request body is not valid JSON: {exc}", field="body") from None
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object", field="body")
    return body
