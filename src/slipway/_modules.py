"""Which Python modules a definition sent to a server may make it import and run.

A pipeline definition names its step functions ``module:qualname`` and a monitor names its custom
rules the same way; the server imports and calls them. Left open, anyone allowed to register a
pipeline could have the server run ``os:system`` or any other function installed where it runs.
Embedded mode trusts the local user and imports what it is given; a server checks every name
against its ``pipeline_modules`` setting first, and by default (unset) allows none: only the
built-in step types, which name no code, can be sent.

Example:
    >>> policy = ModulePolicy(("acme.pipelines",))
    >>> policy.check("acme.pipelines.train:fit", field="steps.train.code")
    >>> policy.check("os:system", field="steps.evil.code")
    Traceback (most recent call last):
    ...
    slipway.errors.PermissionDenied: steps.evil.code: this server does not run code from module 'os'; \
it runs code only from acme.pipelines (server setting pipeline_modules)
"""

from __future__ import annotations

from dataclasses import dataclass

from slipway.errors import PermissionDenied

ANY_MODULE = "*"


@dataclass(frozen=True)
class ModulePolicy:
    """The modules (with their submodules) whose code may be named; ``None`` allows any, ``*`` too.

    A script path (a ref that is not ``module:name``) runs a whole file, so only ``*`` allows it.
    """

    allowed: tuple[str, ...] | None = None

    @property
    def open(self) -> bool:
        return self.allowed is None or ANY_MODULE in self.allowed

    def check(self, ref: object, *, field: str) -> None:
        """Refuse ``ref`` unless its module is allowed.

        Raises:
            PermissionDenied: (naming ``field``) for a module outside the allowed ones, or a script.
        """
        if self.open:
            return
        allowed = self.allowed or ()
        where = ", ".join(allowed) if allowed else "no module: send built-in step types only"
        text = str(ref)
        module, sep, name = text.partition(":")
        if not sep or not name or "/" in module or module.endswith(".py"):
            raise PermissionDenied(
                f"{field}: this server does not run scripts ({text!r}); it runs code only from {where} "
                "(server setting pipeline_modules)",
                field=field,
            )
        if not any(module == root or module.startswith(f"{root}.") for root in allowed):
            raise PermissionDenied(
                f"{field}: this server does not run code from module {module!r}; it runs code only from {where} "
                "(server setting pipeline_modules)",
                field=field,
            )


__all__ = ["ANY_MODULE", "ModulePolicy"]
