"""Reaching a Ray cluster: the one place that imports Ray and connects to it.

Ray is an optional engine (``pip install 'slipway[ray]'``); nothing imports it until a caller asks
for distributed work (a pipeline's Ray executor, distributed trials or training, statistics or a
batch transform on Ray Data).
"""

from __future__ import annotations

import os
from typing import Any

from slipway.errors import MissingExtra


def ray_module() -> Any:
    """The ``ray`` module.

    Raises:
        MissingExtra: without Ray installed.
    """
    try:
        import ray
    except ImportError:
        raise MissingExtra("ray", "ray") from None
    return ray


def connect_ray(address: str | None = None) -> Any:
    """The ``ray`` module, connected: to the cluster this process is part of already (a Ray task,
    or ``ray.init`` called), else to ``address`` (by default ``RAY_ADDRESS``), else a new local one.

    Connecting has a global effect: the process stays connected until ``ray.shutdown()``.

    Raises:
        MissingExtra: without Ray installed.
    """
    ray = ray_module()
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address)
        else:
            ray.init(include_dashboard=False)
    return ray
