"""``slipway server``: serve the REST API over HTTP so a team can share one store, behind tokens."""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy.engine import make_url

from slipway._config import Settings, load_settings
from slipway.cli import _output
from slipway.client import Client
from slipway.errors import InvalidInput


class LogLevel(StrEnum):
    """The server's log levels, as uvicorn names them."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"


def _is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host``; a name other than localhost counts as remote."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _has_users(settings: Settings) -> bool:
    """Whether anyone can sign in: read on this machine, where the local user is trusted."""
    with Client(settings) as client:
        return bool(client.security.list_users())


def server(
    host: Annotated[
        str,
        typer.Option(help="Address to listen on. The default, 127.0.0.1, accepts connections from this "
                          "machine only; 0.0.0.0 accepts them from anywhere on your network."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port to listen on.")] = 5000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes; more serve more clients at once.")
    ] = 1,
    background_workers: Annotated[
        int, typer.Option(min=0, help="Worker processes for the heavy work (pipeline executions, monitor runs over "
                                      "captured traffic, schedules, rule and hook actions, garbage collection); 0 "
                                      "does it in the API process.")
    ] = 1,
    log_level: Annotated[LogLevel, typer.Option(help="How much the server logs.")] = LogLevel.INFO,
    no_auth: Annotated[
        bool,
        typer.Option("--no-auth", help="Accept calls without a token, each acting as the admin 'anonymous'. "
                                       "For development on this machine: refused unless --host is loopback."),
    ] = False,
) -> None:
    """Start the Slipway server: the REST API over HTTP, with its OpenAPI docs at /docs.

    Every call needs an API token. Make the first admin and their token on this machine, against
    the same database:

        slipway users create alice --role admin
        slipway tokens create --user alice --expires-in 30d

    Clients then set SLIPWAY_SERVER_URL=http://127.0.0.1:5000 and SLIPWAY_TOKEN to the token; their
    runs land in this server's store (the one `slipway config` shows). Stop it with Ctrl-C.

    The web UI is at the same address: open http://127.0.0.1:5000/ in a browser and paste the token
    on its login page (docs/ui.md).

    The server also fires due schedules and runs the actions of event rules every few seconds
    (`slipway schedules`, `slipway rules`; SLIPWAY_SCHEDULER_INTERVAL=0 turns that off). This
    work, pipeline executions and monitor runs over captured traffic are done by a worker process
    it starts (--background-workers): the API stays responsive meanwhile. More workers, on this
    machine or others, can join with `slipway worker`.

    It answers only requests addressed to --host, localhost, 127.0.0.1 or ::1 (others get 421):
    behind a proxy or a DNS name, list the names clients use in SLIPWAY_ALLOWED_HOSTS. A locked
    or unreachable database is answered 503 after SLIPWAY_DB_TIMEOUT seconds (30).
    """
    settings = load_settings()
    if no_auth and not _is_loopback(host):
        raise InvalidInput(
            f"--no-auth is only allowed on a loopback address (127.0.0.1, ::1, localhost), not {host}: "
            "anyone who can reach the server would act as an admin",
            field="--no-auth",
        )
    if no_auth:
        _output.warning("authentication is OFF (--no-auth): every call acts as the admin 'anonymous'. "
                        "Use this only for development on this machine.")
    elif not _is_loopback(host):
        _output.warning(f"listening on {host}, which other machines can reach: tokens cross the network in clear "
                        "text unless a TLS proxy (nginx, Caddy) serves HTTPS in front of this server.")
    if not no_auth and not _has_users(settings):
        _output.warning("this server has no users yet, so every call will be refused (401). Make the first "
                        "admin here: slipway users create NAME --role admin, then slipway tokens create --user NAME")
    store = make_url(settings.db_url).render_as_string(hide_password=True)
    _output.say(f"Serving {escape(store)} on [bold]http://{escape(host)}:{port}[/bold] "
                "(Ctrl-C to stop)")
    # Imported here, not at the top: FastAPI and uvicorn add ~0.4 s to every other command's start-up.
    from slipway.server import serve  # brings FastAPI and every domain: import when serving

    serve(settings, host=host, port=port, workers=workers, log_level=log_level.value, auth=not no_auth,
          background=background_workers)
