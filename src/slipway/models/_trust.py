"""What the caller of ``save_model``/``load_model`` trusts, and the checks that enforce it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from slipway.errors import UntrustedModel


@dataclass(frozen=True)
class Trust:
    """The caller's ``trusted`` argument, normalised.

    Attributes:
        everything: ``trusted=True``: the caller vouches for the whole artifact.
        types: fully qualified type names the caller named as trusted.
    """

    everything: bool = False
    types: frozenset[str] = frozenset()

    @classmethod
    def of(cls, trusted: bool | Iterable[str]) -> Trust:
        """Build from the public ``trusted`` argument (a lone string counts as one type name)."""
        if isinstance(trusted, bool):
            return cls(everything=trusted)
        if isinstance(trusted, str):
            return cls(types=frozenset([trusted]))
        return cls(types=frozenset(trusted))

    def check_types(self, found: Iterable[str], *, what: str) -> None:
        """Refuse unless every type in ``found`` is trusted.

        Raises:
            UntrustedModel: naming the types still to trust and how to trust them.
        """
        if self.everything:
            return
        missing = sorted(set(found) - self.types)
        if missing:
            raise UntrustedModel(
                f"{what} holds types that are not trusted by default: {', '.join(missing)}. "
                f"Loading them can run their code or crash on a crafted file. If you trust where the "
                f"file comes from, name them: trusted={missing!r}",
                details={"untrusted": missing},
            )

    def require_everything(self, reason: str) -> None:
        """Refuse unless the caller passed ``trusted=True``.

        Raises:
            UntrustedModel: with ``reason`` and how to opt in.
        """
        if not self.everything:
            raise UntrustedModel(
                f"{reason} Only do this for files you trust, and opt in with trusted=True.",
                details={"untrusted": []},
            )
