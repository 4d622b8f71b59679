"""``python -m slipway``: the CLI, for environments where the ``slipway`` script is not on PATH
(a virtualenv used without activating it, ``PYTHONPATH`` checkouts)."""

from slipway.cli import main

main()
