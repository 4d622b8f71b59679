"""The filters MLflow's client sends to searches of registered models, versions and logged models.

MLflow's registry searches take conditions on a few attributes joined by ``AND``:
``name = 'x'``, ``name LIKE 'x%'``, ``run_id = '...'``, ``tags.team = 'ads'``. This module reads
them into (field, operator, value) triples and matches values; run searches use Slipway's own
filter language, which already reads MLflow's.
"""

from __future__ import annotations

import re

from slipway._redact import check_comparable
from slipway.errors import InvalidInput

_CONDITION = re.compile(
    r"^\s*(?P<field>(?:attributes?\.)?\w+|tags?\.(?:`[^`]+`|\"[^\"]+\"|\S+))\s*"
    r"(?P<op>=|LIKE|ILIKE)\s*'(?P<value>(?:[^']|'')*)'\s*$",
    re.IGNORECASE,
)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)


def conditions(flt: str | None, fields: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """``name = 'x' AND tags.k = 'v'`` as ``[("name", "=", "x"), ("tags.k", "=", "v")]``.

    Args:
        fields: the attribute names allowed (lowercase); ``tags`` allows ``tags.<key>`` conditions.

    Raises:
        InvalidInput: for any other condition, naming what is supported.
    """
    out = []
    for part in _AND.split(flt) if flt and flt.strip() else []:
        m = _CONDITION.match(part)
        field = m.group("field") if m else ""
        if field.lower().startswith("tag"):
            key = field.split(".", 1)[1].strip("`\"")
            field = "tags." + key
            allowed = "tags" in fields
            if allowed and m is not None:
                check_comparable("tags", key)
        else:
            field = field.split(".", 1)[-1].lower()
            allowed = field in fields
        if m is None or not allowed:
            supported = " or ".join(f if f != "tags" else "tags.<key>" for f in fields)
            raise InvalidInput(
                f"unsupported filter condition {part.strip()!r}: use {supported} with = or LIKE", field="filter"
            )
        out.append((field, m.group("op").upper(), m.group("value").replace("''", "'")))
    return out


def matches(op: str, pattern: str, value: str | None) -> bool:
    """Whether ``value`` satisfies ``op pattern`` (``=``, SQL ``LIKE``, case-blind ``ILIKE``)."""
    if value is None:
        return False
    if op == "=":
        return value == pattern
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value, re.DOTALL | (0 if op == "LIKE" else re.IGNORECASE)) is not None
