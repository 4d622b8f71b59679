"""The project's settings (``project.toml``), read once and handed to whoever needs them."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Stage:
    """Where one stage serves the model, and how a new version reaches it."""

    endpoint: str
    capture_percent: float = 0.0
    strategy: dict[str, Any] = field(default_factory=lambda: {"kind": "all_at_once"})
    alarms: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectConfig:
    model_group: str
    mse_threshold: float
    staging: Stage
    production: Stage


def load_config(path: Path = ROOT / "project.toml") -> ProjectConfig:
    """Read ``project.toml``; a missing section or key fails here, naming it, not halfway through a deploy."""
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    try:
        return ProjectConfig(
            model_group=raw["model"]["group"],
            mse_threshold=float(raw["model"]["mse_threshold"]),
            staging=Stage(**raw["staging"]),
            production=Stage(**raw["production"]),
        )
    except (KeyError, TypeError) as exc:
        raise SystemExit(f"{path}: missing or unknown setting {exc}") from None
