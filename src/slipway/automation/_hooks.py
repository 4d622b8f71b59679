"""Incoming webhook signatures: HMAC-SHA256 over a timestamp and the body, GitHub/Stripe style.

A caller sends two headers with ``POST /hooks/{name}``::

    X-Slipway-Timestamp: 1764093600                 (Unix seconds, UTC)
    X-Slipway-Signature: sha256=<hex of HMAC-SHA256(secret, "<timestamp>." + body)>

Signing the timestamp with the body means a captured request cannot be replayed later: the
server refuses timestamps more than :data:`MAX_SKEW_SECONDS` from its clock, and remembers the
signatures of the requests it accepted, so it refuses the same request twice within that window.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from slipway.errors import Unauthenticated

TIMESTAMP_HEADER = "X-Slipway-Timestamp"
SIGNATURE_HEADER = "X-Slipway-Signature"
MAX_SKEW_SECONDS = 300
_PREFIX = "sha256="


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


def verify(secret: str, body: bytes, timestamp: str | None, signed: str | None, now: float) -> None:
    """Accept a signed request or raise saying why not.

    Raises:
        Unauthenticated: for a missing header, a timestamp outside the window, or a signature
            that does not match (compared in constant time).
    """
    if not timestamp or not signed:
        missing = TIMESTAMP_HEADER if not timestamp else SIGNATURE_HEADER
        raise Unauthenticated(f"the {missing} header is missing: sign the request (see docs/automation.md)",
                              field=missing)
    try:
        at = int(timestamp)
    except ValueError:
        raise Unauthenticated(f"{TIMESTAMP_HEADER} must be Unix seconds, not {timestamp!r}",
                              field=TIMESTAMP_HEADER) from None
    if abs(now - at) > MAX_SKEW_SECONDS:
        raise Unauthenticated(
            f"{TIMESTAMP_HEADER} is {int(now - at)} s from the server's clock (at most {MAX_SKEW_SECONDS} s is "
            "accepted, so old requests cannot be replayed)",
            field=TIMESTAMP_HEADER,
        )
    if not hmac.compare_digest(signature(secret, at, body), signed.strip()):
        raise Unauthenticated("the signature does not match the body and the hook's secret", field=SIGNATURE_HEADER)
