"""A small JSON path: the subset that reads one value out of a report.

``$.regression_metrics.mse.value``, ``metrics[0].name``, ``$['key with spaces'][2]``: dotted keys,
bracketed keys in quotes and list indexes (negative ones count from the end). Wildcards, filters and
slices select several values, which a condition cannot compare, so they are not part of it.
"""

from __future__ import annotations

import re
from typing import Any

from slipway.errors import InvalidInput

_TOKEN = re.compile(
    r"""\.(?P<key>[A-Za-z_][\w-]*)       # .key
      | \[\s*(?P<index>-?\d+)\s*\]       # [3]
      | \[\s*'(?P<single>[^']*)'\s*\]    # ['key']
      | \[\s*"(?P<double>[^"]*)"\s*\]    # ["key"]
    """,
    re.VERBOSE,
)


def parse_json_path(path: str) -> tuple[str | int, ...]:
    """Split a JSON path into keys and indexes.

    Raises:
        InvalidInput: (``field="json_path"``) naming the position where the path stops making sense.

    Example:
        >>> parse_json_path("$.metrics['mse'].values[-1]")
        ('metrics', 'mse', 'values', -1)
    """
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    if text and not text.startswith((".", "[")):
        text = "." + text
    parts: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise InvalidInput(f"JSON path {path!r} is not understood from {text[pos:]!r}", field="json_path")
        if match.group("index") is not None:
            parts.append(int(match.group("index")))
        else:
            key = next(g for g in (match.group("key"), match.group("single"), match.group("double")) if g is not None)
            parts.append(key)
        pos = match.end()
    return tuple(parts)


def json_get(document: Any, path: str) -> Any:
    """The value at ``path`` in ``document``.

    Raises:
        InvalidInput: if the path is malformed or leads nowhere; the message says how far it got.

    Example:
        >>> json_get({"regression_metrics": {"mse": {"value": 4.2}}}, "regression_metrics.mse.value")
        4.2
    """
    value = document
    walked = "$"
    for part in parse_json_path(path):
        if isinstance(part, int) and isinstance(value, list) and -len(value) <= part < len(value):
            value = value[part]
            walked += f"[{part}]"
        elif isinstance(part, str) and isinstance(value, dict) and part in value:
            value = value[part]
            walked += f".{part}"
        else:
            raise InvalidInput(
                f"JSON path {path!r} leads nowhere: {walked} has no {part!r} (it is {_describe(value)})",
                field="json_path",
            )
    return value


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        keys = ", ".join(map(str, list(value)[:8]))
        return f"an object with keys: {keys}" if keys else "an empty object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return f"the value {value!r}"
