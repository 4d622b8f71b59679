"""The security service: users, their API tokens, and the audit trail's reading and checking.

Every face (CLI, REST, UI) manages users and tokens through these methods. Managing users needs
the ``admin`` permission; anyone signed in may create, list and revoke their own tokens; an admin
may do so for anyone (that is how the first token of a new user is made).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from slipway._ids import new_id
from slipway._kinds import ObjectKind
from slipway._names import USER
from slipway._operations import Api, Wire, composed
from slipway._principal import current_principal
from slipway._time import check_aware, datetime_to_ms, ms_to_datetime, now_ms
from slipway.errors import AlreadyExists, Conflict, InvalidInput, NotFound, PermissionDenied
from slipway.events import AuditCheck, AuditEntry, audit_entries, check_audit_chain, holds_hash, record_change
from slipway.security._permissions import (
    Permission,
    check_roles,
    has_permission,
    permissions_of,
    require,
    requires,
)
from slipway.security._records import Identity, NewToken, Token, User
from slipway.security._tables import api_tokens, users
from slipway.security._tokens import new_secret, token_hash
from slipway.store import Database

MAX_AUDIT_LIMIT = 10_000
MAX_TOKEN_LIFETIME = dt.timedelta(days=3660)  # ten years: longer is "never", which omitting the expiry says
API, SESSION = "api", "session"  # the kinds of token
Lifetime = Annotated[  # a timedelta here, seconds in JSON
    dt.timedelta,
    Wire(Annotated[float, Field(gt=0, le=MAX_TOKEN_LIFETIME.total_seconds())], name="expires_in_seconds",
         to_wire=dt.timedelta.total_seconds, from_wire=lambda seconds: dt.timedelta(seconds=seconds)),
]
Roles = Annotated[list[str] | tuple[str, ...], Wire(list[str])]
api = Api("security")  # the REST routes and remote methods derive from these declarations (slipway._operations)


@dataclass(frozen=True)
class SessionPolicy:
    """How long a web UI login lasts.

    Attributes:
        ttl: a session token's lifetime from login, and what a renewal gives it again from the
            moment of renewal (server setting ``session_ttl``, 12 hours by default).
        max_age: how long after login a session may still be renewed to (``session_max_age``,
            7 days by default): past it, log in again. No renewal happens unless asked for.
    """

    ttl: dt.timedelta = dt.timedelta(hours=12)
    max_age: dt.timedelta = dt.timedelta(days=7)


def check_name(name: object, field: str = "name") -> str:
    """A user name or token label (see :data:`slipway._names.USER`)."""
    return USER.check(name, field, field)


def _user(row: Row[Any]) -> User:
    created = ms_to_datetime(row.created_at)
    assert created is not None
    return User(
        id=row.id,
        name=row.name,
        roles=row.roles.split(","),
        disabled=row.disabled,
        created_by=row.created_by,
        created_at=created,
    )


def _token(row: Any) -> Token:
    created = ms_to_datetime(row.created_at)
    assert created is not None
    return Token(
        id=row.id,
        user=row.user_name,
        name=row.name,
        kind=row.kind,
        created_by=row.created_by,
        created_at=created,
        expires_at=ms_to_datetime(row.expires_at),
        revoked_at=ms_to_datetime(row.revoked_at),
        last_used_at=ms_to_datetime(row.last_used_at),
    )


def _user_row(conn: Connection, name: str) -> Row[Any]:
    row = conn.execute(select(users).where(users.c.name == name)).first()
    if row is None:
        raise NotFound(f"no user named {name!r}", field="user")
    return row


# Tokens with the name of their user: the base of every token query.
_TOKENS = select(*api_tokens.c, users.c.name.label("user_name")).join(users, users.c.id == api_tokens.c.user_id)


def _require_self_or_admin(user: str) -> None:
    """Own tokens are everyone's business; anyone else's need the admin permission."""
    if user != current_principal().name:
        require(Permission.ADMIN)


class SecurityService:
    """Users, tokens and the audit trail over the metadata database. Safe to share between threads.

    Example:
        >>> security = SecurityService(db)
        >>> security.create_user("kim", ["scientist"]).roles
        ['scientist']
        >>> new = security.create_token("kim", expires_in=dt.timedelta(days=30))
        >>> new.secret.startswith("slw_")
        True
    """

    def __init__(self, db: Database, sessions: SessionPolicy | None = None) -> None:
        self._db = db
        self.sessions = sessions or SessionPolicy()

    @api.get("/me")
    @requires(Permission.READ)
    def whoami(self) -> Identity:
        """The acting principal: in server mode the token's user (name, roles, permissions, address);
        embedded, the local user with every role."""
        who = current_principal()
        granted = sorted(p.value for p in permissions_of(who))
        return Identity(name=who.name, roles=sorted(who.roles), permissions=granted, source=who.source)

    # ----------------------------------------------------------------- users

    @api.post("/users", status=201)
    @requires(Permission.ADMIN)
    def create_user(self, name: str, roles: Roles) -> User:
        """Create a user holding ``roles`` (viewer, scientist, approver, admin, invoker).

        Args:
            name: 1 to 64 letters, digits, _ . @ -
            roles: any of viewer, scientist, approver, admin, invoker

        Raises:
            InvalidInput: for a bad name or an unknown role.
            AlreadyExists: if a user has that name.
        """
        name = check_name(name)
        checked = check_roles(list(roles))
        now, who = now_ms(), current_principal().name
        user_id = new_id()
        try:
            with self._db.write() as conn:
                conn.execute(
                    insert(users).values(
                        id=user_id, name=name, roles=",".join(checked), disabled=False,
                        created_by=who, created_at=now, updated_at=now,
                    )
                )
                record_change(conn, action="user.create", object_kind=ObjectKind.USER, object_id=name,
                              details={"after": {"roles": list(checked)}})
        except IntegrityError:
            raise AlreadyExists(f"user {name!r} already exists", field="name") from None
        return self.get_user(name)

    @api.get("/users/{name}")
    @requires(Permission.ADMIN)
    def get_user(self, name: str) -> User:
        with self._db.read() as conn:
            return _user(_user_row(conn, name))

    @api.get("/users")
    @requires(Permission.ADMIN)
    def list_users(self) -> list[User]:
        with self._db.read() as conn:
            return [_user(row) for row in conn.execute(select(users).order_by(users.c.name))]

    @api.patch("/users/{name}")
    @requires(Permission.ADMIN)
    def update_user(self, name: str, *, roles: list[str] | None = None, disabled: bool | None = None) -> User:
        """Change a user's roles or disable (or re-enable) them; a disabled user's tokens stop working at once.

        Raises:
            Conflict: when an admin would disable themselves or take away their own admin role
                (another admin must, so the server always keeps one).
        """
        checked = check_roles(roles) if roles is not None else None
        me = current_principal().name
        with self._db.write() as conn:
            row = _user_row(conn, name)
            if name == me and (disabled or (checked is not None and "admin" not in checked)):
                raise Conflict("you may not disable yourself or drop your own admin role: ask another admin",
                               field="user")
            values: dict[str, Any] = {"updated_at": now_ms()}
            before: dict[str, Any] = {}
            after: dict[str, Any] = {}
            if checked is not None and ",".join(checked) != row.roles:
                values["roles"] = ",".join(checked)
                before["roles"], after["roles"] = row.roles.split(","), list(checked)
            if disabled is not None and disabled != row.disabled:
                values["disabled"] = disabled
                before["disabled"], after["disabled"] = row.disabled, disabled
            if after:
                conn.execute(update(users).where(users.c.id == row.id).values(**values))
                action = "user.disable" if after.get("disabled") else "user.update"
                record_change(conn, action=action, object_kind=ObjectKind.USER, object_id=name,
                              details={"before": before, "after": after})
        return self.get_user(name)

    @composed
    def disable_user(self, name: str) -> User:
        """Disable ``name``: every request with one of their tokens is refused from now on."""
        return self.update_user(name, disabled=True)

    # ----------------------------------------------------------------- tokens

    @api.post("/tokens", status=201)
    @requires(Permission.READ)
    def create_token(
        self, user: str | None = None, *, name: str = "default", expires_in: Lifetime | None = None
    ) -> NewToken:
        """Create an API token for ``user`` (yourself by default); its secret is in the result, and only there.

        Args:
            user: whose token; yourself when omitted (someone else's: admins only)
            name: a label to tell your tokens apart
            expires_in: lifetime; never expires when omitted

        Raises:
            PermissionDenied: for someone else's token without the admin permission.
            NotFound: for an unknown user.
            InvalidInput: for a bad name or an expiry that is not in the future.
        """
        user = user or current_principal().name
        _require_self_or_admin(user)
        name = check_name(name, "name")
        if expires_in is not None and not dt.timedelta(0) < expires_in <= MAX_TOKEN_LIFETIME:
            raise InvalidInput("a token's lifetime must be positive and at most ten years (omit it: no expiry)",
                               field="expires_in")
        expires = None if expires_in is None else now_ms() + int(expires_in.total_seconds() * 1000)
        return self._new_token(user, name, API, expires)

    def _new_token(self, user: str, name: str, kind: str, expires: int | None) -> NewToken:
        secret, now, token_id = new_secret(), now_ms(), new_id()
        with self._db.write() as conn:
            row = _user_row(conn, user)
            conn.execute(
                insert(api_tokens).values(
                    id=token_id, user_id=row.id, name=name, kind=kind, hash=token_hash(secret),
                    created_by=current_principal().name, created_at=now, expires_at=expires,
                )
            )
            record_change(conn, action="token.create", object_kind=ObjectKind.TOKEN, object_id=token_id,
                          details={"user": user, "name": name, "kind": kind, "expires_at": expires})
            found = conn.execute(_TOKENS.where(api_tokens.c.id == token_id)).one()
        return NewToken(token=_token(found), secret=secret)

    @api.get("/tokens")
    @requires(Permission.READ)
    def list_tokens(self, user: str | None = None, *, include_inactive: bool = False) -> list[Token]:
        """Tokens of ``user`` (yourself by default; ``"*"`` for everyone's, admins only), newest first.

        Args:
            user: whose tokens (yours by default; * for all, admins only)
        """
        user = user or current_principal().name
        if user == "*":
            require(Permission.ADMIN)
        else:
            _require_self_or_admin(user)
        query = _TOKENS
        if user != "*":
            query = query.where(users.c.name == user)
        with self._db.read() as conn:
            if user != "*":
                _user_row(conn, user)
            found = [_token(row) for row in conn.execute(query.order_by(api_tokens.c.id.desc()))]
        now = dt.datetime.now(dt.UTC)
        return found if include_inactive else [t for t in found if t.active(now)]

    @api.post("/tokens/{token_id}/revoke")
    @requires(Permission.READ)
    def revoke_token(self, token_id: str) -> Token:
        """Revoke a token (your own, or anyone's as an admin); requests with it are refused from now on.

        Revoking a revoked token changes nothing and records nothing.
        """
        with self._db.write() as conn:
            row = conn.execute(_TOKENS.where(api_tokens.c.id == token_id)).first()
            if row is None or (row.user_name != current_principal().name and not has_permission(Permission.ADMIN)):
                # someone else's token looks the same as none: ids are not for guessing
                raise NotFound(f"no token with id {token_id!r} among yours", field="token_id")
            if row.revoked_at is None:
                conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=now_ms()))
                record_change(conn, action="token.revoke", object_kind=ObjectKind.TOKEN, object_id=token_id,
                              details={"user": row.user_name, "name": row.name})
            return _token(conn.execute(_TOKENS.where(api_tokens.c.id == token_id)).one())

    # ----------------------------------------------------------------- web UI sessions

    @requires(Permission.READ)
    def start_session(self) -> NewToken:
        """Trade the caller's API token for a session token of the same user, what the web UI's cookie holds.

        The session expires :attr:`SessionPolicy.ttl` after login and is renewed only by
        :meth:`renew_session`; logging out (:meth:`end_session`) revokes it on the server.

        Raises:
            PermissionDenied: when the caller is not signed in with an API token (a session cannot
                start another, which would extend it for ever).
        """
        token = self._calling_token()
        if token.kind != API:
            raise PermissionDenied("log in with an API token: a session cannot start another session", field="token")
        expires = now_ms() + int(self.sessions.ttl.total_seconds() * 1000)
        return self._new_token(token.user, "web-ui", SESSION, expires)

    @api.post("/session/renew")
    @requires(Permission.READ)
    def renew_session(self) -> Token:
        """Give the caller's session :attr:`SessionPolicy.ttl` more from now, up to ``max_age`` after login.

        A session renewed again and again still ends ``max_age`` after login: then log in again.

        Raises:
            Conflict: when the caller's token is not a session.
        """
        token = self._calling_token()
        if token.kind != SESSION:
            raise Conflict("only a web UI session is renewed; an API token keeps the expiry it was made with",
                           field="token")
        # The session is valid (the caller was let in), so it is younger than max_age: until is ahead.
        until = min(dt.datetime.now(dt.UTC) + self.sessions.ttl, token.created_at + self.sessions.max_age)
        with self._db.write() as conn:
            conn.execute(update(api_tokens).where(api_tokens.c.id == token.id)
                         .values(expires_at=datetime_to_ms(until, "until")))
            record_change(conn, action="token.renew", object_kind=ObjectKind.TOKEN, object_id=token.id,
                          details={"user": token.user, "expires_at": until.isoformat()})
            return _token(conn.execute(_TOKENS.where(api_tokens.c.id == token.id)).one())

    @api.post("/logout")
    @requires(Permission.READ)
    def end_session(self) -> Token:
        """Log out: revoke the token the caller signed in with (a UI session, or the API token itself).

        Raises:
            Conflict: when the caller holds no token (embedded mode, ``--no-auth``).
        """
        return self.revoke_token(self._calling_token().id)

    def _calling_token(self) -> Token:
        principal = current_principal()
        if principal.token_id is None:
            raise Conflict(f"{principal.name} is not signed in with a token: there is no session", field="token")
        with self._db.read() as conn:
            return _token(conn.execute(_TOKENS.where(api_tokens.c.id == principal.token_id)).one())

    # ----------------------------------------------------------------- audit trail

    @api.get("/audit")
    @requires(Permission.AUDIT)
    def audit_entries(
        self,
        *,
        user: str | None = None,
        object_id: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: Annotated[int, Field(ge=1, le=MAX_AUDIT_LIMIT)] = 100,
    ) -> list[AuditEntry]:
        """The newest ``limit`` audit entries matching the filters, oldest first (see :func:`audit_entries`).

        Args:
            since: ISO 8601 with a time zone
            until: ISO 8601 with a time zone
        """
        if not 1 <= limit <= MAX_AUDIT_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_AUDIT_LIMIT}", field="limit")
        for field, value in (("since", since), ("until", until)):
            if value is not None:
                check_aware(value, field)
        with self._db.read() as conn:
            return audit_entries(conn, actor=user, object_id=object_id, since=since, until=until, limit=limit)

    @api.get("/audit/verify")
    @requires(Permission.AUDIT)
    def verify_audit(self, head: str | None = None) -> AuditCheck:
        """Check every link of the chain; with ``head`` (a hash from an earlier check), also that it is still there.

        A removed tail leaves a chain that holds: only a head recorded elsewhere before can show it.

        Raises:
            Conflict: when ``head`` is given and no entry has it any longer.
        """
        with self._db.read() as conn:
            check = check_audit_chain(conn)
            if head is not None and check.ok and not holds_hash(conn, head):
                raise Conflict(
                    f"the audit trail no longer holds the entry with hash {head}: entries were removed, or the "
                    "chain was rewritten up to it",
                    field="head",
                )
        return check
