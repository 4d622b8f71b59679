"""Secret redaction: params and tags whose keys look like secrets are shown as ``***``.

People log database passwords and API tokens as run params by accident; once a run is shared,
everyone who may read it would see them. Every face (REST, CLI, web UI) passes runs through
:func:`redact_run` before showing them, so only an admin who asks for it sees the real values.
The stored values are untouched: redaction is about who sees, not what is kept.

A key is secret-looking when one of its words (split at ``_ - . / : space`` and lower-to-upper
case changes) is one of :data:`SECRET_WORDS`, or ends in one of them (``apikey``, ``dbpassword``).

Example:
    >>> is_secret_key("db_password"), is_secret_key("openaiApiKey"), is_secret_key("max_tokens")
    (True, True, False)
    >>> redact_mapping({"lr": "0.1", "aws_secret_access_key": "wJalr..."})
    {'lr': '0.1', 'aws_secret_access_key': '***'}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

from slipway._principal import Principal, current_principal
from slipway.errors import PermissionDenied

REDACTED = "***"
SECRET_WORDS = frozenset({
    "password", "passwd", "pwd", "passphrase", "secret", "token", "key", "apikey", "credential", "credentials",
    "auth", "authorization", "cookie", "dsn",
})
# A secret word glued to others: "apikey", "dbpassword", "githubtoken".
_GLUED = re.compile(r"(password|passwd|passphrase|secret|token|apikey|credentials?)$")
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")

T = TypeVar("T")


def is_secret_key(key: str) -> bool:
    """Whether a param or tag named ``key`` probably holds a secret."""
    words = [w.lower() for w in _WORDS.findall(key)]
    return any(w in SECRET_WORDS or _GLUED.search(w) for w in words)


def redact_mapping(values: Mapping[str, str]) -> dict[str, str]:
    """``values`` with the value of every secret-looking key replaced by ``***``."""
    return {k: REDACTED if is_secret_key(k) else v for k, v in values.items()}


def may_reveal(principal: Principal | None = None) -> bool:
    """Whether ``principal`` (the current one by default) may see secrets: admins only."""
    return "admin" in (principal or current_principal()).roles


def check_reveal(reveal: bool) -> bool:
    """Whether to show secrets, after refusing a request to reveal them from anyone but an admin.

    Raises:
        PermissionDenied: if ``reveal`` is asked for by a principal without the admin role.
    """
    if reveal and not may_reveal():
        raise PermissionDenied("only an admin may reveal secret params and tags", field="reveal_secrets")
    return reveal


def redact_record(record: T, reveal: bool = False) -> T:
    """A copy of a record (a run, a page of runs, a comparison) with its secret-looking params and tags hidden.

    Works on any pydantic record with ``params``/``tags`` mappings, a ``runs`` list of such
    records, or comparison-style ``params`` holding one value per run. ``reveal=True`` returns
    the record as it is (check it with :func:`check_reveal` first).
    """
    if reveal:
        return record
    updates: dict[str, object] = {}
    for name in ("params", "tags"):
        values = getattr(record, name, None)
        if isinstance(values, Mapping) and any(is_secret_key(k) for k in values):
            updates[name] = {k: _hidden(v) if is_secret_key(k) else v for k, v in values.items()}
    runs = getattr(record, "runs", None)
    if isinstance(runs, list):
        updates["runs"] = [redact_record(run) for run in runs]
    if not updates:
        return record
    copy: T = record.model_copy(update=updates)  # type: ignore[attr-defined]
    return copy


def _hidden(value: object) -> object:
    """``***`` for a value, one per run for a comparison's list of values (missing ones stay missing)."""
    if isinstance(value, list):
        return [None if v is None else REDACTED for v in value]
    return REDACTED


__all__ = ["REDACTED", "SECRET_WORDS", "check_reveal", "is_secret_key", "may_reveal", "redact_mapping",
           "redact_record"]
