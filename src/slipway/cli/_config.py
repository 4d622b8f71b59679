"""``slipway config``: the effective settings and where each one came from."""

from __future__ import annotations

from rich.table import Table

from slipway._config import load_settings
from slipway.cli import _output
from slipway.cli._output import JsonFlag


def config(as_json: JsonFlag = False) -> None:
    """Show the settings in effect and where each came from.

    A value comes from the environment (SLIPWAY_HOME, SLIPWAY_DB_URL, SLIPWAY_ARTIFACT_URL,
    SLIPWAY_SERVER_URL, SLIPWAY_TOKEN), from a slipway.toml in the current folder (or the file
    SLIPWAY_CONFIG names), or is a default. The token is never shown.
    """
    rows = load_settings().items()
    _output.emit(
        as_json,
        lambda: [{"name": name, "value": value, "source": source} for name, value, source in rows],
        lambda: _settings_table(rows),
    )


def _settings_table(rows: list[tuple[str, str | None, str]]) -> Table:
    """One row per setting; unset ones are shown as such rather than left out, so users see all knobs."""
    out = _output.table("Setting", "Value", "Source", title="Effective settings")
    for name, value, source in rows:
        shown = _output.plain(value) if value is not None else f"[dim]{_output.MISSING} (not set)[/dim]"
        out.add_row(name, shown, _output.plain(source))
    return out
