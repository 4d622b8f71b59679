"""What callers may make this process run, read or trust: decided by its settings, never by a request.

Embedded mode trusts the local user: a definition may name any module or script, read any path,
and ``trusted=`` arguments count. A ``slipway server`` serves other people, so
:meth:`Confinement.server` holds everything they send to the operator's settings:

- code (pipeline steps, custom monitoring rules) only from the ``pipeline_modules`` allow-list,
  scripts only from the absolute folders it names;
- local paths (files handed to a pipeline, data and models its built-in steps read) only below
  ``dataset_roots``;
- nothing a request says makes a model trusted: only an admin's mark on a registered version.

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

from dataclasses import dataclass, field

from slipway._config import Settings
from slipway._modules import ModulePolicy
from slipway._roots import SourcePolicy


@dataclass(frozen=True)
class Confinement:
    """The limits on what callers send; the default is embedded mode's: any code, any path.

    Attributes:
        remote: callers are other people over the network (a server): their ``trusted`` flags
            count for nothing.
        modules: the modules and script folders definitions may name.
        sources: the local paths definitions may make this process read.
    """

    remote: bool = False
    modules: ModulePolicy = field(default_factory=ModulePolicy)
    sources: SourcePolicy = field(default_factory=SourcePolicy)

    @classmethod
    def server(cls, settings: Settings) -> Confinement:
        """A server's: ``pipeline_modules`` and ``dataset_roots``, nothing when unset."""
        return cls(
            remote=True,
            modules=ModulePolicy(settings.pipeline_modules or ()),
            sources=SourcePolicy(settings.dataset_roots or ()),
        )


__all__ = ["Confinement"]
