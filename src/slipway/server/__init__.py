"""The REST server: the tracking API under ``/api/v1`` with an OpenAPI spec at ``/openapi.json``.

Example:
    >>> from slipway import load_settings
    >>> from slipway.server import serve
    >>> serve(load_settings(), port=5000)  # doctest: +SKIP
"""

from slipway.server._app import create_app, serve
from slipway.server._workers import run_workers

__all__ = [
    "create_app",
    "run_workers",
    "serve",
]
