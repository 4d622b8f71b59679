"""``slipway worker``: claim and do the work queued in the metadata database (pipeline executions, jobs)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy.engine import make_url

from slipway._config import load_settings
from slipway.cli import _output
from slipway.errors import InvalidInput


def worker(
    max_executions: Annotated[
        int, typer.Option(min=1, help="Pipeline executions this worker orchestrates at once at most.")
    ] = 16,
) -> None:
    """Run a worker until Ctrl-C: it claims and does the work a server queued in its database.

    That is: pipeline executions started through a `slipway server`, monitor runs over captured
    traffic, and the scheduler's rounds (due schedules, the actions of rules and hooks). Every
    worker (and server) started with the same settings claims work by a lease it renews meanwhile.
    When a worker dies, its leases run out (SLIPWAY_LEASE_SECONDS, 30) and another worker takes
    its executions over, without running their finished steps again. `slipway server` starts one
    worker of its own; start more, on this machine or others, to share the work.
    """
    settings = load_settings()
    if settings.remote:
        raise InvalidInput("a worker works on the database itself: unset SLIPWAY_SERVER_URL", field="server_url")
    # Imported here: the worker brings every domain, which other commands need not load.
    from slipway.worker import Worker

    running = Worker.for_settings(settings, warm=True)
    running.backend.pipelines.max_executions = max_executions
    store = make_url(settings.db_url).render_as_string(hide_password=True)
    _output.say(f"Working for {escape(store)} (Ctrl-C to stop)")
    try:
        running.run()
    except KeyboardInterrupt:
        _output.say("Stopping: no new work is claimed; executions under way run to their end (Ctrl-C again to quit "
                    "now: another worker takes them over once their leases run out)")
    finally:
        running.backend.close()
