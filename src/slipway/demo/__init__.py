"""The demos that ``slipway demo`` runs on the bundled abalone data."""

from slipway.demo._data import load_abalone
from slipway.demo._tracking_demo import run_tracking_demo

__all__ = ["load_abalone", "run_tracking_demo"]
