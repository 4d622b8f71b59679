"""Who may approve a model version, move a protected alias and mark a version trusted.

The registry consults one :class:`ApprovalPolicy` before every status change and alias move. The
default allows everything, which is right for embedded mode (the local user owns the store); the
server builds a stricter policy from its security settings. Keeping the rules here, not in the
faces, means the SDK, the CLI and the REST API refuse the same things with the same message.
"""

from __future__ import annotations

from dataclasses import dataclass

from slipway._config import DEFAULT_PROTECTED_ALIASES
from slipway._principal import Principal
from slipway.errors import PermissionDenied
from slipway.registry._records import ApprovalStatus

APPROVER_ROLES = frozenset({"approver", "admin"})


@dataclass(frozen=True)
class ApprovalPolicy:
    """The rules status changes and alias moves must pass.

    Attributes:
        require_approver_role: only principals with the ``approver`` (or ``admin``) role may
            approve or reject a version, or move a protected alias.
        forbid_self_approval: nobody may approve a version they registered themselves (four eyes).
        protected_aliases: aliases that point only at Approved versions and move only with the
            approve permission (and, with ``require_approver_role``, the approver role); the
            setting ``protected_aliases`` names them (default ``prod``, ``production``, ``champion``).

    Example:
        >>> strict = ApprovalPolicy(require_approver_role=True, forbid_self_approval=True)
    """

    require_approver_role: bool = False
    forbid_self_approval: bool = False
    protected_aliases: frozenset[str] = frozenset(DEFAULT_PROTECTED_ALIASES)

    def check_status_change(self, who: Principal, to_status: ApprovalStatus, registered_by: str) -> None:
        """Refuse a change of approval status ``who`` may not make.

        Raises:
            PermissionDenied: saying which rule refused it.
        """
        if self.require_approver_role and not who.roles & APPROVER_ROLES:
            raise PermissionDenied(
                f"{who.name} may not set a model version to {to_status.value}: that needs the approver role"
            )
        if self.forbid_self_approval and to_status is ApprovalStatus.APPROVED and who.name == registered_by:
            raise PermissionDenied(f"{who.name} registered this version and may not approve it: another approver must")

    def check_alias_move(self, who: Principal, alias: str, registered_by: str | None = None) -> None:
        """Refuse to let ``who`` move or remove a protected alias without the approver role, or,
        under separation of duties, point it at a version ``who`` registered (``registered_by``):
        that would put their own model in production without another approver.

        Raises:
            PermissionDenied: naming the alias.
        """
        protected = alias in self.protected_aliases
        if self.require_approver_role and protected and not who.roles & APPROVER_ROLES:
            raise PermissionDenied(f"{who.name} may not move the alias {alias!r}: that needs the approver role")
        if self.forbid_self_approval and protected and who.name == registered_by:
            raise PermissionDenied(
                f"{who.name} registered this version and may not give it the alias {alias!r}: another approver must"
            )

    def check_trust(self, who: Principal, registered_by: str) -> None:
        """Refuse, under separation of duties, to let ``who`` vouch for a version they registered.

        Marking a version trusted lets a server run the code its files hold when it loads them: a
        second person must look first, as for approval. Revoking the mark is never refused.

        Raises:
            PermissionDenied: naming the rule.
        """
        if self.forbid_self_approval and who.name == registered_by:
            raise PermissionDenied(
                f"{who.name} registered this version and may not mark it trusted: another admin must"
            )
