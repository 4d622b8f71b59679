"""The one name policy: which characters a name a user chooses may hold, for every kind of object.

Two names a person cannot tell apart must not name two objects, and a name must read the same in
a terminal, a log and a web page as it does in the database. So every user-chosen name
(experiments, runs, datasets, feature groups and features, pipelines and their steps and
parameters, endpoints, monitors, baselines and alarms, schedules, rules, hooks, users and token
labels, model groups, aliases, tag and param keys, artifact paths) passes here:

1. It is put in Unicode normal form C (NFC), so ``"café"`` typed as ``e`` + combining accent and
   as the single character ``é`` are one name, and look-alike twins of that kind cannot coexist.
2. It is refused if it holds a character that is invisible or changes how the text around it is
   shown (:func:`forbidden_character`): bidirectional overrides and isolates (``U+202E`` makes
   ``"gpj.exe"`` read ``"exe.jpg"``), zero-width spaces and joiners, the byte-order mark,
   variation selectors and every other default-ignorable code point; control, format,
   private-use, unassigned and surrogate code points; line and paragraph separators; and any
   space but the plain ASCII one (a non-breaking space looks like it).
3. It must then fit its kind's :class:`NameRule`: a length limit, and for names that appear in
   URLs and references (``name:version``, ``models:/group@alias``) a pattern of ASCII letters,
   digits and a few punctuation marks.

Lookups by name go through :func:`normalize` only (NFC, nothing refused), so a name found by one
spelling is found by the other, and a name that could never be stored is simply not found.

Example:
    >>> DISPLAY.check("churn\\u202eexe", what="experiment name")
    Traceback (most recent call last):
    slipway.errors.InvalidInput: experiment name 'churn\\u202eexe' holds U+202E RIGHT-TO-LEFT OVERRIDE, ...
    >>> WORD.check("fraud-v2")
    'fraud-v2'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from slipway.errors import InvalidInput

# Control, format (bidi controls, zero-width characters, BOM), surrogate, private-use and
# unassigned code points; line and paragraph separators. Spaces (Zs) other than " " too.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt) outside those categories:
# characters a renderer shows as nothing (combining grapheme joiner, Hangul fillers, Mongolian
# and Khmer invisible marks, variation selectors).
_IGNORABLE_RANGES = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xE0100, 0xE01EF),
)


def normalize(value: str) -> str:
    """``value`` in Unicode normal form C: how names are stored and looked up."""
    return unicodedata.normalize("NFC", value)


def forbidden_character(text: str) -> str | None:
    """The first character of ``text`` no name may hold (see the module's docstring), or None."""
    for ch in text:
        if ch == " ":
            continue
        category = unicodedata.category(ch)
        if category in _FORBIDDEN_CATEGORIES or category == "Zs":
            return ch
        point = ord(ch)
        if point >= 0x034F and any(low <= point <= high for low, high in _IGNORABLE_RANGES):
            return ch
    return None


def describe_character(ch: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``: a character named so a reader can find it."""
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X} {name}".rstrip()


def clean(value: object, *, field: str, what: str) -> str:
    """``value`` as NFC text that holds no forbidden character; the policy every name passes.

    Raises:
        InvalidInput: (with ``field``) for a non-string or a forbidden character, named in the message.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {type(value).__name__}", field=field)
    text = normalize(value)
    bad = forbidden_character(text)
    if bad is not None:
        raise InvalidInput(
            f"{what} {text!r} holds {describe_character(bad)}, which names may not hold: it is invisible "
            "or changes how the text around it is shown",
            field=field,
        )
    return text


@dataclass(frozen=True)
class NameRule:
    """What one kind of name may be, beyond :func:`clean`.

    Attributes:
        what: the name's kind as messages word it ("experiment name").
        max_length: the most characters, counted after normalisation.
        pattern: the whole name must match it; None for free text (display names).
        allowed: what ``pattern`` allows, in words, for the error message.
        strip: drop surrounding white space first (display names typed or pasted by hand).
    """

    what: str
    max_length: int
    pattern: re.Pattern[str] | None = None
    allowed: str = ""
    strip: bool = False

    def check(self, value: Any, field: str = "name", what: str | None = None) -> str:
        """Return ``value`` as it is stored (NFC, stripped if the rule says so).

        Args:
            value: the name as the caller gave it.
            field: the argument or body field, reported in the error.
            what: words for the name in messages, when not the rule's own ("step name").

        Raises:
            InvalidInput: naming ``field``, for anything the policy or the rule refuses.
        """
        what = what or self.what
        if self.strip and isinstance(value, str):
            value = value.strip()
        text = clean(value, field=field, what=what)
        if not text:
            raise InvalidInput(f"{what} must be a non-empty string", field=field)
        if len(text) > self.max_length:
            raise InvalidInput(
                f"{what} is {len(text)} characters long; the limit is {self.max_length}", field=field
            )
        if self.pattern is not None and not self.pattern.fullmatch(text):
            raise InvalidInput(f"{what} {text!r} {self.allowed}", field=field)
        return text


_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_WORD_ALLOWED = "may hold only letters, digits and _ . - and must start with a letter or digit"

DISPLAY = NameRule("name", 256, strip=True)
"""Experiments, runs and MLflow's logged models: free text (spaces, any script), shown in lists."""
WORD = NameRule("name", 128, _WORD, _WORD_ALLOWED)
"""Datasets, feature groups and features, monitors, baselines, alarms and model groups: they
appear in URLs, file paths, ``name:version`` references and ``models:/`` URIs."""
SHORT_WORD = NameRule("name", 64, _WORD, _WORD_ALLOWED)
"""Endpoints, schedules, rules and hooks: a word of at most 64 characters."""
USER = NameRule(
    "user name", 64, re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@\-]*"),
    "may hold only letters, digits and _ . @ - and must start with a letter or digit",
)
"""Users and token labels (an e-mail address fits)."""
IDENTIFIER = NameRule(
    "name", 128, re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*"),
    "must start with a letter and hold only letters, digits, '_', '.' or '-'",
)
"""Pipelines, their steps, parameters and outputs: they appear in expressions (``steps.train.outputs.model``)."""
ALIAS = NameRule(
    "alias", 64, re.compile(r"[a-z][a-z0-9_\-]*"), "must be lowercase letters, digits, _ and -, starting with a letter"
)
"""Model version aliases (``models:/group@prod``)."""
KEY = NameRule(
    "key", 250, re.compile(r"(?!/)(?!(?:.*/)?\.\.(?:/|$))[\w\-. /:]+"),
    "has a reserved character or a '..' or leading '/': use letters, digits and _ - . space / :",
)
"""Tag, param and metric keys: paths of words, letters of any script."""

__all__ = [
    "ALIAS",
    "DISPLAY",
    "IDENTIFIER",
    "KEY",
    "SHORT_WORD",
    "USER",
    "WORD",
    "NameRule",
    "clean",
    "describe_character",
    "forbidden_character",
    "normalize",
]
