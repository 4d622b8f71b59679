"""REST routes of identity and audit: users, API tokens, the caller's own identity, the audit trail.

Each route translates a request and calls :class:`~slipway.security.SecurityService`, which checks
the permissions (users: admin; own tokens: anyone signed in; audit: approvers and admins).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from slipway.events import AuditCheck, AuditEntry
from slipway.security import MAX_TOKEN_LIFETIME, Identity, NewToken, Permission, SecurityService, Token, User
from slipway.server._guard import needs
from slipway.server._operations import JSON_BODY_LIMIT


async def _security(request: Request) -> SecurityService:
    service: SecurityService = request.app.state.backend.security
    return service


Security = Annotated[SecurityService, Depends(_security)]
router = APIRouter(tags=["security"], max_body_size=JSON_BODY_LIMIT)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateUser(_Body):
    name: str = Field(description="1 to 64 letters, digits, _ . @ -")
    roles: list[str] = Field(description="any of viewer, scientist, approver, admin")


class UpdateUser(_Body):
    roles: list[str] | None = None
    disabled: bool | None = None


class CreateToken(_Body):
    user: str | None = Field(None, description="whose token; yourself when omitted (someone else's: admins only)")
    name: str = Field("default", description="a label to tell your tokens apart")
    expires_in_seconds: float | None = Field(
        None, gt=0, le=MAX_TOKEN_LIFETIME.total_seconds(), description="lifetime; never expires when omitted"
    )


@router.get("/me", dependencies=[needs(Permission.READ)])
def whoami(security: Security) -> Identity:
    """The caller's identity as the server sees it: name, roles, permissions, address."""
    return security.whoami()


@router.post("/users", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.ADMIN)])
def create_user(body: CreateUser, security: Security) -> User:
    return security.create_user(body.name, body.roles)


@router.get("/users", dependencies=[needs(Permission.ADMIN)])
def list_users(security: Security) -> list[User]:
    return security.list_users()


@router.get("/users/{name}", dependencies=[needs(Permission.ADMIN)])
def get_user(name: str, security: Security) -> User:
    return security.get_user(name)


@router.patch("/users/{name}", dependencies=[needs(Permission.ADMIN)])
def update_user(name: str, body: UpdateUser, security: Security) -> User:
    return security.update_user(name, roles=body.roles, disabled=body.disabled)


@router.post("/tokens", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.READ)])
def create_token(body: CreateToken, security: Security) -> NewToken:
    """Create a token; the answer holds its secret, which is never shown again."""
    expires = None if body.expires_in_seconds is None else dt.timedelta(seconds=body.expires_in_seconds)
    return security.create_token(body.user, name=body.name, expires_in=expires)


@router.get("/tokens", dependencies=[needs(Permission.READ)])
def list_tokens(
    security: Security,
    user: Annotated[str | None, Query(description="whose tokens (yours by default; * for all, admins only)")] = None,
    include_inactive: bool = False,
) -> list[Token]:
    return security.list_tokens(user, include_inactive=include_inactive)


@router.post("/tokens/{token_id}/revoke", dependencies=[needs(Permission.READ)])
def revoke_token(token_id: str, security: Security) -> Token:
    return security.revoke_token(token_id)


@router.post("/logout", dependencies=[needs(Permission.READ)])
def log_out(security: Security) -> Token:
    """Revoke the token this request carries: a web UI session, or the API token itself."""
    return security.end_session()


@router.post("/session/renew", dependencies=[needs(Permission.READ)])
def renew_session(security: Security) -> Token:
    """Give the calling UI session ``session_ttl`` more from now (never past ``session_max_age`` after login)."""
    return security.renew_session()


@router.get("/audit", dependencies=[needs(Permission.AUDIT)])
def list_audit(
    security: Security,
    user: str | None = None,
    object_id: str | None = None,
    since: Annotated[dt.datetime | None, Query(description="ISO 8601 with a time zone")] = None,
    until: Annotated[dt.datetime | None, Query(description="ISO 8601 with a time zone")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[AuditEntry]:
    return security.audit_entries(user=user, object_id=object_id, since=since, until=until, limit=limit)


@router.get("/audit/verify", dependencies=[needs(Permission.AUDIT)])
def verify_audit(security: Security, head: str | None = None) -> AuditCheck:
    """Check the hash chain; ``head`` (a hash from an earlier check) must still be in it."""
    return security.verify_audit(head)
