"""The exception tree of Slipway.

Every error a user can cause derives from :class:`SlipwayError`, so ``except SlipwayError``
catches them all. Each face maps the same class the same way::

    SlipwayError                      500 / exit 1   (something unexpected on our side)
    ├── InvalidInput                  400 / exit 2   (a field or argument is wrong; ``field`` names it)
    ├── NotFound                      404 / exit 2
    ├── AlreadyExists (Conflict)      409 / exit 2
    ├── Conflict                      409 / exit 2   (a concurrent change or a state that forbids it)
    │   └── ContentMismatch                          (a model version's files are not the ones approved)
    ├── Unauthenticated               401 / exit 3
    ├── PermissionDenied              403 / exit 3
    │   └── UntrustedModel                         (loading would run code nobody vouched for)
    ├── PayloadTooLarge               413 / exit 2
    ├── ServiceUnavailable            503 / exit 4   (an engine is down or stayed locked: try again later)
    ├── InsufficientStorage           507 / exit 4   (a disk or the database is full)
    └── MissingExtra (ImportError)           exit 4   (an optional engine is not installed)

The remote client turns the JSON error body back into the same class, so code written against the
embedded mode catches the same exceptions in remote mode.
"""

from __future__ import annotations

import errno
from typing import Any, ClassVar

from slipway._version import install_hint


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

    def http_headers(self) -> dict[str, str]:
        """Headers an HTTP answer of this error carries besides its body (``Retry-After`` for a 503)."""
        return {}

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


class ContentMismatch(Conflict):
    """A model version's files do not hash to what its registration and approval recorded.

    Nothing is loaded: the files were changed behind the registry's back (in the artifact store or
    the metadata database), or a download was corrupted.
    """

    code = "CONTENT_MISMATCH"


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
    """An engine is unreachable, or stayed locked or busy past the wait the settings allow.

    ``retry_after`` is the seconds a caller should wait before trying again (the HTTP answer's
    ``Retry-After``).
    """

    code = "SERVICE_UNAVAILABLE"
    http_status = 503
    exit_code = 4

    def __init__(self, message: str, *, field: str | None = None, details: Any = None, retry_after: int = 5) -> None:
        super().__init__(message, field=field, details=details)
        self.retry_after = retry_after

    def http_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class InsufficientStorage(SlipwayError):
    """A write found its disk (the artifact store's, a spool's) or the database full."""

    code = "INSUFFICIENT_STORAGE"
    http_status = 507
    exit_code = 4


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def storage_error(exc: BaseException) -> InsufficientStorage | None:
    """The :class:`InsufficientStorage` an OS error stands for (no space, over quota), else None.

    Example:
        >>> storage_error(OSError(errno.ENOSPC, "No space left on device")).http_status
        507
    """
    if isinstance(exc, InsufficientStorage):
        return exc
    if isinstance(exc, OSError) and exc.errno in _FULL:
        return InsufficientStorage(f"no space left to store this: {exc.strerror or exc}")
    return None


class MissingExtra(SlipwayError, ImportError):
    """An optional engine is used but its extra is not installed."""

    code = "MISSING_EXTRA"
    exit_code = 4

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(
            f"{module} is not installed; install it with: {install_hint(extra)}",
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
        ContentMismatch,
        Unauthenticated,
        PermissionDenied,
        UntrustedModel,
        PayloadTooLarge,
        ServiceUnavailable,
        InsufficientStorage,
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
    "ContentMismatch",
    "InsufficientStorage",
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
    "storage_error",
]
