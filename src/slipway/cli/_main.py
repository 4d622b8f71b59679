"""The root ``slipway`` command: the help a newcomer reads first, ``--version`` and error handling.

Every failure a user can cause surfaces as one red ``error: <message>`` line on stderr and the
exit code of the error's class (see :mod:`slipway.errors`), never as a traceback. Set
``SLIPWAY_DEBUG=1`` to get the traceback when reporting a bug.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from slipway._version import DISTRIBUTION, __version__
from slipway.cli import _output
from slipway.cli._alarms import alarms_app
from slipway.cli._automation import gc, hooks_app, rules_app, schedules_app
from slipway.cli._clarify import clarify_app
from slipway.cli._config import config
from slipway.cli._datasets import datasets_app
from slipway.cli._db import db_app
from slipway.cli._demo import demo
from slipway.cli._endpoints import endpoints_app
from slipway.cli._experiments import experiments_app
from slipway.cli._features import features_app
from slipway.cli._lineage import lineage_app
from slipway.cli._models import models_app
from slipway.cli._monitor import monitor_app
from slipway.cli._pipelines import pipelines_app
from slipway.cli._project import project_app
from slipway.cli._runs import runs_app
from slipway.cli._security import audit_app, tokens_app, users_app
from slipway.cli._serve import serve
from slipway.cli._server import server
from slipway.cli._transform import transform
from slipway.cli._worker import worker
from slipway.errors import SlipwayError

_HELP = """\
Slipway carries machine-learning models through their whole life: track experiments, compare
runs, register and serve models. It runs on your laptop with nothing to set up (a SQLite file and
a folder under `./.slipway`) and talks to a shared `slipway server` when `SLIPWAY_SERVER_URL` is set.

Start here:

    slipway demo                   the end-to-end demo on bundled data
    slipway experiments list       what has been tracked so far
    slipway runs list              the latest runs and their metrics
    slipway runs search FILTER     runs matching e.g. "metrics.mse < 5"
    slipway runs compare ID ID     runs side by side, differences highlighted
    slipway server                 share runs with a team over HTTP
    slipway config                 the settings in effect, and why

Runs are recorded from Python:

    with slipway.start_run("my-experiment"):
        slipway.log_metric("mse", 4.2)
"""

_DEBUG_ENV = "SLIPWAY_DEBUG"


def _debug() -> bool:
    """Whether the user asked for tracebacks; read at failure time, never at import."""
    return os.environ.get(_DEBUG_ENV, "").lower() in ("1", "true", "yes", "on")


class _SlipwayGroup(TyperGroup):
    """The root group: turns exceptions from any subcommand into one line and an exit code.

    Handling them here, around ``invoke``, rather than in :func:`main`, means the tests'
    ``CliRunner`` and the installed executable behave the same. Typer's own usage errors
    (exit 2), ``typer.Exit`` and Ctrl-C (exit 130) pass through untouched. A bug of ours (any
    other exception) still gets one line, naming the exception and how to see its traceback.
    """

    def invoke(self, ctx: Any) -> Any:  # click's Context: vendored inside Typer, so not importable by name
        try:
            return super().invoke(ctx)
        except SlipwayError as exc:
            if _debug():
                raise
            _output.error(exc.message)
            raise typer.Exit(exc.exit_code) from None
        except (typer.TyperException, typer.Exit, typer.Abort, BrokenPipeError):
            raise  # usage errors, explicit exits and `| head`: Typer knows how to end these
        except Exception as exc:
            if _debug():
                raise
            _output.error(f"unexpected {type(exc).__name__}: {exc} (set {_DEBUG_ENV}=1 to see the traceback)")
            raise typer.Exit(1) from None


def _show_version(value: bool) -> None:
    """Print the version and stop before any subcommand runs (``--version`` is eager)."""
    if value:
        typer.echo(f"slipway {__version__} ({DISTRIBUTION})")
        raise typer.Exit()


app = typer.Typer(
    cls=_SlipwayGroup,
    name="slipway",
    help=_HELP,
    rich_markup_mode="markdown",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold tokens and passwords
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_show_version, is_eager=True,
                     help=f"Print the installed Slipway version (pip: {DISTRIBUTION}) and exit."),
    ] = False,
) -> None:
    """Parse the root options; the subcommands do the work."""


app.command(rich_help_panel="Start here")(demo)
app.command(rich_help_panel="Setup")(config)
app.add_typer(db_app, name="db", rich_help_panel="Setup")
app.command(rich_help_panel="Setup")(server)
app.command(rich_help_panel="Setup")(worker)
app.add_typer(experiments_app, name="experiments", rich_help_panel="Tracking")
app.add_typer(runs_app, name="runs", rich_help_panel="Tracking")
app.add_typer(models_app, name="models", rich_help_panel="Registry")
app.add_typer(endpoints_app, name="endpoints", rich_help_panel="Serving")
app.command(rich_help_panel="Serving")(serve)
app.command(rich_help_panel="Serving")(transform)
app.add_typer(monitor_app, name="monitor", rich_help_panel="Monitoring")
app.add_typer(alarms_app, name="alarms", rich_help_panel="Monitoring")
app.add_typer(clarify_app, name="clarify", rich_help_panel="Monitoring")
app.add_typer(datasets_app, name="datasets", rich_help_panel="Data")
app.add_typer(features_app, name="features", rich_help_panel="Data")
app.add_typer(pipelines_app, name="pipelines", rich_help_panel="Pipelines")
app.add_typer(lineage_app, name="lineage", rich_help_panel="Pipelines")
app.add_typer(users_app, name="users", rich_help_panel="Security")
app.add_typer(tokens_app, name="tokens", rich_help_panel="Security")
app.add_typer(audit_app, name="audit", rich_help_panel="Security")
app.add_typer(schedules_app, name="schedules", rich_help_panel="Automation")
app.add_typer(rules_app, name="rules", rich_help_panel="Automation")
app.add_typer(hooks_app, name="hooks", rich_help_panel="Automation")
app.command(rich_help_panel="Automation")(gc)
app.add_typer(project_app, name="project", rich_help_panel="Pipelines")


def main() -> None:
    """Entry point of the ``slipway`` executable (declared in ``pyproject.toml``)."""
    app(prog_name="slipway")
