"""Roles, the permissions they grant, and the one check every domain service makes.

Permissions are coarse on purpose: a user understands "viewers read, scientists change, approvers
approve and deploy to production, admins manage users", and a handful of names is easy to audit.

=================  ======  =========  ========  =====  =======
permission         viewer  scientist  approver  admin  invoker
=================  ======  =========  ========  =====  =======
read               yes     yes        yes       yes    .
write              .       yes        .         yes    .
approve            .       .          yes       yes    .
deploy_production  .       .          yes       yes    .
audit              .       .          yes       yes    .
admin              .       .          .         yes    .
invoke             .       yes        yes       yes    yes
=================  ======  =========  ========  =====  =======

``invoke`` is calling a served endpoint (its inference routes, on ``slipway server`` and on a
``slipway serve`` that checks tokens). A viewer does not hold it: an invocation is no read, it runs
the model, writes captured records and counts in a rollout's alarms. Scientists (who test what they
deploy), approvers (who check a production rollout) and admins do; ``invoker`` holds nothing else,
for the token of an application that only calls endpoints.

A user holds one or more roles; their permissions are the union. Embedded mode trusts the local
user with every role, so these checks only ever refuse in server mode (see
:mod:`slipway._principal`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import StrEnum
from typing import ParamSpec, TypeVar

from slipway._principal import ROLES, Principal, current_principal
from slipway.errors import InvalidInput, PermissionDenied


class Permission(StrEnum):
    """What an operation needs; a role grants a set of them (see the module's table)."""

    READ = "read"
    WRITE = "write"  # run, log, register, create and change non-production objects
    APPROVE = "approve"  # approve or reject model versions, move protected aliases such as prod
    DEPLOY_PRODUCTION = "deploy_production"  # create, change or remove production endpoints
    AUDIT = "audit"  # read and verify the audit trail
    ADMIN = "admin"  # users, other people's tokens, forcing unapproved versions, revealing secrets
    INVOKE = "invoke"  # call served endpoints (the data plane)


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "viewer": frozenset({Permission.READ}),
    "scientist": frozenset({Permission.READ, Permission.WRITE, Permission.INVOKE}),
    "approver": frozenset(
        {Permission.READ, Permission.APPROVE, Permission.DEPLOY_PRODUCTION, Permission.AUDIT, Permission.INVOKE}
    ),
    "admin": frozenset(Permission),
    "invoker": frozenset({Permission.INVOKE}),
}
assert set(ROLE_PERMISSIONS) == set(ROLES), "every role of slipway._principal has its permissions here"


def permissions_of(principal: Principal) -> frozenset[Permission]:
    """The union of what ``principal``'s roles grant (unknown role names grant nothing)."""
    return _granted(frozenset(principal.roles))


@functools.lru_cache(maxsize=64)
def _granted(roles: frozenset[str]) -> frozenset[Permission]:
    """Computed once per set of roles: every service call asks."""
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)


def check_roles(roles: object, field: str = "roles") -> tuple[str, ...]:
    """Validate a list of role names; return them in the canonical order, without repeats.

    Raises:
        InvalidInput: for an empty list or a name that is not a role, naming the known roles.
    """
    if isinstance(roles, str):
        roles = [r.strip() for r in roles.split(",") if r.strip()]
    if not isinstance(roles, list | tuple | set | frozenset) or not roles:
        raise InvalidInput(f"{field} must name at least one of {', '.join(ROLES)}", field=field)
    unknown = sorted(str(r) for r in roles if r not in ROLES)
    if unknown:
        raise InvalidInput(f"unknown role(s) {', '.join(unknown)}; the roles are {', '.join(ROLES)}", field=field)
    return tuple(r for r in ROLES if r in roles)


def has_permission(permission: Permission, principal: Principal | None = None) -> bool:
    """Whether ``principal`` (the current one by default) holds ``permission``."""
    return permission in permissions_of(principal or current_principal())


def require(permission: Permission | str, what: str = "do this") -> None:
    """Refuse the current operation unless the acting principal holds ``permission``.

    Args:
        permission: what the operation needs.
        what: the operation, for the message ("move the alias 'prod'").

    Raises:
        PermissionDenied: naming the principal, the permission and the roles that grant it (HTTP 403).

    Example:
        >>> require(Permission.READ)  # embedded mode: the local user holds every role
    """
    wanted = Permission(permission)
    principal = current_principal()
    if wanted not in permissions_of(principal):
        granting = ", ".join(role for role, perms in ROLE_PERMISSIONS.items() if wanted in perms)
        raise PermissionDenied(
            f"{principal.name} may not {what}: it needs the {wanted.value} permission (roles: {granting})",
            details={"permission": wanted.value, "roles": sorted(principal.roles)},
        )


P = ParamSpec("P")
R = TypeVar("R")

PERMISSION_ATTRIBUTE = "__slipway_permission__"


def requires(permission: Permission) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a service method so it checks ``permission`` before doing anything else.

    The check runs when the method is called, before any lookup, so a caller without the right
    learns nothing from a 404. A method whose permission depends on its arguments (a production
    endpoint, someone else's token) declares the least it needs here and checks the rest inside.
    The decorated method carries the permission as ``__slipway_permission__``, so a test can
    assert every public service method declares one.
    """

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            require(permission)
            return method(*args, **kwargs)

        setattr(checked, PERMISSION_ATTRIBUTE, permission)
        return checked

    return decorate
