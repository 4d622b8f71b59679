"""The package versions a model was made with, and the warning when they differ at load time."""

from __future__ import annotations

import functools
import platform
import warnings
from collections.abc import Iterable, Mapping
from importlib import metadata

from packaging.version import InvalidVersion, Version

from slipway.errors import SlipwayWarning

_ALWAYS = ("numpy", "pandas")


def installed_versions(packages: Iterable[str]) -> dict[str, str]:
    """Python's version and the installed version of each distribution (skipping absent ones)."""
    versions = {"python": platform.python_version()}
    for name in (*_ALWAYS, *packages):
        version = _version(name)
        if version is not None:
            versions[name] = version
    return versions


@functools.cache
def _version(name: str) -> str | None:
    """The version of distribution ``name``, or of the distribution that provides module ``name``.

    The second covers builds published under another name with the same module, such as
    ``xgboost-cpu`` for ``xgboost``: recorded under the module's name, they compare alike.
    Read once per process (parsing a distribution's metadata costs milliseconds, and a worker saves
    a model per tuning trial that improves): a package upgraded under a running process is not
    what that process has imported and pickles with.
    """
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        providers = metadata.packages_distributions().get(name, [])
        return metadata.version(providers[0]) if providers else None


def warn_on_mismatch(recorded: Mapping[str, str]) -> None:
    """Warn once per package whose installed major.minor differs from the recorded one.

    Patch releases keep file formats and results, minor ones may not. A package that is not
    installed at all gets no warning: the flavor that needs it raises ``MissingExtra`` instead.
    """
    installed = installed_versions(name for name in recorded if name != "python")
    for name, then in recorded.items():
        now = installed.get(name)
        if now is not None and _minor(now) != _minor(then):
            warnings.warn(
                f"the model was saved with {name} {then} but {name} {now} is installed; "
                "it may load or predict differently",
                SlipwayWarning,
                stacklevel=3,
            )


def _minor(version: str) -> tuple[int, ...] | str:
    try:
        return Version(version).release[:2]
    except InvalidVersion:
        return version
