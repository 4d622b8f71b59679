"""Which local paths a caller may make this process read: the ``dataset_roots`` setting.

Every server-side read of a path a request names goes through one :class:`SourcePolicy`: a dataset
registered from a URI, a file a pipeline definition hands its steps, the data or model a built-in
step reads. Embedded mode trusts the local user (no roots: any path); a server reads only below
the folders it shares, and none when it shares none.

Example:
    >>> policy = SourcePolicy((Path("/srv/data/shared"),))
    >>> policy.check(Path("/srv/data/shared/abalone.csv"))
    PosixPath('/srv/data/shared/abalone.csv')
    >>> policy.check(Path("/etc/passwd"), field="steps.Score.data")
    Traceback (most recent call last):
    ...
    slipway.errors.PermissionDenied: '/etc/passwd' is outside the folders datasets may be read from \
(/srv/data/shared)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from slipway.errors import InvalidInput, PermissionDenied


@dataclass(frozen=True)
class SourcePolicy:
    """Which local paths a request may make the server read.

    Attributes:
        allowed_roots: when set, local paths (plain or ``file://``) must lie below one of these
            folders (after resolving links); a server names the folders it shares, and with
            none (an empty tuple) reads no local path at all. None: any.
    """

    allowed_roots: tuple[Path, ...] | None = None

    def check(self, path: Path, *, field: str = "source") -> Path:
        """``path`` resolved (links followed), if the policy lets it be read.

        Raises:
            InvalidInput: (naming ``field``) where no local path may be read at all.
            PermissionDenied: (naming ``field``) for a path outside the allowed roots.
        """
        resolved = path.expanduser().resolve()
        if self.allowed_roots == ():  # not a matter of who asks: nobody may, so not a 403
            raise InvalidInput(
                f"{str(path)!r}: this server reads no local paths (server setting dataset_roots is unset); "
                "upload the file, or name an s3:// URI",
                field=field,
            )
        if self.allowed_roots is not None and not any(
            resolved.is_relative_to(root.expanduser().resolve()) for root in self.allowed_roots
        ):
            raise PermissionDenied(
                f"{str(path)!r} is outside the folders datasets may be read from "
                f"({', '.join(str(r) for r in self.allowed_roots) or 'none'})",
                field=field,
            )
        return resolved


__all__ = ["SourcePolicy"]
