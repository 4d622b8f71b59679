"""The online store: the latest record per id of each feature group, for low-latency reads.

One small interface, :class:`OnlineStore`, with two engines: :class:`SqliteOnlineStore` (the
embedded default, a file of its own) and :class:`RedisOnlineStore`. Both pass the same
conformance suite (``tests/features/test_online_conformance.py``).
"""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from slipway._time import now_ms
from slipway.datasets import json_safe_row


@dataclass(frozen=True)
class OnlineRecord:
    """One record of a group as the online store keeps it.

    Attributes:
        id: the record id, as text (integer ids are stored as their decimal text).
        event_time_ms: when the values were true, milliseconds since the epoch (UTC).
        values: feature name -> JSON-ready value (timestamps as ISO text).
    """

    id: str
    event_time_ms: int
    values: dict[str, Any]

    def encode(self) -> str:
        return json.dumps([self.event_time_ms, self.values], separators=(",", ":"))

    @classmethod
    def decode_many(cls, ids: Sequence[str], texts: Sequence[str | bytes | None]) -> list[OnlineRecord | None]:
        """Records from :meth:`encode`'s texts (``None`` stays ``None``), parsed in one go."""
        present = [(i, t if isinstance(t, str) else t.decode()) for i, t in zip(ids, texts, strict=True)
                   if t is not None]
        parsed = iter(json.loads("[" + ",".join(t for _, t in present) + "]"))
        return [None if t is None else cls(i, int((p := next(parsed))[0]), p[1])
                for i, t in zip(ids, texts, strict=True)]


@dataclass(frozen=True)
class EncodedRecords:
    """Records as three equal-length Arrow columns: what bulk writes take (see :func:`encode_table`).

    Attributes:
        ids: the record ids, as text (``pa.string()``).
        event_times_ms: their event times, milliseconds since the epoch (``pa.int64()``).
        payloads: what :meth:`OnlineRecord.encode` gives for each record (``pa.string()``).
    """

    ids: pa.Array
    event_times_ms: pa.Array
    payloads: pa.Array

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def of(cls, records: Sequence[OnlineRecord]) -> EncodedRecords:
        return cls(pa.array([r.id for r in records], pa.string()),
                   pa.array([r.event_time_ms for r in records], pa.int64()),
                   pa.array([r.encode() for r in records], pa.string()))


class OnlineStore(abc.ABC):
    """Latest values per (group, id); newer event times win.

    Contract, for every engine:

    * :meth:`write` keeps, per id, the record with the latest event time: a record older than
      the stored one is ignored (late data never overwrites fresher values); an equal event time
      overwrites (the later write wins, as in the offline store).
    * :meth:`read` answers in the order of the ids asked, ``None`` for an unknown id or one whose
      event time is more than ``ttl_ms`` before ``now_ms``.
    * Groups are independent namespaces; :meth:`delete_group` empties one.
    * Safe to use from several threads; several processes may write the same store.
    * Engine failures raise :class:`~slipway.errors.ServiceUnavailable`.

    An engine implements :meth:`write_encoded` (bulk, already-encoded records: what materializing
    sends); :meth:`write` is built on it.
    """

    def write(self, group: str, records: Sequence[OnlineRecord], *, ttl_ms: int | None = None) -> int:
        """Store records (see the contract); return how many replaced or added a value.

        ``ttl_ms`` lets an engine drop records once they expire; reads apply the TTL anyway.
        """
        return self.write_encoded(group, EncodedRecords.of(records), ttl_ms=ttl_ms)

    @abc.abstractmethod
    def write_encoded(self, group: str, records: EncodedRecords, *, ttl_ms: int | None = None) -> int:
        """:meth:`write` for records already encoded as columns (see :func:`encode_table`)."""

    @abc.abstractmethod
    def _read(self, group: str, ids: Sequence[str]) -> list[OnlineRecord | None]:
        """The stored records for ``ids``, in order (``None`` where none), ignoring any TTL."""

    @abc.abstractmethod
    def delete_group(self, group: str) -> None:
        """Remove every record of ``group``; idempotent."""

    def close(self) -> None:  # noqa: B027 - engines without resources need not override it
        """Release connections."""

    def read(
        self, group: str, ids: Sequence[str], *, ttl_ms: int | None = None, now: int | None = None
    ) -> list[OnlineRecord | None]:
        """The latest record of each id, in order; ``None`` for unknown or expired ids."""
        return self.read_groups([(group, ttl_ms)], ids, now=now)[0]

    def read_groups(
        self, groups: Sequence[tuple[str, int | None]], ids: Sequence[str], *, now: int | None = None
    ) -> list[list[OnlineRecord | None]]:
        """:meth:`read` for several ``(group, ttl_ms)`` at once: one answer list per group.

        An engine with round trips (Redis) answers all groups in one.
        """
        answers = self._read_groups([g for g, _ in groups], list(ids))
        horizon = now_ms() if now is None else now
        return [
            records if ttl_ms is None
            else [r if r is not None and r.event_time_ms >= horizon - ttl_ms else None for r in records]
            for records, (_, ttl_ms) in zip(answers, groups, strict=True)
        ]

    def _read_groups(self, groups: Sequence[str], ids: list[str]) -> list[list[OnlineRecord | None]]:
        """The stored records of ``ids`` in each group; by default one :meth:`_read` per group."""
        return [self._read(group, ids) for group in groups]

    def __enter__(self) -> OnlineStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()



