"""The limits every face shares, declared once: JSON nesting depth and the length of free text.

A server parses what anyone sends it and keeps what it is told to keep, so both are bounded.
These limits live here, below every domain, so a service checks the same numbers whichever face
called it (REST, the MLflow API, the web UI, the CLI, the SDK), and docs/security-hardening.md
("Limits") quotes them from one place. Names have theirs in :mod:`slipway._names` (each kind's rule
says its length), re-exported here.

========================  ==========  =========================================================
limit                     value       what it bounds
========================  ==========  =========================================================
``MAX_JSON_DEPTH``        64          nesting of any JSON body or JSON field a server parses
``MAX_NAME``              256         free-text names (experiments, runs); other names are
                                      shorter (128: datasets, groups, pipelines, ...)
``MAX_KEY``               250         param, tag and metric keys
``MAX_VALUE``             8,000       param and tag values
``MAX_COMMENT``           4,000       comments of approvals and alias moves, rollback reasons
``MAX_DESCRIPTION``       16,384      descriptions people write: experiments, model groups and
                                      versions, datasets, feature groups, pipelines and their
                                      parameters, batch transforms
``MAX_TEXT``              65,536      any other free text kept as given (a dataset's source)
========================  ==========  =========================================================

Example:
    >>> check_text("a short note", "description", MAX_DESCRIPTION)
    'a short note'
    >>> json_too_deep(b'[[[1]]]', limit=2)
    True
"""

from __future__ import annotations

import re

from slipway._names import DISPLAY, KEY
from slipway.errors import InvalidInput

MAX_JSON_DEPTH = 64
MAX_NAME = DISPLAY.max_length
MAX_KEY = KEY.max_length
MAX_VALUE = 8000
MAX_COMMENT = 4000
MAX_DESCRIPTION = 16_384
MAX_TEXT = 65_536

_DROP_ALL_BUT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_INNERMOST = re.compile(rb"\[\]|\{\}")


def check_text(value: str | None, field: str, limit: int = MAX_TEXT) -> str | None:
    """``value`` if it is text of at most ``limit`` characters (None passes).

    Raises:
        InvalidInput: naming ``field``, its length and the limit.
    """
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{field} must be text, not {type(value).__name__}", field=field)
    if value is not None and len(value) > limit:
        raise InvalidInput(f"{field} is {len(value):,} characters long; the limit is {limit:,}", field=field)
    return value


def json_too_deep(raw: bytes | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text ``raw`` nests arrays and objects more than ``limit`` deep.

    Read without parsing, with C-speed byte operations only (less time than json.loads takes): escaped
    backslashes and quotes are dropped, then everything but brackets and quotes, then strings
    (a bracket inside one is text); each round then removes the innermost ``[]`` and ``{}``
    pairs, so a document ``d`` deep is empty after ``d`` rounds. Text that is not JSON at all
    answers False: the parser will say what is wrong with it.
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = unescaped.translate(None, _DROP_ALL_BUT_STRUCTURE).replace(b'""', b"")  # most strings hold no bracket
    brackets = b"".join(structure.split(b'"')[::2]) if b'"' in structure else structure
    for _ in range(limit):
        brackets, removed = _INNERMOST.subn(b"", brackets)
        if not brackets or not removed:
            return False
    return bool(brackets)


def check_json_depth(raw: bytes | str, field: str = "body", limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON text nested deeper than ``limit`` before it is parsed.

    Raises:
        InvalidInput: naming ``field`` and the limit.
    """
    if json_too_deep(raw, limit):
        raise InvalidInput(f"{field}: JSON nested more than {limit} levels deep", field=field)
