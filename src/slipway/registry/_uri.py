"""``models:/`` URIs and the names they are made of.

A URI names one version of a model group::

    models:/abalone/3                 version 3
    models:/abalone/latest            the highest version that is not archived
    models:/abalone@prod              the version the alias ``prod`` points at
    models:/abalone@latest-approved   the highest approved version that is not archived

Group names and aliases are restricted so that every name fits in a URI and a REST path
unescaped, and no alias can be mistaken for a selector.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from slipway._names import ALIAS, WORD
from slipway.errors import InvalidInput

SCHEME = "models:/"
MAX_GROUP_NAME = WORD.max_length
MAX_ALIAS = ALIAS.max_length


class Selector(StrEnum):
    """How a URI picks the version within its group."""

    NUMBER = "number"
    ALIAS = "alias"
    LATEST = "latest"
    LATEST_APPROVED = "latest-approved"


_RESERVED_ALIASES = frozenset({Selector.LATEST.value, Selector.LATEST_APPROVED.value})


def check_group_name(name: object, field: str = "group") -> str:
    """Return ``name`` as stored if it can name a model group (see :data:`slipway._names.WORD`).

    Raises:
        InvalidInput: unless it is 1 to 128 letters, digits, ``_ . -``, starting with a letter or digit.
    """
    return WORD.check(name, field, f"model group {field}")


def check_alias(alias: object) -> str:
    """Return ``alias`` if it can name an alias (see :data:`slipway._names.ALIAS`).

    Raises:
        InvalidInput: unless it matches ``[a-z][a-z0-9_-]*`` (at most 64 characters) and is not
            ``latest`` or ``latest-approved``, which URIs reserve.
    """
    alias = ALIAS.check(alias, "alias")
    if alias in _RESERVED_ALIASES:
        raise InvalidInput(f"{alias!r} is reserved for URIs and cannot be an alias", field="alias")
    return alias


def check_version_number(version: object, field: str = "version") -> int:
    """Return ``version`` if it is a version number (a positive integer; digit strings accepted).

    Raises:
        InvalidInput: naming ``field``.
    """
    if isinstance(version, str) and version.isascii() and version.isdigit():  # not other scripts' digits
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInput(f"{field} must be a positive integer, got {version!r}", field=field)
    return version


@dataclass(frozen=True)
class ModelUri:
    """A parsed ``models:/`` URI.

    Attributes:
        group: the model group's name.
        selector: how the version is picked.
        version: the number, for ``Selector.NUMBER``.
        alias: the alias, for ``Selector.ALIAS``.
    """

    group: str
    selector: Selector
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, uri: str) -> ModelUri:
        """Read a URI such as ``models:/abalone@prod``.

        Raises:
            InvalidInput: (``field="uri"``) saying what is wrong and showing the accepted forms.

        Example:
            >>> ModelUri.parse("models:/abalone/3").version
            3
        """
        if not isinstance(uri, str) or not uri.startswith(SCHEME):
            raise _bad(uri, f"it must start with {SCHEME!r}")
        rest = uri[len(SCHEME) :]
        if "@" in rest:
            group, _, alias = rest.partition("@")
            if not alias or "/" in alias:
                raise _bad(uri, "after '@' comes an alias such as 'prod', or 'latest-approved'")
            if alias == Selector.LATEST_APPROVED.value:
                return cls(_group(uri, group), Selector.LATEST_APPROVED)
            if alias == Selector.LATEST.value:
                raise _bad(uri, f"write {SCHEME}{group}/latest for the latest version")
            try:
                return cls(_group(uri, group), Selector.ALIAS, alias=check_alias(alias))
            except InvalidInput as exc:
                raise _bad(uri, exc.message) from None
        group, slash, tail = rest.partition("/")
        group = _group(uri, group)
        if not slash or not tail:
            raise _bad(uri, "name a version: /3, /latest, @prod or @latest-approved")
        if tail == Selector.LATEST.value:
            return cls(group, Selector.LATEST)
        if tail.isascii() and tail.isdigit() and int(tail) > 0:
            return cls(group, Selector.NUMBER, version=int(tail))
        raise _bad(uri, f"{tail!r} is neither a version number nor 'latest'")

    def __str__(self) -> str:
        match self.selector:
            case Selector.NUMBER:
                return f"{SCHEME}{self.group}/{self.version}"
            case Selector.LATEST:
                return f"{SCHEME}{self.group}/latest"
            case Selector.ALIAS:
                return f"{SCHEME}{self.group}@{self.alias}"
        return f"{SCHEME}{self.group}@latest-approved"


def _group(uri: str, group: str) -> str:
    try:
        return check_group_name(group)
    except InvalidInput as exc:
        raise _bad(uri, exc.message) from None


def _bad(uri: object, why: str) -> InvalidInput:
    return InvalidInput(
        f"{uri!r} is not a model URI: {why}. Accepted: models:/NAME/3, models:/NAME/latest, "
        f"models:/NAME@ALIAS, models:/NAME@latest-approved",
        field="uri",
    )
