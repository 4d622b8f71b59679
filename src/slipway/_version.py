"""The installed Slipway's version, and the name it is published under.

The import name is ``slipway``; the distribution on the package index is ``slipway-mlops``, because
``slipway`` there belongs to an unrelated project. Messages that tell a user what to install use
:data:`DISTRIBUTION`, never the import name.
"""

__version__ = "0.1.0"

DISTRIBUTION = "slipway-mlops"


def install_hint(extra: str | None = None) -> str:
    """The pip command that installs Slipway, with ``extra`` when given: ``pip install 'slipway-mlops[ray]'``."""
    return f"pip install '{DISTRIBUTION}[{extra}]'" if extra else f"pip install {DISTRIBUTION}"
