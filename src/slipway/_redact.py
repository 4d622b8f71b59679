"""Secret redaction: values whose names look like secrets are shown as ``***``, and cannot be searched.

People log database passwords and API tokens as run params or tags by accident; once a run is
shared, everyone who may read it would see them. This module is the one policy every face (REST,
CLI, web UI, MLflow API) applies to what it shows: :func:`redact` hides, in any record or page of
records, the values that sit under a secret-looking name in

- ``params``, ``tags`` and ``parameters`` (runs, experiments, model groups and versions, MLflow's
  registered models, pipeline definitions and executions, automation actions), whether as a
  mapping or as MLflow's ``[{"key": ..., "value": ...}]`` and a definition's
  ``[{"name": ..., "default": ...}]`` lists;
- ``before``/``after`` pairs that name a secret-looking ``key``, ``name`` or ``path`` (a pipeline's
  definition diff, a cache explanation's differences);
- ``details`` (the audit trail's before and after values), at any depth.

Only an admin who asks sees the real values (:func:`check_reveal`); the stored values are
untouched: redaction is about who sees, not what is kept. Hiding is not enough when a value can
be *compared*: a search ``params.db_password LIKE 'a%'`` answers one question per request and
rebuilds a secret in a few hundred, so :func:`check_comparable` refuses every comparison or
ordering on a secret-looking name to anyone who may not reveal it.

A key is secret-looking when one of its words (split at ``_ - . / : space`` and lower-to-upper
case changes) is one of :data:`SECRET_WORDS`, or ends in one of them (``apikey``, ``dbpassword``).

Example:
    >>> is_secret_key("db_password"), is_secret_key("openaiApiKey"), is_secret_key("max_tokens")
    (True, True, False)
    >>> redact_mapping({"lr": "0.1", "aws_secret_access_key": "wJalr..."})
    {'lr': '0.1', 'aws_secret_access_key': '***'}
    >>> redact({"parameters": [{"name": "api_token", "type": "str", "default": "t0k"}]})
    {'parameters': [{'name': 'api_token', 'type': 'str', 'default': '***'}]}
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

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

# Fields whose entries are named values (name -> value), and the fields that name one entry of a list.
CONTAINERS = frozenset({"params", "tags", "parameters"})
_NAMES = ("key", "name", "path")
_VALUES = ("value", "default", "before", "after")
_PLAIN = (str, int, float, bool, type(None), dt.datetime, dt.date, dt.timedelta, enum.Enum)

T = TypeVar("T")


def is_secret_key(key: str) -> bool:
    """Whether a param or tag named ``key`` probably holds a secret."""
    words = [w.lower() for w in _WORDS.findall(key)]
    return any(w in SECRET_WORDS or _GLUED.search(w) for w in words)


def redact_mapping(values: Mapping[str, Any]) -> dict[str, Any]:
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


def check_comparable(kind: str, key: str, field: str = "filter") -> None:
    """Refuse to compare or order by the value of a secret-looking ``kind.key`` unless the caller may see it.

    Asking whether such a key is set (``IS NULL``) stays open: it tells nothing of the value.

    Raises:
        PermissionDenied: naming the key, for a principal who may not reveal secrets (admins may).
    """
    if is_secret_key(key) and not may_reveal():
        raise PermissionDenied(
            f"{kind}.{key} looks like a secret: its value cannot be searched, compared or sorted on "
            f"(only an admin may)", field=field,
        )


def redact(value: T, reveal: bool = False) -> T:
    """A copy of ``value`` (a record, a page or list of records, a JSON-like dict) with its secrets hidden.

    Everything the module's docstring lists is replaced by ``***``; the rest is returned as it is,
    and an object with nothing to hide is returned itself, not copied. ``reveal=True`` returns
    ``value`` untouched (check it with :func:`check_reveal` first).
    """
    return value if reveal else _walk(value, deep=False)


def redact_record(record: T, reveal: bool = False) -> T:
    """:func:`redact` under the name the faces first used for runs and experiments."""
    return redact(record, reveal)


def _walk(value: Any, deep: bool, entry: bool = False) -> Any:
    """Hide what :func:`redact` hides in ``value``.

    ``deep`` (inside audit details) also hides the value of any secret-looking key; ``entry`` says
    ``value`` is one item of a container's list (``{"key": ..., "value": ...}``), named by its key.
    """
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, BaseModel):
        if not (deep or entry or _may_hold(type(value))):
            return value
        changed = _fields({name: getattr(value, name) for name in type(value).model_fields}, deep, entry)
        return value.model_copy(update=changed) if changed else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changed = _fields({f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init}, deep, entry)
        return dataclasses.replace(value, **changed) if changed else value
    if isinstance(value, Mapping):
        changed = _fields(value, deep, entry)
        return {**value, **changed} if changed else value
    if isinstance(value, list | tuple):
        if value and not (deep or entry) and _plain_records(value):
            return value  # a page of metric points, say: one look at the class, not one walk per point
        items = [_walk(item, deep, entry) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return type(value)(items) if isinstance(value, tuple) else items
    return value


def _fields(values: Mapping[str, Any], deep: bool, entry: bool = False) -> dict[str, Any]:
    """The fields of one object that change when its secrets are hidden (empty when none does)."""
    named = next((values[n] for n in _NAMES if isinstance(values.get(n), str)), None)
    paired = entry or "before" in values or "after" in values  # a named value, not a record that has a name
    secret_entry = paired and named is not None and is_secret_key(named)
    changed: dict[str, Any] = {}
    for name, item in values.items():
        if item is None:
            continue
        if (secret_entry and name in _VALUES) or (deep and name not in _NAMES and is_secret_key(str(name))):
            new = _hidden(item)
        elif name in CONTAINERS and isinstance(item, Mapping):
            hidden = {k for k, v in item.items() if v is not None and is_secret_key(str(k))}
            walked = {k: _walk(v, deep) for k, v in item.items() if k not in hidden}
            grew = hidden or any(walked[k] is not item[k] for k in walked)
            new = {k: _hidden(v) if k in hidden else walked[k] for k, v in item.items()} if grew else item
        else:
            # a diff of a whole container ("path": "parameters") holds its entries before and after
            of_container = name in ("before", "after") and named is not None and named.rsplit(".", 1)[-1] in CONTAINERS
            new = _walk(item, deep or name == "details", entry=name in CONTAINERS or of_container)
        if new is not item:
            changed[name] = new
    return changed


def _hidden(value: object) -> object:
    """``***`` for a value, one per run for a comparison's list of values (missing ones stay missing)."""
    if isinstance(value, list):
        return [None if v is None else REDACTED for v in value]
    return REDACTED


