"""MLflow's filter grammar for searches of registered models, model versions and logged models.

What MLflow 3.17's ``SearchModelUtils`` and ``SearchModelVersionUtils`` accept
(mlflow/utils/search_utils.py), read the same way and refused with the same messages:

- comparisons joined by ``AND`` (no ``OR``, no parentheses around comparisons);
- an identifier is an attribute (``name``, or ``attribute.name``) or a tag (``tags.KEY`` or
  ``tag.KEY``); a key holding dots or spaces may be back-quoted or double-quoted
  (``tags.`mlflow.prompt.is_prompt```), dots alone need no quotes;
- attributes: registered models have ``name``; model versions ``name``, ``run_id``,
  ``source_path`` (compared as strings with ``=``, ``!=``, ``LIKE``, ``ILIKE``, ``IN``,
  ``NOT IN``; lists for ``name`` and ``run_id`` only) and ``version_number`` (a number, with
  ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``);
- tags compare as strings with ``=``, ``!=``, ``LIKE``, ``ILIKE``; a model without the tag matches
  no condition on it, except MLflow's prompt marker ``mlflow.prompt.is_prompt``, which models lack
  and which its client filters on in every search (``!= 'true'`` and ``= 'false'`` match them);
- values are quoted strings (single or double quotes), numbers, or a parenthesised list of quoted
  strings; ``LIKE`` is case-sensitive with ``%`` and ``_`` as SQL has them, ``ILIKE`` case-blind.

A tag whose key looks like a secret cannot be compared by anyone who may not see its value
(:func:`slipway._redact.check_comparable`): asking ``LIKE 'a%'`` one letter at a time would read it.
"""

from __future__ import annotations

import ast
import functools
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slipway._redact import check_comparable
from slipway.errors import InvalidInput

