"""What callers may make this process run, read or trust: decided by its settings, never by a request.

Embedded mode trusts the local user: a definition may name any module or script, read any path,
and ``trusted=`` arguments count. A ``slipway server`` serves other people, so
:meth:`Confinement.server` holds everything they send to the operator's settings:

- code (pipeline steps, custom monitoring rules) only from the ``pipeline_modules`` allow-list,
  scripts only from the absolute folders it names;
- a step runs *light* (in the orchestrator's own process, with no isolation) only if its code is
  from the ``light_step_modules`` allow-list: a definition's ``light`` is a wish, not a right;
- local paths (files handed to a pipeline, data and models its built-in steps read) only below
  ``dataset_roots``;
- nothing a request says makes a model trusted: only an admin's mark on a registered version;
- no text it hands out (error bodies, stored failure reasons, a step's logs) names a path of its
  own folders (:class:`~slipway._disclosure.PathScreen`).

The services that take such input hold a :class:`Confinement` (``Backend.confine`` switches a
backend to the server's) and check before they import, read or load anything.

Example:
    >>> confinement = Confinement.server(load_settings(env={"SLIPWAY_PIPELINE_MODULES": "acme"}))
    >>> confinement.modules.check("os:system", field="steps.Evil.code")
    Traceback (most recent call last):
    ...
    slipway.errors.PermissionDenied: steps.Evil.code: this server does not run code from module 'os'; ...
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from slipway._config import Settings
from slipway._disclosure import PathScreen
from slipway._modules import ModulePolicy
from slipway._roots import SourcePolicy


@dataclass(frozen=True)
class Confinement:
    """The limits on what callers send; the default is embedded mode's: any code, any path.

    Attributes:
        remote: callers are other people over the network (a server): their ``trusted`` flags
            count for nothing.
        modules: the modules and script folders definitions may name.
        light: the modules whose step functions may run light (in the orchestrator's process).
        sources: the local paths definitions may make this process read.
        paths: the folders whose paths the text this process hands out never names.
    """

    remote: bool = False
    modules: ModulePolicy = field(default_factory=ModulePolicy)
    light: ModulePolicy = field(default_factory=ModulePolicy)
    sources: SourcePolicy = field(default_factory=SourcePolicy)
    paths: PathScreen = field(default_factory=PathScreen)

    @classmethod
    def server(cls, settings: Settings) -> Confinement:
        """A server's: ``pipeline_modules``, ``light_step_modules`` and ``dataset_roots``, nothing
        when unset; its own folders hidden in what it says (see :func:`server_folders`)."""
        return cls(
            remote=True,
            modules=ModulePolicy(settings.pipeline_modules or ()),
            light=ModulePolicy(settings.light_step_modules or ()),
            sources=SourcePolicy(settings.dataset_roots or ()),
            paths=PathScreen.around(server_folders(settings), shown=settings.dataset_roots or ()),
        )


def server_folders(settings: Settings) -> list[Path]:
    """The folders of this machine a server never names to its callers: its home (the cache of
    model packages and the local engines' files), its local artifact, database and online-store
    folders, the temporary folder (workers' scratch), the Python installation and this package's
    (tracebacks), and the account's home."""
    folders = [settings.home, Path(tempfile.gettempdir()), Path(sys.prefix), Path(sys.base_prefix),
               Path(sys.exec_prefix), Path(__file__).resolve().parent.parent, Path.home()]
    for url in (settings.artifact_url, settings.db_url, settings.online_url):
        local = _local_folder(url)
        if local is not None:
            folders.append(local)
    return [f for f in folders if f.is_absolute() and f != Path(f.anchor)]


def _local_folder(url: str) -> Path | None:
    """The local folder an engine URL points into (a SQLite file's folder), else None."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        return Path(path).parent if path.startswith("/") else None
    if url.startswith("file://"):
        url = url.removeprefix("file://")
    if "://" in url or not url:
        return None
    return Path(url) if os.path.isabs(url) else None


__all__ = ["Confinement", "server_folders"]