def _plain_records(items: list[Any] | tuple[Any, ...]) -> bool:
    """Whether ``items`` are all records of one class that holds nothing to hide."""
    cls = type(items[0])
    return issubclass(cls, BaseModel) and not _may_hold(cls) and all(type(item) is cls for item in items)


_HOLDERS: dict[type, bool] = {}


def _may_hold(cls: type[BaseModel]) -> bool:
    """Whether records of ``cls`` can hold anything to hide: a container field, a named value, a dict, a record.

    Cached per class, so a page of 100,000 metric points is passed over in one look per point.
    """
    found = _HOLDERS.get(cls)
    if found is None:
        fields = cls.model_fields
        found = bool(set(fields) & (CONTAINERS | {"details", "before", "after"})) or any(
            _opaque(f.annotation) for f in fields.values())
        _HOLDERS[cls] = found
    return found


def _opaque(annotation: Any) -> bool:
    """Whether a field of this type may contain a mapping or a record (anything but plain values)."""
    if annotation is Any or annotation is object:
        return True
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return _may_hold(annotation)
        return issubclass(annotation, Mapping) or not issubclass(annotation, _PLAIN)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, tuple, set, frozenset, typing.Literal, typing.Annotated):
        return origin is not typing.Literal and any(_opaque(a) for a in typing.get_args(annotation) if a is not ...)
    return True


__all__ = ["CONTAINERS", "REDACTED", "SECRET_WORDS", "check_comparable", "check_reveal", "is_secret_key",
           "may_reveal", "redact", "redact_mapping", "redact_record"]