PROMPT_TAG = "mlflow.prompt.is_prompt"
_STRING_OPS = ("!=", "=", "LIKE", "ILIKE", "IN", "NOT IN")
_NUMERIC_OPS = (">", ">=", "!=", "=", "<", "<=")
_TAG_OPS = ("!=", "=", "LIKE", "ILIKE")
_ENTITY_TYPES = ("attribute", "tag", "tags")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<list>\((?:[^()'"]|'(?:[^']|'')*'|"[^"]*")*\))
      | (?P<string>'(?:[^']|'')*')
      | (?P<number>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)(?![\w.])
      | (?P<op><=|>=|!=|<>|==|=|<|>)
      | (?P<ident>(?:[A-Za-z_][\w]*\.)?(?:`[^`]*`|"[^"]*"|[\w.\-:/@]+))
      | (?P<other>\S+)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Grammar:
    """What one kind of search accepts: its attributes, which are numbers, which take lists."""

    attributes: frozenset[str]
    numeric: frozenset[str] = frozenset()
    lists: frozenset[str] = frozenset()
    # The numeric attributes MLflow's messages name (also those it orders by but cannot filter on).
    numeric_named: frozenset[str] = frozenset()


REGISTERED_MODELS = Grammar(frozenset({"name"}), lists=frozenset({"name"}))
MODEL_VERSIONS = Grammar(
    frozenset({"name", "version_number", "run_id", "source_path"}),
    numeric=frozenset({"version_number"}),
    lists=frozenset({"name", "run_id"}),
    numeric_named=frozenset({"version_number", "creation_timestamp", "last_updated_timestamp"}),
)
LOGGED_MODELS = Grammar(frozenset({"name", "source_run_id"}))


@dataclass(frozen=True)
class Condition:
    """One comparison: ``kind`` is ``attribute`` or ``tag``; ``value`` a string, a number or a tuple of strings."""

    kind: str
    key: str
    op: str
    value: str | int | float | tuple[str, ...]

    def holds(self, found: object) -> bool:
        """Whether the attribute's or tag's value ``found`` (None: the model has no such tag) satisfies it."""
        if found is None:
            if self.kind == "tag" and self.key == PROMPT_TAG:
                return (self.op, self.value) in (("=", "false"), ("!=", "true"))
            return False
        compare: Callable[[Any, Any], bool] = _COMPARE[self.op]
        return compare(found, self.value)


def parse(text: str | None, grammar: Grammar) -> list[Condition]:
    """The conditions of an MLflow filter string, checked against ``grammar``.

    Raises:
        InvalidInput: with MLflow's wording, for anything MLflow's server would refuse.
        PermissionDenied: for a condition on a secret-looking tag, unless the caller may see it.
    """
    if not text or not text.strip():
        return []
    tokens = [(m.lastgroup or "", m.group(m.lastgroup or "")) for m in _TOKEN.finditer(text) if m.lastgroup]
    out: list[Condition] = []
    clauses: list[list[tuple[str, str]]] = [[]]
    for kind, value in tokens:
        if kind == "ident" and value.upper() == "OR":
            raise InvalidInput("Invalid clause(s) in filter string: OR", field="filter")
        if kind == "ident" and value.upper() == "AND":
            clauses.append([])
        else:
            clauses[-1].append((kind, value))
    for clause in clauses:
        if clause:  # MLflow passes over an empty clause, as a trailing AND leaves
            out.append(_condition(_join_operators(clause), grammar))
    return out


def _join_operators(clause: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Words that make one comparator (``LIKE``, ``NOT IN``) as one ``op`` token."""
    out: list[tuple[str, str]] = []
    for kind, value in clause:
        word = value.upper() if kind == "ident" else ""
        if out and word == "IN" and out[-1] == ("op", "NOT"):
            out[-1] = ("op", "NOT IN")
        elif out and word in ("LIKE", "ILIKE", "IN", "NOT"):
            out.append(("op", word))
        else:
            out.append((kind, {"==": "=", "<>": "!="}.get(value, value) if kind == "op" else value))
    return out


def _condition(clause: list[tuple[str, str]], grammar: Grammar) -> Condition:
    if len(clause) < 3 or clause[0][0] != "ident" or clause[1][0] != "op":
        shown = ", ".join(value for _, value in clause)
        raise InvalidInput(f"Invalid clause(s) in filter string: {shown}", field="filter")
    if len(clause) > 3:
        shown = ", ".join(value for _, value in clause[3:])
        raise InvalidInput(f"Invalid clause(s) in filter string: {shown}", field="filter")
    (_, ident), (_, op), (value_kind, raw) = clause
    kind, key = _identifier(ident, grammar)
    value = _value(kind, key, value_kind, raw, grammar)
    _check_operator(kind, key, op, grammar)
    if kind == "tag":
        check_comparable("tags", key)
    elif key in grammar.numeric:
        value = _number(key, value)
    return Condition(kind, key, op, value)


def _identifier(ident: str, grammar: Grammar) -> tuple[str, str]:
    """``(kind, key)`` of ``name``, ``attribute.name``, ``tags.KEY``, ``tag.`KEY```."""
    entity, dot, key = ident.partition(".")
    if not dot or entity.startswith(("`", '"')):
        entity, key = "attribute", ident
    if entity not in _ENTITY_TYPES:
        raise InvalidInput(
            f"Invalid entity type '{entity}'. Valid entity types are {_ENTITY_TYPES}", field="filter"
        )
    kind = "attribute" if entity == "attribute" else "tag"
    if kind == "attribute" and key not in grammar.attributes:
        raise InvalidInput(
            f"Invalid attribute key '{key}' specified. Valid keys are '{_set(grammar.attributes)}'", field="filter"
        )
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "`\"'":
        key = key[1:-1]
    return kind, key


def _value(kind: str, key: str, value_kind: str, raw: str, grammar: Grammar) -> str | int | float | tuple[str, ...]:
    quoted = value_kind == "string" or (value_kind == "ident" and len(raw) >= 2 and raw[0] == raw[-1] == '"')
    if quoted:
        return raw[1:-1].replace("''", "'") if raw[0] == "'" else raw[1:-1]
    if value_kind == "ident":
        raise InvalidInput(
            f"Parameter value is either not quoted or unidentified quote types used for string value {raw}. "
            "Use either single or double quotes.",
            field="filter",
        )
    if kind == "tag":
        raise InvalidInput(
            f"Expected a quoted string value for tag (e.g. 'my-value'). Got value {raw}", field="filter"
        )
    if value_kind == "list":
        if key not in grammar.lists:
            raise InvalidInput(
                f"Only {sorted(grammar.lists)} attributes support comparison with a list of quoted string values.",
                field="filter",
            )
        return _list(raw)
    if value_kind == "number" and grammar.numeric:
        if key not in grammar.numeric:
            raise InvalidInput(
                f"Only the '{_set(grammar.numeric_named)}' attributes support comparison with numeric values.",
                field="filter",
            )
        return int(raw) if re.fullmatch(r"[-+]?\d+", raw) else float(raw)
    raise InvalidInput(
        f"Expected a quoted string value or a list of quoted string values for attributes. Got value {raw}",
        field="filter",
    )


def _list(raw: str) -> tuple[str, ...]:
    try:
        parsed = ast.literal_eval(raw)
    except (SyntaxError, ValueError):
        raise InvalidInput(
            "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list.",
            field="filter",
        ) from None
    values = parsed if isinstance(parsed, tuple) else (parsed,)
    if not values:
        raise InvalidInput(
            "While parsing a list in the query, expected a non-empty list of string values, but got empty list",
            field="filter",
        )
    if not all(isinstance(v, str) for v in values):
        raise InvalidInput(
            "While parsing a list in the query, expected string value, punctuation, or whitespace, but got "
            f"different type in list: {values}",
            field="filter",
        )
    return values


def _check_operator(kind: str, key: str, op: str, grammar: Grammar) -> None:
    allowed = _TAG_OPS if kind == "tag" else _NUMERIC_OPS if key in grammar.numeric else _STRING_OPS
    if op not in allowed:
        closing = "" if kind == "tag" else "'"  # MLflow's tag message has no closing quote; kept, for parity
        raise InvalidInput(f"Invalid comparator '{op}' not one of '{_set(allowed)}{closing}", field="filter")


def _number(key: str, value: str | int | float | tuple[str, ...]) -> int:
    """A numeric attribute's value as the integer it is compared as (MLflow reads ``'3'`` as 3)."""
    if isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"[-+]?\d+", value.strip())):
        return int(value)
    raise InvalidInput(f"Invalid value for numeric attribute '{key}': {value!r}", field="filter")


def _set(values: Iterable[str]) -> str:
    """A set as MLflow prints it in its messages (sorted here, so the same filter reads the same)."""
    return "{" + ", ".join(repr(v) for v in sorted(values)) + "}"


def _like(flags: int = 0) -> Callable[[Any, Any], bool]:
    """SQL's LIKE (``%`` any run of characters, ``_`` any one), whole-value, as MLflow's server applies it."""
    return lambda found, wanted: _like_regex(str(wanted), flags).fullmatch(str(found)) is not None


@functools.lru_cache(maxsize=256)
def _like_regex(pattern: str, flags: int) -> re.Pattern[str]:
    return re.compile("".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern),
                      flags | re.DOTALL)


_COMPARE: Mapping[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "LIKE": _like(),
    "ILIKE": _like(re.IGNORECASE),
    "IN": lambda found, wanted: found in wanted,
    "NOT IN": lambda found, wanted: found not in wanted,
}


def matching(conditions: Sequence[Condition], attributes: Mapping[str, object], tags: Mapping[str, str]) -> bool:
    """Whether a model with these ``attributes`` and ``tags`` satisfies every condition."""
    return all(c.holds(attributes.get(c.key) if c.kind == "attribute" else tags.get(c.key)) for c in conditions)


def sort_key(
    order_by: Sequence[str], allowed: set[str], default: Sequence[str] = ()
) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A sort key over a model's attributes from MLflow's ``order_by`` (``["name ASC", "version_number DESC"]``).

    ``timestamp`` is MLflow's other name for ``creation_timestamp``. Ties are broken by name, then
    by version number, newest first, as MLflow's server does.

    Raises:
        InvalidInput: with MLflow's wording, for a key or a direction it does not know, or a key named twice.
    """
    terms: list[tuple[str, bool]] = []
    for clause in order_by or default:
        words = clause.replace("`", " ").split()
        if not words or len(words) > 2:
            raise InvalidInput(f"Invalid order_by clause '{clause}'. Could not be parsed.", field="order_by")
        if len(words) == 2 and words[1].upper() not in ("ASC", "DESC"):
            raise InvalidInput(f"Invalid ordering key in order_by clause '{clause}'.", field="order_by")
        key = "creation_timestamp" if words[0] == "timestamp" else words[0].removeprefix("attribute.")
        if key not in allowed:
            raise InvalidInput(
                f"Invalid order by key '{words[0]}' specified. Valid keys are '{_set(allowed)}'", field="order_by"
            )
        if key in {k for k, _ in terms}:
            raise InvalidInput(f"`order_by` contains duplicate fields: {list(order_by)}", field="order_by")
        terms.append((key, len(words) == 2 and words[1].upper() == "DESC"))
    for key, descending in (("name", False), ("version_number", True)):
        if key in allowed and key not in {k for k, _ in terms}:
            terms.append((key, descending))
    return lambda values: tuple(_Descending(values[k]) if desc else values[k] for k, desc in terms)


class _Descending:
    """A value that sorts in the opposite order."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Descending) -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and other.value == self.value

    __hash__ = None  # type: ignore[assignment]
