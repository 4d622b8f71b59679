"""Choosing the online store engine from a URL."""

from __future__ import annotations

from slipway.errors import InvalidInput
from slipway.features._online import OnlineStore
from slipway.features._online_redis import RedisOnlineStore
from slipway.features._online_sqlite import SqliteOnlineStore


def online_store_from_url(url: str) -> OnlineStore:
    """The engine a URL names: ``sqlite:///path/online.db`` or ``redis://host:port/db``.

    Raises:
        InvalidInput: (``field="online_url"``) for another scheme.
        MissingExtra: for ``redis://`` without the redis package.

    Example:
        >>> online_store_from_url("redis://127.0.0.1:6379/0")
        RedisOnlineStore('redis://127.0.0.1:6379/0', prefix='slipway:online:')
    """
    scheme = url.partition("://")[0].lower()
    if scheme == "sqlite":
        return SqliteOnlineStore(url.removeprefix("sqlite:///"))
    if scheme in ("redis", "rediss", "unix"):
        return RedisOnlineStore(url)
    raise InvalidInput(f"unsupported online store URL {url!r}: use sqlite:///PATH or redis://HOST:PORT",
                       field="online_url")
