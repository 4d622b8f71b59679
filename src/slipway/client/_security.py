"""Remote users, tokens and audit trail: the same calls as :class:`slipway.security.SecurityService` over HTTP."""

from __future__ import annotations

import datetime as dt

from slipway.client._http import HttpSession
from slipway.client._operations import parse as _parse
from slipway.client._operations import url_path as _url_path
from slipway.events import AuditCheck, AuditEntry
from slipway.security import Identity, NewToken, Token, User


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class RemoteSecurity:
    """Users, tokens and the audit trail of a ``slipway server``; the server checks every permission."""

    def __init__(self, http: HttpSession) -> None:
        self._http = http

    def whoami(self) -> Identity:
        return _parse(Identity, self._http.request("GET", "/me"))

    def create_user(self, name: str, roles: list[str] | tuple[str, ...]) -> User:
        return _parse(User, self._http.request("POST", "/users", json={"name": name, "roles": list(roles)}))

    def get_user(self, name: str) -> User:
        return _parse(User, self._http.request("GET", f"/users/{_url_path(name)}"))

    def list_users(self) -> list[User]:
        return _parse(list[User], self._http.request("GET", "/users"))

    def update_user(self, name: str, *, roles: list[str] | None = None, disabled: bool | None = None) -> User:
        body = {"roles": roles, "disabled": disabled}
        return _parse(User, self._http.request("PATCH", f"/users/{_url_path(name)}", json=body))

    def disable_user(self, name: str) -> User:
        return self.update_user(name, disabled=True)

    def create_token(
        self, user: str | None = None, *, name: str = "default", expires_in: dt.timedelta | None = None
    ) -> NewToken:
        seconds = None if expires_in is None else expires_in.total_seconds()
        body = {"user": user, "name": name, "expires_in_seconds": seconds}
        return _parse(NewToken, self._http.request("POST", "/tokens", json=body))

    def list_tokens(self, user: str | None = None, *, include_inactive: bool = False) -> list[Token]:
        params = {"user": user, "include_inactive": include_inactive}
        return _parse(list[Token], self._http.request("GET", "/tokens", params=params))

    def revoke_token(self, token_id: str) -> Token:
        return _parse(Token, self._http.request("POST", f"/tokens/{_url_path(token_id)}/revoke"))

    def renew_session(self) -> Token:
        return _parse(Token, self._http.request("POST", "/session/renew"))

    def end_session(self) -> Token:
        """Log out: the server revokes the token this client sends (see ``POST /api/v1/logout``)."""
        return _parse(Token, self._http.request("POST", "/logout"))

    def audit_entries(
        self,
        *,
        user: str | None = None,
        object_id: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        params = {"user": user, "object_id": object_id, "since": _iso(since), "until": _iso(until), "limit": limit}
        return _parse(list[AuditEntry], self._http.request("GET", "/audit", params=params))

    def verify_audit(self, head: str | None = None) -> AuditCheck:
        return _parse(AuditCheck, self._http.request("GET", "/audit/verify", params={"head": head}))
