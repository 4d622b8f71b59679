"""The limits every face shares, declared once: JSON nesting depth and the length of free text.

A server parses what anyone sends it and keeps what it is told to keep, so both are bounded.
These limits live here, below every domain, so a service checks the same numbers whichever face
called it (REST, the MLflow API, the web UI, the CLI, the SDK), and the docs quote them from one
place (docs/security-hardening.md, "Limits").

========================  ==========  =========================================================
limit                     value       what it bounds
========================  ==========  =========================================================
``MAX_JSON_DEPTH``        64          nesting of any JSON body or JSON field a server parses
``MAX_NAME``              256         names of runs and experiments (other names are shorter)
``MAX_KEY``               250         param, tag and metric keys
``MAX_VALUE``             8,000       param and tag values
``MAX_DESCRIPTION``       16,384      descriptions, notes and comments: free text people write
``MAX_TEXT``              65,536      any other free text stored as given (messages, sources)
========================  ==========  =========================================================

Example:
    >>> check_text("a short note", "description", MAX_DESCRIPTION)
    'a short note'
    >>> json_too_deep(b'[[[1]]]', limit=2)
    True
"""

from __future__ import annotations

import re

from slipway.errors import InvalidInput

MAX_JSON_DEPTH = 64
MAX_NAME = 256
MAX_KEY = 250
MAX_VALUE = 8000
MAX_DESCRIPTION = 16_384
MAX_TEXT = 65_536

_DROP_ALL_BUT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_INNERMOST = re.compile(rb"\[\]|\{\}")


def check_text(value: str | None, field: str, limit: int = MAX_TEXT) -> str | None:
    """``value`` if it is at most ``limit`` characters long (None passes).

    Raises:
        InvalidInput: naming ``field``, its length and the limit.
    """
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
