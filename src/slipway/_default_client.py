"""The process's default client, as the layers below the faces reach it.

The default client belongs to the SDK face (``slipway.get_client()``), which is built on every
domain. A domain that offers a call without an explicit client, such as ``Pipeline.run()``, asks
this module for it at call time; the face installs its provider when ``slipway`` is imported,
which Python does before any ``slipway.<domain>`` module runs. So no domain imports the face, and
the provider is the face's own ``get_client``, with its lock and its ``set_client``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slipway.errors import InvalidInput

_provider: Callable[[], Any] | None = None


def install_provider(provider: Callable[[], Any]) -> None:
    """Make ``provider`` the source of the default client (the SDK face calls this once)."""
    global _provider
    _provider = provider


def default_client() -> Any:
    """The default client (a ``slipway.Client``).

    Raises:
        InvalidInput: if no face has installed a provider, which only a process that loaded a
            domain module without the ``slipway`` package could see.
    """
    if _provider is None:
        raise InvalidInput("there is no default client in this process: pass client=", field="client")
    return _provider()
