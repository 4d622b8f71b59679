"""The check point: every public method of every domain service declares the permission it needs.

The REST matrix covers the routes; this covers what the SDK, the CLI and the UI call directly, so
a new service method cannot skip the check unnoticed.
"""

from __future__ import annotations

import inspect

import pytest

from slipway._principal import Principal, acting_as
from slipway.automation import AutomationService
from slipway.datasets import DatasetService
from slipway.errors import InvalidInput, PermissionDenied
from slipway.features import FeatureService
from slipway.lineage import LineageService
from slipway.monitoring import MonitoringService
from slipway.pipelines import PipelineService
from slipway.registry import RegistryService
from slipway.security import Permission, SecurityService, check_roles, require
from slipway.security._permissions import PERMISSION_ATTRIBUTE
from slipway.serving import ServingService
from slipway.tracking import TrackingService

SERVICES = [TrackingService, RegistryService, DatasetService, FeatureService, PipelineService, ServingService,
            MonitoringService, LineageService, SecurityService, AutomationService]
# Lifecycle, conveniences that only call checked methods of their own class, and incoming webhooks
# (signed with the hook's secret: no token, and the action runs as the hook's creator; a worker
# runs a recorded run's action as its creator too). ``batch`` only groups writes whose own methods
# are checked into one transaction.
UNCHECKED = {"close", "batch", "disable_user", "read_violations", "read_drift", "read_statistics", "download_report",
             "receive_hook", "accept_hook", "run_action"}


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.__name__)
def test_every_public_service_method_declares_a_permission(service: type) -> None:
    unchecked = [
        name for name, member in inspect.getmembers(service, inspect.isfunction)
        if not name.startswith("_") and name not in UNCHECKED and not hasattr(member, PERMISSION_ATTRIBUTE)
    ]
    assert not unchecked, f"decorate these with @requires(Permission....): {unchecked}"


def test_require_names_who_what_and_which_roles_grant_it() -> None:
    with acting_as(Principal("vic", frozenset({"viewer"}))), pytest.raises(PermissionDenied) as refused:
        require(Permission.APPROVE)
    assert refused.value.message == "vic may not do this: it needs the approve permission (roles: approver, admin)"
    require(Permission.APPROVE)  # embedded: the local user holds every role


def test_unknown_roles_are_refused_by_name() -> None:
    with pytest.raises(InvalidInput, match="unknown role.*root; the roles are viewer, scientist, approver, admin"):
        check_roles(["root", "viewer"])
    assert check_roles(["admin", "viewer", "admin"]) == ("viewer", "admin")
