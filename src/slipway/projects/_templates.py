"""Project templates: folders shipped inside the package, copied into a new repository.

A template is a folder under ``slipway/projects/templates/``. ``template.toml`` describes it and
is not copied. Path parts starting with ``dot-`` become dot files (``dot-github`` → ``.github``):
kept without the dot in the package, they are not hidden from the wheel builder or from readers.
Text files have ``{{name}}`` and ``{{slipway_version}}`` replaced; nothing else is touched, so
CI syntax such as GitHub's ``${{ secrets.X }}`` passes through as written.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from slipway._version import __version__
from slipway.errors import Conflict, InvalidInput, NotFound

_DESCRIPTION_FILE = "template.toml"
_SKIPPED = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".slipway"}
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class Template:
    """A project template: its name (what ``--template`` takes) and what it sets up."""

    name: str
    description: str


def _root() -> Traversable:
    return resources.files("slipway.projects").joinpath("templates")


def list_templates() -> list[Template]:
    """The templates shipped with Slipway, by name."""
    found = []
    for folder in _root().iterdir():
        info = folder.joinpath(_DESCRIPTION_FILE)
        if folder.is_dir() and info.is_file():
            found.append(Template(folder.name, tomllib.loads(info.read_text("utf-8"))["description"]))
    return sorted(found, key=lambda t: t.name)


def _files(folder: Traversable, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Traversable]]:
    """Every file under ``folder`` with its path parts, dot-files already renamed."""
    out = []
    for entry in folder.iterdir():
        if entry.name in _SKIPPED or entry.name.endswith(".pyc") or (not prefix and entry.name == _DESCRIPTION_FILE):
            continue
        part = "." + entry.name.removeprefix("dot-") if entry.name.startswith("dot-") else entry.name
        if entry.is_dir():
            out.extend(_files(entry, (*prefix, part)))
        else:
            out.append(((*prefix, part), entry))
    return out


def init_project(name: str, template: str = "build-deploy", directory: str | Path | None = None) -> Path:
    """Create a project called ``name`` from ``template`` in ``directory`` (``./NAME`` by default).

    The name becomes the model group and the endpoints' names, so it follows their rules:
    lower-case letters, digits and dashes, starting with a letter.

    Example:
        >>> import tempfile
        >>> folder = init_project("rings", directory=tempfile.mkdtemp() + "/rings")
        >>> sorted(p.name for p in folder.iterdir())[:4]
        ['.github', '.gitignore', '.gitlab-ci.yml', 'Jenkinsfile']

    Returns:
        the project's folder.

    Raises:
        InvalidInput: for a name that breaks those rules.
        NotFound: for an unknown template.
        Conflict: if the directory exists and is not empty (nothing is overwritten).
    """
    if not _NAME.match(name):
        raise InvalidInput(
            f"project name {name!r}: use lower-case letters, digits and dashes, starting with a letter "
            "(it names the model group and the endpoints)",
            field="name",
        )
    source = _root().joinpath(template)
    if not source.joinpath(_DESCRIPTION_FILE).is_file():
        known = ", ".join(t.name for t in list_templates())
        raise NotFound(f"no project template {template!r}; known: {known}", field="template")
    target = Path(directory) if directory is not None else Path(name)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise Conflict(f"{target} exists and is not an empty folder; choose another --directory", field="directory")
    values = {"{{name}}": name, "{{slipway_version}}": __version__}
    for parts, entry in _files(source):
        path = target.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = entry.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            path.write_bytes(data)
            continue
        for key, value in values.items():
            text = text.replace(key, value)
        path.write_text(text, "utf-8")
    return target
