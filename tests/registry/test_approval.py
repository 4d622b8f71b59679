"""Approval status and its history, and the policy that guards approvals and protected aliases."""

from pathlib import Path

import pytest

from slipway._principal import Principal, acting_as
from slipway.errors import Conflict, InvalidInput, PermissionDenied
from slipway.registry import ApprovalPolicy, ApprovalStatus, RegistryService


def test_every_status_change_is_kept_with_who_when_and_why(registry: RegistryService, package: Path) -> None:
    registry.register_model("g", package)
    with acting_as(Principal("ana")):
        approved = registry.approve("g", 1, comment="beats the baseline by 0.4")
    with acting_as(Principal("bo")):
        rejected = registry.update_status("g", 1, "rejected", comment="leaks the label")
        registry.update_status("g", 1, "PendingManualApproval")
    assert (approved.status, approved.updated_by) == (ApprovalStatus.APPROVED, "ana")
    assert (rejected.status, rejected.updated_by) == (ApprovalStatus.REJECTED, "bo")
    history = registry.status_history("g", 1)
    assert [(h.from_status.value, h.to_status.value, h.changed_by, h.comment) for h in history] == [
        ("PendingManualApproval", "Approved", "ana", "beats the baseline by 0.4"),
        ("Approved", "Rejected", "bo", "leaks the label"),
        ("Rejected", "PendingManualApproval", "bo", None),
    ]
    assert history[0].changed_at <= history[1].changed_at <= history[2].changed_at


def test_setting_the_same_status_records_nothing(registry: RegistryService, package: Path) -> None:
    registry.register_model("g", package)
    registry.approve("g", 1)
    registry.approve("g", 1)
    assert len(registry.status_history("g", 1)) == 1


def test_expected_status_turns_a_stale_decision_into_a_conflict(registry: RegistryService, package: Path) -> None:
    registry.register_model("g", package)
    registry.reject("g", 1)
    with pytest.raises(Conflict, match="is Rejected, not PendingManualApproval"):
        registry.update_status("g", 1, "Approved", expected_status="PendingManualApproval")
    assert registry.get_version("g", 1).status is ApprovalStatus.REJECTED


def test_unknown_status_names_the_field(registry: RegistryService, package: Path) -> None:
    registry.register_model("g", package)
    with pytest.raises(InvalidInput, match="PendingManualApproval, Approved, Rejected") as exc:
        registry.update_status("g", 1, "shipped")
    assert exc.value.field == "status"


def _strict(registry: RegistryService, **rules: bool) -> RegistryService:
    registry.policy = ApprovalPolicy(**rules)
    return registry


def test_only_approvers_may_approve_when_the_policy_says_so(registry: RegistryService, package: Path) -> None:
    _strict(registry, require_approver_role=True)
    scientist = Principal("sam", roles=frozenset({"scientist"}))
    with acting_as(scientist):
        registry.register_model("g", package)
        with pytest.raises(
            PermissionDenied, match="sam may not set a model version to Approved: it needs the approve permission"
        ):
            registry.approve("g", 1)
        with pytest.raises(PermissionDenied):
            registry.reject("g", 1)
    with acting_as(Principal("alex", roles=frozenset({"approver"}))):
        assert registry.approve("g", 1).status is ApprovalStatus.APPROVED
    with acting_as(Principal("root", roles=frozenset({"admin"}))):
        assert registry.reject("g", 1).status is ApprovalStatus.REJECTED


def test_only_approvers_may_move_protected_aliases(registry: RegistryService, package: Path) -> None:
    _strict(registry, require_approver_role=True)
    with acting_as(Principal("sam", roles=frozenset({"scientist"}))):
        registry.register_model("g", package)
        registry.set_alias("g", "staging", 1)  # not protected
        with pytest.raises(PermissionDenied, match="may not move the alias 'prod'"):
            registry.set_alias("g", "prod", 1)
    with acting_as(Principal("alex", roles=frozenset({"approver"}))):
        registry.approve("g", 1)
        registry.set_alias("g", "prod", 1)
    with acting_as(Principal("sam", roles=frozenset({"scientist"}))), pytest.raises(PermissionDenied):
        registry.remove_alias("g", "prod")
    assert registry.get_group("g").aliases == {"prod": 1, "staging": 1}


def test_the_registrant_may_not_approve_their_own_version(registry: RegistryService, package: Path) -> None:
    _strict(registry, forbid_self_approval=True)
    with acting_as(Principal("ana")):
        registry.register_model("g", package)
        with pytest.raises(PermissionDenied, match="ana registered this version and may not approve it"):
            registry.approve("g", 1)
        with pytest.raises(PermissionDenied, match="ana registered this version and may not give it the alias 'prod'"):
            registry.set_alias("g", "prod", 1)  # no way round the approval: prod is another approver's call too
        registry.set_alias("g", "candidate", 1)  # an unprotected alias is anyone's
        assert registry.reject("g", 1).status is ApprovalStatus.REJECTED  # withdrawing one's own is fine
    with acting_as(Principal("bo")):
        assert registry.approve("g", 1).status is ApprovalStatus.APPROVED
    assert [h.changed_by for h in registry.status_history("g", 1)] == ["ana", "bo"]


def test_the_default_policy_lets_the_local_user_do_everything(registry: RegistryService, package: Path) -> None:
    registry.register_model("g", package)
    registry.approve("g", 1)
    registry.set_alias("g", "prod", 1)
    assert registry.get_version("g", 1).aliases == ["prod"]
