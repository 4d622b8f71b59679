"""The SDK client, embedded or remote."""

from slipway.client._client import Client
from slipway.client._tracking import RemoteTracking

__all__ = ["Client", "RemoteTracking"]
