"""Who is acting: the principal every service call is attributed to.

Embedded mode trusts the local user (from the OS, with every role). The server sets the
principal of each request from its token with :func:`acting_as`; a context variable keeps it
per request and per thread, never in a module global that leaks between requests.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import getpass
from collections.abc import Iterator
from dataclasses import dataclass, field

ROLES = ("viewer", "scientist", "approver", "admin", "invoker")


@dataclass(frozen=True)
class Principal:
    """Who acts: a name, the roles held now, and where the call came from.

    ``token_id`` is the id of the API or session token that authenticated the call; it is set only
    for a user account of the security domain, whose rights an admin can take away. The trusted
    local user (embedded mode), ``--no-auth``'s ``anonymous`` and automations have none.
    """

    name: str
    roles: frozenset[str] = field(default_factory=lambda: frozenset(ROLES))
    source: str = "embedded"
    token_id: str | None = None

    @property
    def account(self) -> bool:
        """Whether the principal is a user account (authenticated by a token), not a trusted local one."""
        return self.token_id is not None


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("slipway_principal", default=None)


@functools.cache
def _local_user() -> str:
    """The account this process runs as: read once (every service call asks)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "local"


def current_principal() -> Principal:
    principal = _current.get()
    return principal if principal is not None else Principal(_local_user())


@contextlib.contextmanager
def acting_as(principal: Principal) -> Iterator[Principal]:
    token = _current.set(principal)
    try:
        yield principal
    finally:
        _current.reset(token)
