"""Remote users, tokens and audit trail: :class:`slipway.security.SecurityService`'s declared operations over HTTP.

Every method is derived (:mod:`slipway.client._operations`); the server checks every permission.
"""

from slipway.client._operations import derived_client
from slipway.security import SecurityService

RemoteSecurity = derived_client(SecurityService, "RemoteSecurity", __name__)
