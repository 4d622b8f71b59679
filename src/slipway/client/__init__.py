"""The SDK client, embedded or remote."""

import importlib
from typing import TYPE_CHECKING

from slipway.client._client import Client
from slipway.client._tracking import RemoteTracking

if TYPE_CHECKING:
    from slipway.client._invoke import invoke_endpoint
    from slipway.client._protocols import (
        AutomationApi,
        ClarifyApi,
        DatasetsApi,
        FeaturesApi,
        LineageApi,
        MonitoringApi,
        PipelinesApi,
        RegistryApi,
        SecurityApi,
        ServingApi,
        TrackingApi,
    )

__all__ = [
    "AutomationApi",
    "ClarifyApi",
    "Client",
    "DatasetsApi",
    "FeaturesApi",
    "LineageApi",
    "MonitoringApi",
    "PipelinesApi",
    "RegistryApi",
    "RemoteTracking",
    "SecurityApi",
    "ServingApi",
    "TrackingApi",
    "invoke_endpoint",
]

# Loaded on first use: serving brings the model flavors; the Protocols bring every domain's records.
_LAZY = {
    "invoke_endpoint": "slipway.client._invoke",
    "AutomationApi": "slipway.client._protocols",
    "ClarifyApi": "slipway.client._protocols",
    "DatasetsApi": "slipway.client._protocols",
    "FeaturesApi": "slipway.client._protocols",
    "LineageApi": "slipway.client._protocols",
    "MonitoringApi": "slipway.client._protocols",
    "PipelinesApi": "slipway.client._protocols",
    "RegistryApi": "slipway.client._protocols",
    "SecurityApi": "slipway.client._protocols",
    "ServingApi": "slipway.client._protocols",
    "TrackingApi": "slipway.client._protocols",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'slipway.client' has no attribute {name!r}")
