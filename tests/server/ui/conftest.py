"""The web UI's fixtures: ``ui_server`` (live, a token per role), ``browser`` (headless Chromium), ``browse``."""

from __future__ import annotations

from _ui import browse, browser, ui_server

__all__ = ["browse", "browser", "ui_server"]
