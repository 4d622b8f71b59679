"""The exception tree of Slipway.

Every error a user can cause derives from :class:`SlipwayError`, so ``except SlipwayError``
catches them all. Each face maps the same class the same way::

    SlipwayError                      500 / exit 1   (something unexpected on our side)
    ├── InvalidInput                  400 / exit 2   (a field or argument is wrong; ``field`` names it)
    ├── NotFound                      404 / exit 2
    ├── AlreadyExists (Conflict)      409 / exit 2
    ├── Conflict                      409 / exit 2   (a concurrent change or a state that forbids it)
    ├── Unauthenticated               401 / exit 3
    ├── PermissionDenied              403 / exit 3
    │   └── UntrustedModel                         (loading would run code nobody vouched for)
    ├── PayloadTooLarge               413 / exit 2
    ├── ServiceUnavailable            503 / exit 4   (an engine such as PostgreSQL or the server is down)
    └── MissingExtra (ImportError)           exit 4   (an optional engine is not installed)

The remote client turns the JSON error body back into the same class, so code written against the
embedded mode catches the same exceptions in remote mode.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SlipwayError(Exception):
    """Root of every error Slipway raises on purpose."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, field: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body every face sends: ``{"error": {"code", "message", "field"}}``."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


class InvalidInput(SlipwayError):
    code = "INVALID_INPUT"
    http_status = 400
    exit_code = 2


class NotFound(SlipwayError):
    code = "NOT_FOUND"
    http_status = 404
    exit_code = 2


class Conflict(SlipwayError):
    code = "CONFLICT"
    http_status = 409
    exit_code = 2


class AlreadyExists(Conflict):
    code = "ALREADY_EXISTS"


class Unauthenticated(SlipwayError):
    code = "UNAUTHENTICATED"
    http_status = 401
    exit_code = 3


class PermissionDenied(SlipwayError):
    code = "PERMISSION_DENIED"
    http_status = 403
    exit_code = 3


class UntrustedModel(PermissionDenied):
    """Loading (or saving) a model package would need trust the caller did not give.

    ``details["untrusted"]`` lists the type names to pass as ``trusted=[...]``; it is empty when
    only ``trusted=True`` can do (a cloudpickle file cannot be checked type by type).
    """

    code = "UNTRUSTED_MODEL"


class SlipwayWarning(UserWarning):
    """Something works but may not work as expected, such as a model loaded under other versions."""


class PayloadTooLarge(SlipwayError):
    code = "PAYLOAD_TOO_LARGE"
    http_status = 413
    exit_code = 2


class ServiceUnavailable(SlipwayError):
    code = "SERVICE_UNAVAILABLE"
    http_status = 503
    exit_code = 4


class MissingExtra(SlipwayError, ImportError):
    """An optional engine is used but its extra is not installed."""

    code = "MISSING_EXTRA"
    exit_code = 4

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(
            f"{module} is not installed; install it with: pip install 'slipway[{extra}]'",
            details={"extra": extra, "module": module},
        )


_BY_CODE: dict[str, type[SlipwayError]] = {
    cls.code: cls
    for cls in (
        SlipwayError,
        InvalidInput,
        NotFound,
        Conflict,
        AlreadyExists,
        Unauthenticated,
        PermissionDenied,
        UntrustedModel,
        PayloadTooLarge,
        ServiceUnavailable,
    )
}


def error_from_dict(body: dict[str, Any], status: int) -> SlipwayError:
    """Rebuild the exception a server sent, so remote callers catch the same classes."""
    err = body.get("error", {}) if isinstance(body, dict) else {}
    code = err.get("code", "")
    cls = _BY_CODE.get(code)
    if cls is None:
        cls = next((c for c in _BY_CODE.values() if c.http_status == status and c is not SlipwayError), SlipwayError)
    return cls(err.get("message", f"server answered {status}"), field=err.get("field"), details=err.get("details"))


__all__ = [
    "AlreadyExists",
    "Conflict",
    "InvalidInput",
    "MissingExtra",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ServiceUnavailable",
    "SlipwayError",
    "SlipwayWarning",
    "Unauthenticated",
    "UntrustedModel",
    "error_from_dict",
]
