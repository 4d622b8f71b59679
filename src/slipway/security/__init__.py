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
from slipway.security._service import MAX_TOKEN_LIFETIME, SecurityService, SessionPolicy
from slipway.security._tokens import authenticate, current_user

__all__ = [
    "MAX_TOKEN_LIFETIME",
    "PERMISSION_ATTRIBUTE",
    "ROLE_PERMISSIONS",
    "Identity",
    "NewToken",
    "Permission",
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
