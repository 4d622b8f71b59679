"""References to stored objects, and the names they are made of: one rule for every face.

A named object (dataset, feature group, baseline, monitor, model group) has a name of 1 to 128
letters, digits and ``_ . -``, starting with a letter or digit (:func:`check_name`), so that every
name fits in a URI, a REST path and a file path unescaped.

A version of a dataset or a baseline is written ``NAME`` (the latest) or ``NAME:VERSION``
(:class:`VersionRef`). A model version is named by a ``models:/`` URI (:class:`ModelUri`)::

    models:/abalone/3                 version 3
    models:/abalone/latest            the highest version that is not archived
    models:/abalone@prod              the version the alias ``prod`` points at
    models:/abalone@latest-approved   the highest approved version that is not archived

or, where a place takes only models, by the URI's tail ``GROUP/VERSION`` (``abalone/3``).
Aliases are restricted so that no alias can be mistaken for a selector.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from slipway._names import ALIAS, WORD
from slipway.errors import InvalidInput

SCHEME = "models:/"


class Selector(StrEnum):
    """How a URI picks the version within its group."""

    NUMBER = "number"
    ALIAS = "alias"
    LATEST = "latest"
    LATEST_APPROVED = "latest-approved"


_RESERVED_ALIASES = frozenset({Selector.LATEST.value, Selector.LATEST_APPROVED.value})


def check_name(name: object, field: str = "name") -> str:
    """Return ``name`` as stored (NFC) if it can name a stored object that references name.

    The rule is :data:`slipway._names.WORD`, the name policy's word.

    Raises:
        InvalidInput: naming ``field``, unless it is 1 to 128 letters, digits, ``_ . -``, starting
            with a letter or digit.
    """
    return WORD.check(name, field, field)


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


class VersionRef(NamedTuple):
    """``NAME`` (the latest version) or ``NAME:VERSION``: how a dataset or baseline version is named in text.

    Attributes:
        name: the object's name.
        version: the version number, or None for the latest.

    A tuple, so ``name, version = VersionRef.parse(text)`` reads well where a service takes both.
    """

    name: str
    version: int | None = None

    @classmethod
    def parse(cls, text: object, field: str = "ref") -> VersionRef:
        """Read ``abalone`` or ``abalone:3``.

        Raises:
            InvalidInput: naming ``field``, for a name that breaks :func:`check_name` or a version
                that is not a positive integer (``abalone:``, ``abalone:0``, ``abalone:x``).

        Example:
            >>> VersionRef.parse("abalone:3")
            VersionRef(name='abalone', version=3)
        """
        if not isinstance(text, str):
            raise InvalidInput(f"{field} {text!r} is not NAME or NAME:VERSION: it must be text", field=field)
        name, sep, number = text.partition(":")
        try:
            return cls(check_name(name, field), check_version_number(number, field) if sep else None)
        except InvalidInput as exc:
            raise InvalidInput(f"{field} {text!r} is not NAME or NAME:VERSION: {exc.message}", field=field) from None

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}:{self.version}"


def parse_model_version(text: object, field: str = "model") -> tuple[str, int]:
    """The group and number of a ``GROUP/VERSION`` reference such as ``abalone/3``.

    Raises:
        InvalidInput: naming ``field``, unless ``text`` is a valid group name, ``/`` and a positive integer.
    """
    group, slash, number = text.rpartition("/") if isinstance(text, str) else ("", "", "")
    try:
        if not slash:
            raise InvalidInput("a '/' and a version number must follow the group", field=field)
        return check_name(group, field), check_version_number(number, field)
    except InvalidInput as exc:
        raise InvalidInput(f"{field} {text!r} is not GROUP/VERSION: {exc.message}", field=field) from None


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

    @classmethod
    def of(cls, ref: str) -> ModelUri:
        """Read a ``models:/`` URI, or its tail alone (``abalone/3``, ``abalone@prod``).

        Raises:
            InvalidInput: as :meth:`parse` does.
        """
        return cls.parse(ref if isinstance(ref, str) and ref.startswith(SCHEME) else f"{SCHEME}{ref}")

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
        return check_name(group, "group")
    except InvalidInput as exc:
        raise _bad(uri, exc.message) from None


def _bad(uri: object, why: str) -> InvalidInput:
    return InvalidInput(
        f"{uri!r} is not a model URI: {why}. Accepted: models:/NAME/3, models:/NAME/latest, "
        f"models:/NAME@ALIAS, models:/NAME@latest-approved",
        field="uri",
    )
