"""Which Python modules and scripts a definition sent to a server may make it import and run.

A pipeline definition names its step functions ``module:qualname`` and a monitor names its custom
rules the same way; the server imports and calls them. A processing step may name a script file
instead, which the server runs as Python. Left open, anyone allowed to register a pipeline could
have the server run ``os:system``, or any file on its disk (an uploaded artifact's, say).
Embedded mode trusts the local user and imports what it is given; a server checks every name
against its ``pipeline_modules`` setting first, and by default (unset) allows none: only the
built-in step types, which name no code, can be sent. An entry of the setting that is an absolute
path names a folder of scripts: scripts run only from below such a folder.

Example:
    >>> policy = ModulePolicy(("acme.pipelines",))
    >>> policy.check("acme.pipelines.train:fit", field="steps.train.code")
    >>> policy.check("os:system", field="steps.evil.code")
    Traceback (most recent call last):
    ...
    slipway.errors.PermissionDenied: steps.evil.code: this server does not run code from module 'os'; \
it runs code only from acme.pipelines (server setting pipeline_modules)
    >>> ModulePolicy(("acme.pipelines", "/srv/pipelines")).check("/srv/pipelines/prep.py", field="steps.prep.script")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from slipway.errors import PermissionDenied

ANY_MODULE = "*"


@dataclass(frozen=True)
class ModulePolicy:
    """The modules (with their submodules) whose code may be named; ``None`` allows any, ``*`` too.

    A script path (a ref that is not ``module:name``) runs a whole file, so it must lie below one
    of the allowed entries that are absolute folder paths (after links are resolved), unless the
    policy is open.
    """

    allowed: tuple[str, ...] | None = None

    @property
    def open(self) -> bool:
        return self.allowed is None or ANY_MODULE in self.allowed

    @property
    def modules(self) -> tuple[str, ...]:
        """The allowed module names (the entries that are not folders)."""
        return tuple(a for a in self.allowed or () if not a.startswith("/"))

    @property
    def script_folders(self) -> tuple[Path, ...]:
        """The folders scripts may run from (the entries that are absolute paths)."""
        return tuple(Path(a) for a in self.allowed or () if a.startswith("/"))

    def covers(self, module: str) -> bool:
        """Whether code of ``module`` may be named: it is, or is below, an allowed module."""
        return self.open or any(module == root or module.startswith(f"{root}.") for root in self.modules)

    def check(self, ref: object, *, field: str) -> None:
        """Refuse ``ref`` unless its module is allowed (or, for a script, its folder).

        Raises:
            PermissionDenied: (naming ``field``) for a module outside the allowed ones, or a script
                outside the allowed folders.
        """
        if self.open:
            return
        text = str(ref)
        module, sep, name = text.partition(":")
        if not sep or not name or "/" in module or module.endswith(".py"):
            self.check_script(text, field=field)
            return
        if not self.covers(module):
            where = ", ".join(self.modules) or "no module: send built-in step types only"
            raise PermissionDenied(
                f"{field}: this server does not run code from module {module!r}; it runs code only from {where} "
                "(server setting pipeline_modules)",
                field=field,
            )

    def check_script(self, path: object, *, field: str) -> None:
        """Refuse to run the script at ``path`` unless it lies below an allowed folder.

        A relative path is refused: it would be read from wherever the server happens to run.

        Raises:
            PermissionDenied: (naming ``field``) for any other script.
        """
        if self.open:
            return
        text = str(path)
        folders = self.script_folders
        given = Path(text)
        if not (given.is_absolute() and folders and any(
            given.resolve().is_relative_to(folder.resolve()) for folder in folders
        )):
            where = ", ".join(str(f) for f in folders) if folders else "no folder"
            raise PermissionDenied(
                f"{field}: this server does not run the script {text!r}; it runs scripts only from {where} "
                "(server setting pipeline_modules: an absolute folder path allows the scripts below it)",
                field=field,
            )


__all__ = ["ANY_MODULE", "ModulePolicy"]
