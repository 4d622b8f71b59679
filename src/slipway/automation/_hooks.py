"""Incoming webhook signatures: HMAC-SHA256 over a timestamp and the body, GitHub/Stripe style.

A caller sends two headers with ``POST /hooks/{name}``::

    X-Slipway-Timestamp: 1764093600                 (Unix seconds, UTC)
    X-Slipway-Signature: sha256=<hex of HMAC-SHA256(secret, "<timestamp>." + body)>

Signing the timestamp with the body means a captured request cannot be replayed later: the
server refuses timestamps more than :data:`MAX_SKEW_SECONDS` from its clock, and remembers the
signatures of the requests it accepted, so it refuses the same request twice within that window.

Both headers are parsed strictly: the timestamp is ASCII digits, the signature exactly
``sha256=`` and 64 lowercase hex digits, nothing before or after (no spaces, tabs or non-breaking
spaces). A lenient parse would give one captured request many spellings, each a "new" request to
the replay check; with one spelling per request, a captured request is accepted once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from slipway.errors import Unauthenticated

TIMESTAMP_HEADER = "X-Slipway-Timestamp"
SIGNATURE_HEADER = "X-Slipway-Signature"
MAX_SKEW_SECONDS = 300
_PREFIX = "sha256="
# re.ASCII: \d would also match other scripts' digits, which int() reads as the same number.
_TIMESTAMP = re.compile(r"0|[1-9][0-9]{0,11}", re.ASCII)
_SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}", re.ASCII)


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``: ``sha256=<hex>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return _PREFIX + mac.hexdigest()


def sign_hook(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The two headers a caller sends with ``body``, signed now (or at ``timestamp``).

    Example:
        >>> import httpx
        >>> body = b'{"commit": "4f2a9c1"}'
        >>> headers = sign_hook(secret, body)
        >>> httpx.post("http://127.0.0.1:5000/hooks/on-push", content=body, headers=headers)
    """
    at = int(time.time()) if timestamp is None else int(timestamp)
    return {TIMESTAMP_HEADER: str(at), SIGNATURE_HEADER: signature(secret, at, body)}


def verify(secret: str, body: bytes, timestamp: str | None, signed: str | None, now: float) -> str:
    """Accept a signed request or raise saying why not.

    Returns:
        The signature, in its one accepted spelling: the replay check's key.

    Raises:
        Unauthenticated: for a missing or malformed header, a timestamp outside the window, or a
            signature that does not match (compared in constant time).
    """
    if not timestamp or not signed:
        missing = TIMESTAMP_HEADER if not timestamp else SIGNATURE_HEADER
        raise Unauthenticated(f"the {missing} header is missing: sign the request (see docs/automation.md)",
                              field=missing)
    if not _TIMESTAMP.fullmatch(timestamp):
        raise Unauthenticated(f"{TIMESTAMP_HEADER} must be Unix seconds, in ASCII digits and nothing else",
                              field=TIMESTAMP_HEADER)
    at = int(timestamp)
    if abs(now - at) > MAX_SKEW_SECONDS:
        raise Unauthenticated(
            f"{TIMESTAMP_HEADER} is {int(now - at)} s from the server's clock (at most {MAX_SKEW_SECONDS} s is "
            "accepted, so old requests cannot be replayed)",
            field=TIMESTAMP_HEADER,
        )
    if not _SIGNATURE.fullmatch(signed):
        raise Unauthenticated(f"{SIGNATURE_HEADER} must be exactly 'sha256=' and 64 lowercase hex digits",
                              field=SIGNATURE_HEADER)
    expected = signature(secret, at, body)
    if not hmac.compare_digest(expected.encode(), signed.encode()):
        raise Unauthenticated("the signature does not match the body and the hook's secret", field=SIGNATURE_HEADER)
    return expected
