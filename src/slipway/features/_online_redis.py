"""The scale-out online store: Redis, one key per (group, id), newer-wins writes in a Lua script."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from slipway.errors import MissingExtra, ServiceUnavailable
from slipway.features._online import OnlineRecord, OnlineStore

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
        self._client: Any = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self._script = self._client.register_script(_WRITE)
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

    def write_encoded(self, group: str, ids: Sequence[str], event_times_ms: Sequence[int],
                      payloads: Sequence[str], *, ttl_ms: int | None = None) -> int:
        ttl = -1 if ttl_ms is None else ttl_ms
        with self._translated():
            # One round trip for every batch: a pipeline without MULTI (each script is atomic on its own).
            pipe = self._client.pipeline(transaction=False)
            for start in range(0, len(ids), _BATCH):
                end = start + _BATCH
                keys = [f"{self.prefix}{group}:{i}" for i in ids[start:end]]
                self._script(keys=keys, args=[ttl, "\n".join(payloads[start:end])], client=pipe)
            return sum(int(n) for n in pipe.execute())

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
