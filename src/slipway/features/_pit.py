"""Point-in-time joins in DuckDB: each entity row gets each group's values as of its timestamp.

For an entity row ``(id, t)`` and a group, the answer is the group's row for ``id`` with the
greatest event time ``<= t``: never a value from after ``t``. Among rows sharing that id and
event time, the last written wins (highest ``_ingest``, then ``_row``). With a maximum age, a
value whose event time is older than ``t - max_age`` is treated as missing.

DuckDB's ``ASOF LEFT JOIN`` does the matching in one sorted pass per group. Its inequality is on
a struct ``(event time, _ingest, _row)`` against the entity's ``(t, max, max)``, so ties on the
event time resolve to the last write inside the join itself, with no separate deduplication
pass. Times are compared as integer microseconds since the epoch (UTC), so time zones cannot skew
the comparison.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from slipway.features._offline import parquet_list
from slipway.features._types import INGEST_COLUMN, ROW_COLUMN

ENTITY_ROW = "_entity_row"
ENTITY_TIME = "_entity_us"
_MICROSECOND = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class GroupQuery:
    """One group's part of a join: where its rows are and which columns to take."""

    name: str
    record_id: str
    event_time: str
    features: Sequence[str]
    files: Sequence[str]
    id_type: pa.DataType


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _group_rows_sql(group: GroupQuery, alias: str) -> str:
    """The group's rows with their join key ``_s`` = (event time, ingestion, row)."""
    cols = "".join(f", {_quote(f)}" for f in group.features)
    source = f"read_parquet({parquet_list(group.files)}, union_by_name = true)"
    return (
        f"{alias} AS (SELECT {_quote(group.record_id)} AS _k, epoch_us({_quote(group.event_time)}) AS _t, "
        f"struct_pack(t := epoch_us({_quote(group.event_time)}), i := {INGEST_COLUMN}, r := {ROW_COLUMN}) AS _s"
        f"{cols} FROM {source})"
    )


def _empty_rows_sql(group: GroupQuery, alias: str, types: dict[str, str]) -> str:
    """A group with no offline rows yet: an empty relation of the right shape."""
    cols = "".join(f", NULL::{types[f]} AS {_quote(f)}" for f in group.features)
    key = "struct_pack(t := NULL::BIGINT, i := NULL::BIGINT, r := NULL::BIGINT)"
    return f"{alias} AS (SELECT NULL::{types['_k']} AS _k, NULL::BIGINT AS _t, {key} AS _s{cols} WHERE false)"


_DUCK_TYPES = {"int64": "BIGINT", "double": "DOUBLE", "string": "VARCHAR", "bool": "BOOLEAN",
               "timestamp[us, tz=UTC]": "TIMESTAMPTZ"}


def point_in_time_join(
    entities: pa.Table, groups: Sequence[GroupQuery], feature_types: dict[str, str],
    max_age: dt.timedelta | None = None,
) -> pa.Table:
    """Join ``groups`` onto ``entities`` as of each entity row's time.

    Args:
        entities: the caller's rows plus :data:`ENTITY_ROW` (their order) and
            :data:`ENTITY_TIME` (their time in UTC microseconds); each group's record id column
            already cast to the group's id type.
        groups: the groups to join, in output order.
        feature_types: feature name -> Arrow type text, to shape groups without rows.
        max_age: values older than this at the entity time read as missing.

    Returns:
        The entity columns (without the two helpers) and each group's features, in entity order.
    """
    ctes, joins, selects = [], [], []
    for n, group in enumerate(groups):
        alias = f"g{n}"
        if group.files:
            ctes.append(_group_rows_sql(group, alias))
        else:
            types = {f: _DUCK_TYPES[feature_types[f]] for f in group.features}
            types["_k"] = _DUCK_TYPES[str(group.id_type)]
            ctes.append(_empty_rows_sql(group, alias, types))
        joins.append(f"ASOF LEFT JOIN {alias} ON e.{_quote(group.record_id)} = {alias}._k AND e._s >= {alias}._s")
        fresh = "" if max_age is None else f"e.{ENTITY_TIME} - {alias}._t <= {max_age // _MICROSECOND}"
        for feature in group.features:
            value = f"{alias}.{_quote(feature)}"
            selects.append(f"CASE WHEN {fresh} THEN {value} END AS {_quote(feature)}" if fresh
                           else f"{value} AS {_quote(feature)}")
    last = "9223372036854775807"  # after every write at the entity's time
    ctes.insert(0, f"e AS (SELECT *, struct_pack(t := {ENTITY_TIME}, i := {last}, r := {last}) AS _s FROM entities)")
    sql = (
        f"WITH {', '.join(ctes)} "
        f"SELECT e.* EXCLUDE ({ENTITY_ROW}, {ENTITY_TIME}, _s){''.join(', ' + s for s in selects)} "
        f"FROM e {' '.join(joins)} ORDER BY e.{ENTITY_ROW}"
    )
    with duckdb.connect() as conn:
        conn.register("entities", entities)
        return conn.sql(sql).to_arrow_table()


def distinct_keys(groups: Sequence[GroupQuery], start_us: int, end_us: int, id_name: str, time_name: str) -> pa.Table:
    """Every (id, event time) pair any of ``groups`` has in [start, end], by time then id.

    The entity rows of a time-range retrieval: one per moment a value changed.
    """
    parts = [
        f"SELECT {_quote(g.record_id)} AS _k, {_quote(g.event_time)} AS _t "
        f"FROM read_parquet({parquet_list(g.files)}, union_by_name = true) "
        f"WHERE epoch_us({_quote(g.event_time)}) BETWEEN {start_us} AND {end_us}"
        for g in groups if g.files
    ]
    if not parts:
        return pa.table({id_name: pa.array([], groups[0].id_type),
                         time_name: pa.array([], pa.timestamp("us", tz="UTC"))})
    sql = (f"SELECT DISTINCT _k AS {_quote(id_name)}, _t AS {_quote(time_name)} FROM ({' UNION ALL '.join(parts)}) "
           f"ORDER BY 2, 1")
    with duckdb.connect() as conn:
        return conn.sql(sql).to_arrow_table()


def _time_filter(event_time: str, start_us: int | None, end_us: int | None) -> str:
    where = []
    if start_us is not None:
        where.append(f"epoch_us({_quote(event_time)}) >= {start_us}")
    if end_us is not None:
        where.append(f"epoch_us({_quote(event_time)}) <= {end_us}")
    return f"WHERE {' AND '.join(where)}" if where else ""


def all_rows(files: Sequence[str], event_time: str, *, start_us: int | None = None,
             end_us: int | None = None) -> pa.Table:
    """Every offline row (event times within [start, end]) in the order it was written."""
    sql = (f"SELECT * FROM read_parquet({parquet_list(files)}, union_by_name = true) "
           f"{_time_filter(event_time, start_us, end_us)} ORDER BY {INGEST_COLUMN}, {ROW_COLUMN}")
    with duckdb.connect() as conn:
        return conn.sql(sql).to_arrow_table()
