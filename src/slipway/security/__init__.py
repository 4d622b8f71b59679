"""Identity and access: users, API tokens, roles and their permissions, and the audit trail.

Domain services call :func:`require` (or decorate a method with :func:`requires`) at their one
check point, so the SDK, the CLI, the REST API and the UI obey the same rules. The server turns a
request's token into the acting principal with :func:`authenticate`.
"""

from slipway.security._permissions import (
    PERMISSION_ATTRIBUTE,
    ROLE_PERMISSIONS,
    Permission,
    check_roles,
    has_permission,
    permissions_of,
    require,
    requires,
)
from slipway.security._records import Identity, NewToken, Token, User
from slipway.security._service import (
    MAX_AUDIT_LIMIT,
    MAX_TOKEN_LIFETIME,
    Lifetime,
    Roles,
    SecurityService,
    SessionPolicy,
)
from slipway.security._tokens import authenticate, current_user

__all__ = [
    "Identity",
    "Lifetime",
    "MAX_AUDIT_LIMIT",
    "MAX_TOKEN_LIFETIME",
    "NewToken",
    "PERMISSION_ATTRIBUTE",
    "Permission",
    "ROLE_PERMISSIONS",
    "Roles",
    "SecurityService",
    "SessionPolicy",
    "Token",
    "User",
    "authenticate",
    "check_roles",
    "current_user",
    "has_permission",
    "permissions_of",
    "require",
    "requires",
]
