"""The run filter language and its translation to SQL.

Examples of filters::

    metrics.mse < 5
    params.model = 'rf' and metrics.r2 >= 0.8
    tags.team IN ('search', 'ads') or attributes.status = 'FAILED'
    metrics.`val loss` < 0.1 and not (params.optimizer LIKE 'sgd%')
    start_time > '2026-01-01' and metrics.accuracy IS NOT NULL
    datasets.name = 'abalone' and datasets.context = 'training'

An identifier is ``metrics.KEY``, ``params.KEY``, ``tags.KEY``, ``datasets.name``,
``datasets.digest``, ``datasets.context`` (a run matches when one of the data sets it read does)
or ``attributes.NAME`` (a bare attribute name works too); keys with spaces or dots go in backticks
or double quotes. Metrics compare as numbers (NaN never matches a comparison); params and tags
compare as strings with ``= != LIKE ILIKE IN, NOT IN``; ``IS NULL`` asks whether the key is absent. Ordering takes
``"metrics.mse"``, ``"params.lr DESC"``, ``"start_time ASC"``; missing values sort last. Params and
tags whose names look like secrets (``params.db_password``) may only be asked ``IS NULL``/``IS NOT
NULL``, unless the caller may reveal secrets (see :func:`slipway._redact.check_comparable`).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, not_, or_, select

from slipway._redact import check_comparable
from slipway._time import datetime_to_ms
from slipway.errors import InvalidInput
from slipway.tracking._tables import latest_metrics, params, run_inputs, run_tags, runs
from slipway.tracking.validation import MAX_TIME_MS, MIN_TIME_MS

# Bounds that keep every filter a query the databases accept (SQLite refuses expression trees
# deeper than 1000 and joins of more than 200 tables) and the parser within Python's recursion limit.
MAX_NESTING = 32
MAX_COMPARISONS = 100
MAX_IN_VALUES = 1000
MAX_ORDER_TERMS = 10
MAX_PAGE_OFFSET = 2**62

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?))(?![\w.])
      | (?P<str>'(?:[^'\\]|\\.|'')*')
      | (?P<qident>`[^`]*`|"[^"]*")
      | (?P<op><=|>=|!=|<>|==|=|<|>)
      | (?P<punct>[(),.])
      | (?P<word>[^\s(),.=<>!'"`]+)
    )""",
    re.VERBOSE,
)

