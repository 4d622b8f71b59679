"""Security records: users and tokens as the service returns them (never a token's hash)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class User(Record):
    """Someone who may call the server, with the roles that say what they may do."""

    id: str
    name: str
    roles: list[str]
    disabled: bool
    created_by: str
    created_at: dt.datetime


class Identity(Record):
    """Who is acting, as the service sees it: the name, the roles, what they grant, and from where."""

    name: str
    roles: list[str]
    permissions: list[str]
    source: str


class Token(Record):
    """An API token's metadata; the secret itself is shown once, in :class:`NewToken`.

    ``kind`` is ``api`` for a token made to be used by programs, ``session`` for one the web UI's
    login made (it expires after the server's ``session_ttl`` and ends when its user logs out).
    """

    id: str
    user: str
    name: str
    kind: str = "api"
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None

    def active(self, now: dt.datetime) -> bool:
        """Not revoked and not expired at ``now``."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class NewToken(Record):
    """A token just created: ``secret`` is what the client sends; it is not stored and cannot be shown again."""

    token: Token
    secret: str
