"""Remote users, tokens and audit trail: :class:`slipway.security.SecurityService`'s declared operations over HTTP.

Every method is derived (:mod:`slipway.client._operations`); the server checks every permission.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slipway.client._operations import RemoteApi, remote
from slipway.security import SecurityService

if TYPE_CHECKING:
    from slipway.client._protocols import SecurityApi as Declared  # for mypy: the derived methods
else:
    Declared = object


@remote(SecurityService)
class RemoteSecurity(RemoteApi, Declared):
    """Users, tokens and the audit trail of a ``slipway server``: the same methods, records and errors as
    :class:`~slipway.security.SecurityService`, which documents each of them."""
