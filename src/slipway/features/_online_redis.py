"""The scale-out online store: Redis, one key per (group, id); bulk writes fill new keys with MSETNX,
newer-wins writes go through a Lua script."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slipway.errors import MissingExtra, ServiceUnavailable
from slipway.features._online import EncodedRecords, OnlineRecord, OnlineStore

DEFAULT_PREFIX = "slipway:online:"
_BATCH = 1000  # keys per script call: unpack() in Redis's Lua takes at most ~8,000 values

# KEYS: the records' keys; ARGV[1]: the TTL in ms (or -1); ARGV[2]: the payloads, in key order,
# joined by newlines (a JSON payload never holds a raw newline), each starting "[<event ms>,".
# Two arguments per call instead of two per record: packing arguments is most of a bulk write's cost.
# A record is stored unless the stored one is strictly newer. One MGET reads every stored record and
# one MSET writes the winners (without a TTL), rather than a GET and a SET per key: redis.call is
# most of the script's time (MSET keeps the last of a key given twice: the batch's newest, as checked).
# A script runs atomically, so the newer-wins check races no other writer.
_WRITE = """
local ttl = tonumber(ARGV[1])
local blob = ARGV[2]
local stored = redis.call('MGET', unpack(KEYS))
local newest = {}  -- key -> event ms of the record it holds once this batch's earlier records are in
local winners = {}
local from = 1
for i, key in ipairs(KEYS) do
  local stop = string.find(blob, '\\n', from, true) or (#blob + 1)
  local payload = string.sub(blob, from, stop - 1)
  from = stop + 1
  local event = tonumber(string.match(payload, '^%[(%-?%d+),'))
  local current = newest[key] or (stored[i] and tonumber(string.match(stored[i], '^%[(%-?%d+),')))
  if not current or current <= event then
    if ttl >= 0 then
      redis.call('SET', key, payload, 'PXAT', event + ttl)
    end
    newest[key] = event
    winners[#winners + 1] = key
    winners[#winners + 1] = payload
  end
end
if ttl < 0 and #winners > 0 then
  redis.call('MSET', unpack(winners))
end
return #winners / 2
"""


_SCRIPT = _WRITE.encode()
# EVAL, not EVALSHA: Redis caches the compiled script by its hash either way, and EVAL never meets
# NOSCRIPT (a restarted or flushed server).
_EVAL = b"$4\r\nEVAL\r\n$%d\r\n%s\r\n" % (len(_SCRIPT), _SCRIPT)


def _bulk(values: pa.Array) -> pa.Array:
    """Each value as a bulk string of Redis's protocol: ``$<bytes>\\r\\n<value>\\r\\n``."""
    return pc.binary_join_element_wise("$", pc.cast(pc.binary_length(values), pa.string()), "\r\n", values, "\r\n", "")


def _bulk_one(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


def _spans(values: pa.Array, bounds: Sequence[tuple[int, int]]) -> list[memoryview]:
    """The bytes of ``values[start:end]`` laid end to end, for each ``(start, end)``, without copying."""
    offsets = np.frombuffer(values.buffers()[1], np.int32)[values.offset:values.offset + len(values) + 1]
    data = memoryview(values.buffers()[2])  # type: ignore[arg-type] # an Arrow buffer exposes its bytes
    return [data[offsets[start]:offsets[end]] for start, end in bounds]


def _scripts(keys: pa.Array, payloads: pa.Array, bounds: Sequence[tuple[int, int]], ttl_ms: int | None
             ) -> list[tuple[bytes | memoryview, ...]]:
    """The newer-wins script's call for each batch: its keys (already bulk strings), the TTL, and
    the batch's payloads joined by newlines."""
    ttl = _bulk_one(b"%d" % (-1 if ttl_ms is None else ttl_ms))
    lines = _spans(pc.binary_join_element_wise(payloads, "\n", ""), bounds)  # each payload and a newline
    return [(b"*%d\r\n" % (5 + end - start), _EVAL, _bulk_one(b"%d" % (end - start)), batch_keys, ttl,
             b"$%d\r\n" % (len(blob) - 1), blob[:-1], b"\r\n")
            for (start, end), batch_keys, blob in zip(bounds, _spans(keys, bounds), lines, strict=True)]


class RedisOnlineStore(OnlineStore):
    """Online features in Redis: ``MGET`` answers a batch of ids in one round trip.

    With a TTL, keys expire on their own at event time + TTL (``PXAT``), so memory does not fill
    with stale records; reads apply the TTL as well, whatever the server's clock says.

    Args:
        url: ``redis://host:port/db`` (``rediss://`` for TLS).
        prefix: put before every key; several stores (or tests) share one server this way.

    Raises:
        MissingExtra: if the redis package is not installed (``pip install 'slipway-mlops[redis]'``).

    Example:
        >>> store = RedisOnlineStore("redis://127.0.0.1:6379/0")
        >>> store.read("customers", ["c1"])
        [None]
    """

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX) -> None:
        try:
            redis = importlib.import_module("redis")
        except ImportError:
            raise MissingExtra("redis", "redis") from None
        self._errors = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
        self._refused = redis.exceptions.ResponseError
        self._client: Any = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self.url = url
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"RedisOnlineStore({self.url!r}, prefix={self.prefix!r})"

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except self._errors as exc:
            raise ServiceUnavailable(f"cannot reach Redis at {self.url}: {exc}") from exc

    def _key(self, group: str, record_id: str) -> str:
        return f"{self.prefix}{group}:{record_id}"

    def write_encoded(self, group: str, records: EncodedRecords, *, ttl_ms: int | None = None) -> int:
        """Bulk write, the commands spelled in Redis's protocol column by column (no Python object per
        record), each batch sent as one command and every batch in one round trip.

        A batch goes first as ``MSETNX`` (set every key, atomically, if none exists yet: natively, what
        filling an empty store needs) when the records have no TTL and no id twice; a batch that
        ``MSETNX`` refuses, or any batch otherwise, goes through the newer-wins script.
        """
        n = len(records)
        if n == 0:
            return 0
        keys = _bulk(pc.binary_join_element_wise(f"{self.prefix}{group}:", records.ids, ""))
        pending = [(start, min(start + _BATCH, n)) for start in range(0, n, _BATCH)]
        written = 0
        with self._translated():
            pool = self._client.connection_pool
            conn = pool.get_connection()
            try:
                if ttl_ms is None and pc.count_distinct(records.ids).as_py() == n:
                    values = _bulk(records.payloads)
                    pairs = _spans(pc.binary_join_element_wise(keys, values, ""), pending)
                    heads = [b"*%d\r\n$6\r\nMSETNX\r\n" % (1 + 2 * (end - start)) for start, end in pending]
                    set_all = self._exchange(conn, list(zip(heads, pairs, strict=True)))
                    written = sum(end - start for (start, end), done in zip(pending, set_all, strict=True) if done)
                    pending = [bounds for bounds, done in zip(pending, set_all, strict=True) if not done]
                if pending:
                    written += sum(self._exchange(conn, _scripts(keys, records.payloads, pending, ttl_ms)))
            finally:
                pool.release(conn)
        return written

    def _exchange(self, conn: Any, commands: Sequence[tuple[bytes | memoryview, ...]]) -> list[int]:
        """Send every command (each given as its protocol's parts), then read every reply.

        An error reply is raised once every reply is read, so the connection stays in step.
        """
        conn.send_packed_command([part for command in commands for part in command])
        replies: list[int] = []
        refused: Exception | None = None
        for _ in commands:
            try:
                replies.append(int(conn.read_response()))
            except self._refused as exc:
                refused = refused or exc
                replies.append(0)
        if refused is not None:
            raise refused
        return replies

    def _read(self, group: str, ids: Sequence[str]) -> list[OnlineRecord | None]:
        return self._read_groups([group], list(ids))[0]

    def _read_groups(self, groups: Sequence[str], ids: list[str]) -> list[list[OnlineRecord | None]]:
        if not ids:
            return [[] for _ in groups]
        with self._translated():
            payloads = self._client.mget([self._key(g, i) for g in groups for i in ids])
        n = len(ids)
        return [OnlineRecord.decode_many(ids, payloads[k * n:(k + 1) * n]) for k in range(len(groups))]

    def delete_group(self, group: str) -> None:
        with self._translated():
            keys = list(self._client.scan_iter(match=f"{self.prefix}{group}:*", count=1000))
            for start in range(0, len(keys), _BATCH):
                self._client.delete(*keys[start:start + _BATCH])

    def close(self) -> None:
        self._client.close()
