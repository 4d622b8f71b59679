"""Token secrets: how they are made, how they are stored, and how a request's token becomes a principal.

A secret is 256 random bits from :mod:`secrets`; only its sha256 is stored. A fast unsalted hash is
right for such a secret: nobody can guess 256 random bits, so slow hashing (for passwords people
choose) would only slow down every request.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select, update

from slipway._principal import Principal
from slipway._time import now_ms
from slipway.errors import PermissionDenied, Unauthenticated
from slipway.security._tables import api_tokens, users
from slipway.store import Database

PREFIX = "slw_"  # makes a leaked token easy to spot (secret scanners, logs)
_LAST_USED_RESOLUTION_MS = 60_000  # record last use at most once a minute: one write per request would serialise SQLite


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def authenticate(db: Database, secret: str, source: str) -> Principal:
    """The principal a token stands for, acting from ``source`` (the client's address).

    Raises:
        Unauthenticated: for an unknown, revoked or expired token, or a disabled user; the message
            says which, since the caller holds the token anyway.
    """
    t, u = api_tokens.c, users.c
    with db.read() as conn:
        row = conn.execute(
            select(t.id, t.expires_at, t.revoked_at, t.last_used_at, u.name, u.roles, u.disabled)
            .join(users, u.id == t.user_id)
            .where(t.hash == token_hash(secret))
        ).first()
    now = now_ms()
    if row is None:
        raise Unauthenticated("the token is not valid")
    if row.revoked_at is not None:
        raise Unauthenticated("the token has been revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthenticated("the token has expired")
    if row.disabled:
        raise Unauthenticated(f"user {row.name} is disabled")
    if row.last_used_at is None or now - row.last_used_at >= _LAST_USED_RESOLUTION_MS:
        with db.write() as conn:
            conn.execute(update(api_tokens).where(t.id == row.id).values(last_used_at=now))
    return Principal(row.name, frozenset(row.roles.split(",")), source=source, token_id=row.id)


def current_user(db: Database, name: str, source: str) -> Principal:
    """The user ``name`` as they stand now, for something acting on their behalf without a token.

    A hook, rule or schedule acts as the user who created it: with the roles that user holds at the
    moment of the action, not those held when it was created, so rights taken away are gone for the
    automation too.

    Raises:
        PermissionDenied: if no user has that name any more, or the user is disabled.
    """
    with db.read() as conn:
        row = conn.execute(select(users.c.roles, users.c.disabled).where(users.c.name == name)).first()
    if row is None:
        raise PermissionDenied(f"user {name} no longer exists: what they set up no longer acts", field="actor")
    if row.disabled:
        raise PermissionDenied(f"user {name} is disabled: what they set up no longer acts", field="actor")
    return Principal(name, frozenset(r for r in row.roles.split(",") if r), source=source)
