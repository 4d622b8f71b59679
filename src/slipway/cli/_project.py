"""``slipway project``: start a repository from a template (pipeline, deployment, tests, CI)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from slipway.cli import _output

project_app = typer.Typer(
    help="Start a new ML project from a template: a model-build pipeline, deployment settings and scripts, "
    "tests that pass out of the box, and CI for GitHub Actions, GitLab CI and Jenkins.",
    short_help="Create a project from a template (build pipeline, deployment, tests, CI).",
    no_args_is_help=True,
)


@project_app.command("templates")
def templates_command() -> None:
    """List the project templates shipped with Slipway."""
    from slipway.projects import list_templates

    table = _output.table("template", "what it sets up")
    for template in list_templates():
        table.add_row(template.name, template.description)
    _output.stdout().print(table)


@project_app.command("init")
def init_command(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="The project's name: lower-case letters, digits and dashes. It names the model group and endpoints.",
            show_default=False,
        ),
    ],
    template: Annotated[str, typer.Option("--template", "-t", help="See `slipway project templates`.")] = (
        "build-deploy"
    ),
    directory: Annotated[
        Path | None,
        typer.Option("--directory", "-d", help="Where to create it (must be empty or absent). Default: ./NAME."),
    ] = None,
) -> None:
    """Create a project from a template; its README says what to run next."""
    from slipway.projects import init_project  # only `slipway project init` needs the templates

    folder = init_project(name, template, directory)
    _output.say(
        f"Created project [bold]{name}[/bold] in {escape(str(folder))} from template {template}. Next:\n\n"
        f"  cd {escape(str(folder))}\n"
        "  pip install -r requirements.txt\n"
        "  python -m pytest          # the pipeline and the deployment, on a sample\n"
        "  python -m model_build     # build and register a model version\n"
    )
