"""Tags of datasets and feature groups (their names follow :func:`slipway._references.check_name`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slipway._names import clean
from slipway.errors import InvalidInput

MAX_TAGS = 100
MAX_TAG_TEXT = 1000


def check_tags(tags: Mapping[str, Any] | None, field: str = "tags") -> dict[str, str]:
    """Tags as a dict of short texts (values are turned into text, as run tags are)."""
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidInput(f"{field} must be a mapping of text to text", field=field)
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} {field}, not {len(tags)}", field=field)
    out = {}
    for key, value in tags.items():
        text = str(value)
        if not isinstance(key, str) or not key or len(key) > MAX_TAG_TEXT or len(text) > MAX_TAG_TEXT:
            raise InvalidInput(f"{field}: {key!r} must be a non-empty key and value of at most "
                               f"{MAX_TAG_TEXT} characters", field=f"{field}.{key}")
        out[clean(key, field=f"{field}.{key}", what="tag key")] = text
    return out
