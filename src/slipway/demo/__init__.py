"""The demo ``slipway demo`` runs: the whole loop of MLOps on the bundled abalone data.

Example:
    >>> from slipway import load_settings
    >>> from slipway._backend import Backend
    >>> from slipway.demo import run_loop_demo
    >>> result = run_loop_demo(Backend(load_settings(home="/tmp/demo")))  # doctest: +SKIP
    >>> [v.model for v in result.endpoint.variants]  # doctest: +SKIP
    ['abalone-demo/2']
"""

from slipway.demo._data import encode, load_abalone
from slipway.demo._loop import DemoNames, DemoResult, run_loop_demo

__all__ = ["DemoNames", "DemoResult", "encode", "load_abalone", "run_loop_demo"]
