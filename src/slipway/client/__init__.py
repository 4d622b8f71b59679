"""The SDK client, embedded or remote."""

from typing import TYPE_CHECKING

from slipway.client._client import Client
from slipway.client._tracking import RemoteTracking

if TYPE_CHECKING:
    from slipway.client._invoke import invoke_endpoint

__all__ = ["Client", "RemoteTracking", "invoke_endpoint"]


def __getattr__(name: str) -> object:
    # Serving brings the model flavors and Starlette: load it only when an endpoint is invoked.
    if name == "invoke_endpoint":
        from slipway.client._invoke import invoke_endpoint

        return invoke_endpoint
    raise AttributeError(f"module 'slipway.client' has no attribute {name!r}")
