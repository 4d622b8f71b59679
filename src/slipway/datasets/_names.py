"""Names of datasets and feature groups: short, URL-safe words, checked in one place."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from slipway.errors import InvalidInput

MAX_NAME = 128
MAX_TAGS = 100
MAX_TAG_TEXT = 1000
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


def check_name(value: Any, field: str = "name") -> str:
    """A name as given, or :class:`InvalidInput` naming ``field``.

    Names start with a letter or digit and go on with letters, digits, ``_``, ``-`` and ``.``:
    they appear in URLs, in file paths and in ``name:version`` references, so nothing else.
    """
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value) or len(value) > MAX_NAME:
        raise InvalidInput(
            f"{field} {value!r} is not a valid name: up to {MAX_NAME} letters, digits, '_', '-' and '.',"
            " starting with a letter or digit",
            field=field,
        )
    return value


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
        out[key] = text
    return out
