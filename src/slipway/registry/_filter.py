"""The version filter: comparisons joined by ``and``, translated to a WHERE clause.

Examples::

    metrics.mse < 5
    status = 'Approved' and metrics.r2 >= 0.8
    alias = 'prod'
    tags.team = 'search' and version > 3 and flavor = 'sklearn'

This is the conjunctive subset of the run filter language (no ``or``, no parentheses): enough
to pick candidates for promotion, small enough to read at a glance. An identifier is
``metrics.NAME`` (compared as a number), ``tags.KEY`` (as a string), or one of the attributes
``status``, ``alias``, ``version``, ``flavor``, ``registered_by``, ``archived``. Names with spaces
go in backticks: ``metrics.`val loss` < 0.1``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, select, true

from slipway._redact import check_comparable
from slipway._references import check_alias
from slipway.errors import InvalidInput
from slipway.registry._records import ApprovalStatus
from slipway.registry._tables import model_aliases, model_version_metrics, model_version_tags, model_versions

_CLAUSE = re.compile(
    r"""\s*
    (?P<ident>(?:metrics|tags)\.(?:`[^`]+`|[^\s=<>!'`]+) | [A-Za-z_]+)
    \s*(?P<op><=|>=|!=|==|=|<|>)\s*
    (?P<value>'(?:[^']|'')*' | [-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)? | true | false)
    \s*(?P<tail>$|and\s)""",
    re.VERBOSE | re.IGNORECASE,
)

_OPS: dict[str, Any] = {
    "=": lambda c, v: c == v,
    "!=": lambda c, v: c != v,
    "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v,
    ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v,
}
_ATTRIBUTES = ("status", "alias", "version", "flavor", "registered_by", "archived")


def _literal(text: str) -> str | float | bool:
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return float(text)


def _comparison(ident: str, op: str, value: str | float | bool) -> ColumnElement[bool]:
    compare = _OPS[op]
    v = model_versions.c
    if ident.startswith(("metrics.", "tags.")):
        prefix, _, name = ident.partition(".")
        name = name.strip("`")
        if prefix == "metrics":
            if not isinstance(value, float):
                raise InvalidInput(f"metrics.{name} compares with a number, not {value!r}", field="filter")
            m = model_version_metrics.c
            return exists(select(true()).where(m.version_id == v.id, m.name == name, compare(m.value, value)))
        if op not in ("=", "!="):
            raise InvalidInput(f"tags.{name} compares with = or !=, not {op}", field="filter")
        check_comparable("tags", name)
        t = model_version_tags.c
        return exists(select(true()).where(t.version_id == v.id, t.key == name, compare(t.value, str(value))))
    attribute = ident.lower()
    if attribute not in _ATTRIBUTES:
        raise InvalidInput(
            f"unknown attribute {ident!r}: use metrics.NAME, tags.KEY or one of {', '.join(_ATTRIBUTES)}",
            field="filter",
        )
    if attribute == "version":
        if not isinstance(value, float):
            raise InvalidInput(f"version compares with a number, not {value!r}", field="filter")
        return compare(v.version, value)
    if attribute == "archived":
        if not isinstance(value, bool) or op not in ("=", "!="):
            raise InvalidInput("archived compares with = true or = false", field="filter")
        return compare(v.archived, value)
    if not isinstance(value, str) or op not in ("=", "!="):
        raise InvalidInput(f"{attribute} compares with = or != and a quoted string", field="filter")
    if attribute == "status":
        return compare(v.status, ApprovalStatus.parse(value).value)
    if attribute == "alias":
        a = model_aliases.c
        held = exists(select(true()).where(a.version_id == v.id, a.alias == value))
        return held if op == "=" else ~held
    return compare(v.flavor if attribute == "flavor" else v.registered_by, value)


def parse_version_filter(text: str | None) -> ColumnElement[bool] | None:
    """Translate a filter string into a WHERE clause over ``model_versions``; None when empty.

    Raises:
        InvalidInput: (``field="filter"``) pointing at the first part it cannot read.
    """
    if text is None or not text.strip():
        return None
    clauses = []
    pos = 0
    while pos < len(text):
        match = _CLAUSE.match(text, pos)
        if match is None:
            raise InvalidInput(
                f"cannot read the filter at character {pos + 1}: {text[pos : pos + 30]!r}; "
                f"write comparisons joined by 'and', e.g. \"metrics.mse < 5 and status = 'Approved'\"",
                field="filter",
            )
        op = "=" if match["op"] == "==" else match["op"]
        clauses.append(_comparison(match["ident"], op, _literal(match["value"])))
        pos = match.end()
        if match["tail"] and pos >= len(text):
            raise InvalidInput("the filter ends with 'and'", field="filter")
    return and_(*clauses)


def search_conditions(
    filter: str | None,
    *,
    status: ApprovalStatus | str | None,
    alias: str | None,
    tags: Mapping[str, str],
    include_archived: bool,
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a version search: the filter string and the structured arguments."""
    v = model_versions.c
    conditions = []
    parsed = parse_version_filter(filter)
    if parsed is not None:
        conditions.append(parsed)
    if status is not None:
        conditions.append(v.status == ApprovalStatus.parse(status).value)
    if alias is not None:
        a = model_aliases.c
        conditions.append(exists(select(true()).where(a.version_id == v.id, a.alias == check_alias(alias))))
    for key, value in tags.items():
        check_comparable("tags", key, field="tags")
        t = model_version_tags.c
        conditions.append(exists(select(true()).where(t.version_id == v.id, t.key == key, t.value == value)))
    if not include_archived:
        conditions.append(v.archived.is_(False))
    return conditions
