"""The ``slipway`` command line: a face over the services, translating arguments and rendering results.

Each command group lives in its own module (``_config``, ``_db``, ``_server``, ``_experiments``,
``_runs``); ``_output`` holds the rendering they share. Nothing here holds a business rule.

Example:
    >>> from typer.testing import CliRunner
    >>> from slipway.cli import app
    >>> CliRunner().invoke(app, ["--version"]).output  # doctest: +ELLIPSIS
    'slipway ...'
"""

from slipway.cli._main import app, main

__all__ = ["app", "main"]