_PREFIXES = {
    "metric": "metric",
    "metrics": "metric",
    "param": "param",
    "params": "param",
    "parameter": "param",
    "parameters": "param",
    "tag": "tag",
    "tags": "tag",
    "dataset": "dataset",
    "datasets": "dataset",
    "attribute": "attr",
    "attributes": "attr",
    "attr": "attr",
    "run": "attr",
}
_ATTRS = {
    "run_id": runs.c.id,
    "id": runs.c.id,
    "run_name": runs.c.name,
    "name": runs.c.name,
    "status": runs.c.status,
    "user": runs.c.user,
    "user_id": runs.c.user,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
    "experiment_id": runs.c.experiment_id,
    "parent_run_id": runs.c.parent_run_id,
    "lifecycle_stage": runs.c.lifecycle_stage,
}
_TIME_ATTRS = {"start_time", "end_time"}
_DATASET_KEYS = {"name": run_inputs.c.name, "digest": run_inputs.c.digest, "context": run_inputs.c.context}
_STRING_OPS = {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}
_COMPARE = {"=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN"}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise InvalidInput(
                f"cannot read the filter at character {pos + 1}: {text[pos : pos + 20]!r}", field="filter"
            )
        kind = m.lastgroup or ""
        out.append(_Tok(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return out


def _unquote(tok: _Tok) -> Any:
    if tok.kind == "str":
        return tok.text[1:-1].replace("''", "'").replace("\\'", "'")
    if tok.kind == "num":
        # Past 18 digits an integer may not fit SQL's 64 bits (or even int()): compare it as a float.
        exact = not any(c in tok.text for c in ".eE") and len(tok.text.lstrip("+-")) <= 18
        return int(tok.text) if exact else float(tok.text)
    raise InvalidInput(f"expected a value at character {tok.pos + 1}, found {tok.text!r}", field="filter")


@dataclass(frozen=True)
class Identifier:
    kind: str  # metric | param | tag | attr
    key: str


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0
        self.comparisons = 0

    def peek(self, offset: int = 0) -> _Tok | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def word(self, offset: int = 0) -> str:
        tok = self.peek(offset)
        return tok.text.upper() if tok is not None and tok.kind == "word" else ""

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise InvalidInput("the filter ends too early", field="filter")
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        if self.peek() is None:
            raise InvalidInput(f"the filter ends too early: expected {text!r}", field="filter")
        tok = self.take()
        if tok.text.upper() != text:
            raise InvalidInput(f"expected {text!r} at character {tok.pos + 1}, found {tok.text!r}", field="filter")

    def parse(self) -> ColumnElement[bool]:
        expr = self.or_expr()
        tok = self.peek()
        if tok is not None:
            raise InvalidInput(f"unexpected {tok.text!r} at character {tok.pos + 1}", field="filter")
        return expr

    def or_expr(self) -> ColumnElement[bool]:
        parts = [self.and_expr()]
        while self.word() == "OR":
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else or_(*parts)

    def and_expr(self) -> ColumnElement[bool]:
        parts = [self.not_expr()]
        while self.word() == "AND":
            self.take()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else and_(*parts)

    def not_expr(self) -> ColumnElement[bool]:
        if self.word() == "NOT" and self.word(1) != "IN":
            self.take()
            return not_(self.nested(self.not_expr))
        tok = self.peek()
        if tok is not None and tok.text == "(":
            self.take()
            inner = self.nested(self.or_expr)
            self.expect(")")
            return inner
        return self.comparison()

    def nested(self, parse: Callable[[], ColumnElement[bool]]) -> ColumnElement[bool]:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise InvalidInput(f"the filter nests NOT and parentheses more than {MAX_NESTING} deep", field="filter")
        try:
            return parse()
        finally:
            self.depth -= 1

    def identifier(self) -> Identifier:
        tok = self.take()
        if tok.kind not in ("word", "qident"):
            raise InvalidInput(f"expected a metric, param, tag or attribute at character {tok.pos + 1}", field="filter")
        head = tok.text
        nxt = self.peek()
        if tok.kind == "word" and nxt is not None and nxt.text == ".":
            prefix = _PREFIXES.get(head.lower())
            if prefix is None:
                raise InvalidInput(
                    f"unknown prefix {head!r}: use metrics., params., tags., datasets. or attributes.", field="filter"
                )
            self.take()
            key_parts = [self.take()]
            # unquoted keys may contain dots: metrics.val.loss
            while self.peek() is not None and self.peek().text == "." and key_parts[-1].kind == "word":  # type: ignore[union-attr]
                self.take()
                key_parts.append(self.take())
            key = ".".join(p.text[1:-1] if p.kind == "qident" else p.text for p in key_parts)
            ident = Identifier(prefix, key)
        else:
            ident = Identifier("attr", head[1:-1] if tok.kind == "qident" else head)
        if ident.kind == "attr" and ident.key.lower() not in _ATTRS:
            raise InvalidInput(f"unknown attribute {ident.key!r}; known: {', '.join(sorted(_ATTRS))}", field="filter")
        if ident.kind == "dataset" and ident.key not in _DATASET_KEYS:
            raise InvalidInput(
                f"unknown dataset key {ident.key!r}: datasets are searched by {', '.join(_DATASET_KEYS)}",
                field="filter",
            )
        return ident

    def operator(self) -> str:
        tok = self.take()
        text = tok.text.upper()
        if text == "NOT":
            self.expect("IN")
            return "NOT IN"
        if text == "IS":
            if self.word() == "NOT":
                self.take()
                self.expect("NULL")
                return "IS NOT NULL"
            self.expect("NULL")
            return "IS NULL"
        text = {"==": "=", "<>": "!="}.get(text, text)
        if text not in _COMPARE:
            raise InvalidInput(f"unknown comparison {tok.text!r} at character {tok.pos + 1}", field="filter")
        return text

    def values(self, op: str) -> list[Any]:
        if op in ("IN", "NOT IN"):
            self.expect("(")
            vals = [_unquote(self.take())]
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.take()
                vals.append(_unquote(self.take()))
                if len(vals) > MAX_IN_VALUES:
                    raise InvalidInput(f"more than {MAX_IN_VALUES} values in one IN list", field="filter")
            self.expect(")")
            return vals
        if op in ("IS NULL", "IS NOT NULL"):
            return []
        return [_unquote(self.take())]

    def comparison(self) -> ColumnElement[bool]:
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise InvalidInput(f"the filter has more than {MAX_COMPARISONS} comparisons", field="filter")
        ident = self.identifier()
        op = self.operator()
        return compile_comparison(ident, op, self.values(op))


def _apply(column: Any, op: str, vals: list[Any]) -> ColumnElement[bool]:
    v = vals[0] if vals else None
    match op:
        case "=":
            return column == v
        case "!=":
            return column != v
        case "<":
            return column < v
        case "<=":
            return column <= v
        case ">":
            return column > v
        case ">=":
            return column >= v
        case "LIKE":
            return column.like(v)
        case "ILIKE":
            return func.lower(column).like(str(v).lower())
        case "IN":
            return column.in_(vals)
        case "NOT IN":
            return column.not_in(vals)
    raise AssertionError(op)


def _time_value(value: Any) -> int:
    if isinstance(value, (int, float)):
        if not MIN_TIME_MS <= value <= MAX_TIME_MS:  # also False for NaN
            raise InvalidInput(f"{value!r} is out of the range of times", field="filter")
        return int(value)
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(
            f"{value!r} is not a time: use ISO 8601 or milliseconds since the epoch", field="filter"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return datetime_to_ms(parsed, "filter")


def compile_comparison(ident: Identifier, op: str, vals: list[Any]) -> ColumnElement[bool]:
    if ident.kind == "attr":
        name = ident.key.lower()
        column = _ATTRS[name]
        if op == "IS NULL":
            return column.is_(None)
        if op == "IS NOT NULL":
            return column.is_not(None)
        if name in _TIME_ATTRS:
            vals = [_time_value(v) for v in vals]
        elif name == "status":
            vals = [str(v).upper() for v in vals]
        else:
            vals = [str(v) for v in vals]
        return _apply(column, op, vals)
    if ident.kind == "dataset":
        # A run matches when one of the data sets it read does (MLflow's reading of datasets.*).
        if op not in _STRING_OPS:
            raise InvalidInput(
                f"datasets compare as strings: use =, !=, LIKE, ILIKE, IN or NOT IN for datasets.{ident.key}, not {op}",
                field="filter",
            )
        cond = [_apply(_DATASET_KEYS[ident.key], op, [str(v) for v in vals])]
        return runs.c.id.in_(select(run_inputs.c.run_id).where(*cond))
    if ident.kind == "metric":
        table = latest_metrics
        cond = [table.c.key == ident.key]
        if op not in ("IS NULL", "IS NOT NULL"):
            if op in ("LIKE", "ILIKE"):
                raise InvalidInput(
                    f"metrics compare as numbers: {op} does not apply to metrics.{ident.key}", field="filter"
                )
            for v in vals:
                if isinstance(v, str):
                    raise InvalidInput(
                        f"metrics.{ident.key} is compared with {v!r}: metrics compare with numbers", field="filter"
                    )
            cond += [table.c.is_nan == false(), _apply(table.c.value, op, vals)]
    else:
        table = params if ident.kind == "param" else run_tags
        cond = [table.c.key == ident.key]
        if op not in ("IS NULL", "IS NOT NULL"):
            check_comparable(f"{ident.kind}s", ident.key)
            if op not in _STRING_OPS:
                raise InvalidInput(
                    f"{ident.kind}s compare as strings: use =, !=, LIKE, ILIKE, IN or NOT IN for "
                    f"{ident.kind}s.{ident.key}, not {op}",
                    field="filter",
                )
            cond.append(_apply(table.c.value, op, [str(v) for v in vals]))
    # An uncorrelated IN: the (key, value) index finds the few matching runs first, instead of
    # probing every run of the experiment the way a correlated EXISTS does.
    matching = runs.c.id.in_(select(table.c.run_id).where(*cond))
    return ~matching if op == "IS NULL" else matching


def parse_filter(text: str | None) -> ColumnElement[bool] | None:
    """Translate a filter string into a WHERE clause over ``runs``; None for an empty filter."""
    if text is None or not text.strip():
        return None
    return _Parser(text).parse()


def apply_order(query: Select[Any], order_by: Sequence[str] | None) -> tuple[Select[Any], list[SortKey]]:
    """Add ORDER BY terms (missing values last), then start time and id for a stable order.

    Returns the query, which also selects each sort value (labelled ``_sort_N``), and the sort keys,
    so a page can end with a keyset token (see :func:`after_keys`).
    """
    keys: list[SortKey] = []
    if order_by and len(order_by) > MAX_ORDER_TERMS:
        raise InvalidInput(f"order by at most {MAX_ORDER_TERMS} terms", field="order_by")
    for n, spec in enumerate(order_by or []):
        parser = _Parser(spec)
        ident = parser.identifier()
        direction = parser.word()
        if direction:
            parser.take()
        if direction not in ("", "ASC", "DESC") or parser.peek() is not None:
            raise InvalidInput(f"cannot order by {spec!r}: write e.g. 'metrics.mse DESC'", field="order_by")
        if ident.kind == "dataset":
            raise InvalidInput(f"cannot order by datasets.{ident.key}: a run may have read several", field="order_by")
        if ident.kind == "attr":
            column: Any = _ATTRS[ident.key.lower()]
        else:
            if ident.kind != "metric":  # the order, and the page token that holds the last value, would tell
                check_comparable(f"{ident.kind}s", ident.key, field="order_by")
            table = {"metric": latest_metrics, "param": params, "tag": run_tags}[ident.kind].alias(f"o{n}")
            cond = and_(table.c.run_id == runs.c.id, table.c.key == ident.key)
            if ident.kind == "metric":
                cond = and_(cond, table.c.is_nan == false())
            query = query.outerjoin(table, cond)
            column = table.c.value
        keys.append(SortKey(column, direction == "DESC"))
    terms: list[Any] = []
    for key in keys:
        terms.append(key.column.is_(None))  # missing last, whatever the direction
        terms.append(key.column.desc() if key.descending else key.column.asc())
    # Never missing, so no null terms: newest first stays a walk down the (experiment, start time) index.
    keys += [SortKey(runs.c.start_time, True), SortKey(runs.c.id, True)]
    terms += [runs.c.start_time.desc(), runs.c.id.desc()]
    labelled = [key.column.label(f"_sort_{n}") for n, key in enumerate(keys)]
    return query.add_columns(*labelled).order_by(*terms), keys


@dataclass(frozen=True)
class SortKey:
    column: Any
    descending: bool


def after_keys(keys: Sequence[SortKey], values: Sequence[Any]) -> Any:
    """The condition "sorts after the row whose sort values are ``values``", in :func:`apply_order`'s order.

    A keyset page starts here instead of skipping rows with OFFSET, so a page deep in the order
    costs what the first one does (the database keeps the top rows, not every row before them).
    """
    if not keys:
        return false()  # the last keys (start time, id) are unique: nothing ties all the way
    key, value = keys[0], values[0]
    rest = after_keys(keys[1:], values[1:])
    if value is None:  # missing values sort last, all alike: only later keys can tell them apart
        return and_(key.column.is_(None), rest)
    beyond = key.column < value if key.descending else key.column > value
    return or_(key.column.is_(None), beyond, and_(key.column == value, rest))


def encode_keyset_token(values: Sequence[Any]) -> str:
    """A page token that resumes after the row with these sort values (see :func:`after_keys`)."""
    return base64.urlsafe_b64encode(json.dumps({"after": list(values)}).encode()).decode()


def decode_page_token(token: str | None) -> int | list[Any]:
    """The offset of an offset token, or the sort values of a keyset token; 0 without a token."""
    if not token:
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        if isinstance(decoded, dict) and isinstance(decoded.get("after"), list):
            return list(decoded["after"])
        offset = decoded["offset"]
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("page_token is not one this server issued", field="page_token") from None
    if not isinstance(offset, int) or not 0 <= offset <= MAX_PAGE_OFFSET:
        raise InvalidInput("page_token is not one this server issued", field="page_token")
    return offset
