"""When the remote client tries a call again: a blip (a restarting server, a proxy's 503) need not fail a job.

A call is retried only if repeating it cannot do twice what it does once: GET, HEAD, PUT and DELETE
requests (idempotent by HTTP's definition), and operations declared ``idempotent=True`` (a search
sent as POST). POST and PATCH are never retried otherwise: the first attempt may have reached the
server before the connection broke. A request whose body is a stream (an upload) is not retried
either, since the stream cannot be read again.

Retried are connection errors (refused, reset, closed before an answer; not a read timeout, which
would multiply a slow call's wait) and the answers 429, 502, 503 and 504. The waits grow
exponentially from ``backoff`` with full jitter, capped at ``max_backoff``; a ``Retry-After``
in seconds that asks for longer is honoured up to the same cap.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import httpx

_log = logging.getLogger("slipway.client")

IDEMPOTENT_VERBS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a remote client repeats a call that may be repeated.

    Attributes:
        retries: tries after the first (0: never retry).
        backoff: seconds before the first retry; doubled for each further one, with jitter.
        max_backoff: the longest wait between two tries, ``Retry-After`` included.
        statuses: the answers worth trying again.
    """

    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    statuses: frozenset[int] = RETRY_STATUSES

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1 for the first)."""
        ceiling = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        wait = random.uniform(ceiling / 2, ceiling)
        asked = _seconds(retry_after)
        if asked is not None:
            wait = max(wait, asked)
        return min(wait, self.max_backoff)

    def retryable_answer(self, response: httpx.Response) -> bool:
        return response.status_code in self.statuses

    @staticmethod
    def retryable_error(error: httpx.TransportError) -> bool:
        """Connection errors, not timeouts while waiting for an answer (a slow call stays one slow call)."""
        return not isinstance(error, httpx.ReadTimeout | httpx.WriteTimeout)


def is_idempotent(verb: str) -> bool:
    """Whether HTTP says a request of this verb may be repeated."""
    return verb.upper() in IDEMPOTENT_VERBS


def log_retry(verb: str, path: str, why: str, wait: float, attempt: int, retries: int) -> None:
    _log.info("%s %s: %s; trying again in %.2f s (%d of %d)", verb, path, why, wait, attempt, retries)


def _seconds(retry_after: str | None) -> float | None:
    """A ``Retry-After`` given in seconds (its date form is not worth parsing here)."""
    if not retry_after:
        return None
    try:
        seconds = float(retry_after)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