def encode_table(table: pa.Table, record_id: str, event_time: str, names: Sequence[str]) -> EncodedRecords:
    """Ids, event times (ms) and :meth:`OnlineRecord.encode` payloads of every row of ``table``.

    Column by column, in Arrow's compute kernels rather than a Python loop per value: numbers,
    booleans and nulls become JSON tokens in bulk, other columns value by value as
    :func:`~slipway.datasets.json_safe_row` would, and the payloads are joined from the tokens.
    Each payload decodes to exactly what ``OnlineRecord(id, ms, json_safe_row(row)).encode()``
    does; only the spelling of a float may differ (``1e-05`` or ``0.00001``: both the shortest
    digits that read back as the same number).
    """
    micros = pc.cast(table.column(event_time), pa.int64()).to_numpy()
    times = micros // 1000  # floored, as Python's // does for times before 1970
    ids = pc.cast(table.column(record_id), pa.string())  # an integer's decimal text, as str() gives
    parts: list[Any] = ["[", pc.cast(pa.array(times), pa.string()), ",{"]
    for n, name in enumerate(names):
        parts += [("," if n else "") + json.dumps(name, separators=(",", ":")) + ":", _tokens(table.column(name))]
    payloads = pc.binary_join_element_wise(*parts, "}]", "")
    return EncodedRecords(_array(ids), pa.array(times, pa.int64()), _array(payloads))


def _array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _tokens(column: pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Each value of ``column`` as JSON text (``null`` for nulls and non-finite floats)."""
    kind = column.type
    if pa.types.is_float64(kind):  # narrower floats: Arrow would spell their own shortest digits
        text = pc.cast(column, pa.string())
        # Arrow spells an integral float without a point ("2"); JSON would read that back as an int.
        # Text is searched only when a value is integral (one cheap pass over the numbers first).
        if pc.any(pc.equal(pc.floor(column), column)).as_py():
            bare = pc.invert(pc.or_(pc.match_substring(text, "."), pc.match_substring(text, "e")))
            text = pc.if_else(bare, pc.binary_join_element_wise(text, ".0", ""), text)
        finite = pc.is_finite(column)
        if column.null_count or not pc.all(finite).as_py():
            text = pc.fill_null(pc.if_else(finite, text, "null"), "null")
        return text
    if pa.types.is_integer(kind):
        return pc.fill_null(pc.cast(column, pa.string()), "null")
    if pa.types.is_boolean(kind):
        return pc.fill_null(pc.if_else(column, "true", "false"), "null")
    safe = json_safe_row({str(i): v for i, v in enumerate(column.to_pylist())})
    return pa.array([json.dumps(v, separators=(",", ":")) for v in safe.values()], pa.string())
