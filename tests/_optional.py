"""Skip a test module when an optional library is missing, without importing the library.

``pytest.importorskip`` at module level imports it when the suite is collected: shap (with numba and
matplotlib), torch or mlflow take a second or more each, which every test process would pay even if
it never runs those tests. Finding the module is enough to know it is there; the tests import it.
"""

from __future__ import annotations

import importlib.util

import pytest


def require(*modules: str, extra: str) -> None:
    """Skip the calling test module unless every one of ``modules`` is installed (they are in ``extra``)."""
    for name in modules:
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"could not import {name!r}: it is in the {extra} extra", allow_module_level=True)
