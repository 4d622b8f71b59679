"""``slipway db``: the metadata database's schema version, and upgrading it.

SQLite databases upgrade themselves on first use; PostgreSQL ones are upgraded only here, on
purpose, so that a shared database changes when its operator says so and not when the first
client of a newer version happens to connect.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.markup import escape

from slipway import store
from slipway._config import load_settings
from slipway.cli import _output
from slipway.store import Database

db_app = typer.Typer(
    help="Inspect and upgrade the metadata database (the one SLIPWAY_DB_URL names; SQLite by default). "
    "These commands talk to the database directly, never through a server.",
    short_help="Inspect and upgrade the metadata database.",
    no_args_is_help=True,
)


@contextlib.contextmanager
def _database() -> Iterator[tuple[Database, str]]:
    """The configured database and its URL with any password hidden, disposed of afterwards."""
    db = Database(load_settings().db_url)
    try:
        yield db, db.url.render_as_string(hide_password=True)
    finally:
        db.dispose()


@db_app.command("upgrade")
def upgrade_command() -> None:
    """Apply the schema migrations this version of Slipway needs.

    Run it after installing a new Slipway when your database is PostgreSQL
    (SLIPWAY_DB_URL=postgresql+psycopg://...); SQLite upgrades itself, but this works for it too.
    Safe to run twice, and from several machines at once.
    """
    with _database() as (db, url):
        before = store.current_revision(db)
        after = store.upgrade(db)
    if before == after:
        _output.say(f"{escape(url)} is already at the newest revision [bold]{after}[/bold].")
    else:
        _output.say(f"Upgraded {escape(url)} from revision [bold]{before or '(empty)'}[/bold] "
                    f"to [bold]{after}[/bold].")


@db_app.command("current")
def current_command() -> None:
    """Show the database's schema revision and whether it needs `slipway db upgrade`."""
    with _database() as (db, url):
        revision = store.current_revision(db)
    newest = store.head_revision()
    _output.say(f"Database: {escape(url)}")
    _output.say(f"Revision: [bold]{revision or '(empty)'}[/bold] (newest: {newest})")
    if revision == newest:
        _output.say("[green]Up to date.[/green]")
    else:
        _output.say("[yellow]Out of date: run `slipway db upgrade`.[/yellow]")
