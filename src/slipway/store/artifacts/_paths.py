"""Artifact paths: the one gate every path from a caller passes before it reaches a store.

A normalised path is a relative POSIX path of plain segments (``models/best/model.onnx``), or
``""`` for the root of an owner's tree. Because no segment can be ``..`` or ``.``, and the path
can be neither absolute nor contain a backslash, joining it below any folder stays in that folder.
"""

from __future__ import annotations

from slipway._names import clean
from slipway.errors import InvalidInput

MAX_PATH_LENGTH = 1024  # the width of ``artifacts.path``


def normalize_path(path: str, *, field: str = "path") -> str:
    """Check a relative artifact path and return it in its one canonical spelling.

    A leading ``./`` and one trailing ``/`` are dropped, so ``./plots/`` and ``plots`` name the
    same folder; ``""`` and ``"."`` name the root; the path is put in Unicode normal form C, so a
    name typed with a combining accent is the same path as with the accented letter. Everything
    else that could make two spellings of one path, or let a path leave the folder it is joined
    to, is refused rather than repaired (see :mod:`slipway._names`).

    Args:
        path: the path as the caller wrote it.
        field: the name of the argument, reported in the error.

    Returns:
        The normalised path (``""`` for the root).

    Raises:
        InvalidInput: (with ``field``) if the path is absolute, contains ``..`` or ``.`` segments,
            empty segments (``a//b``), backslashes, control, invisible or direction-changing
            characters (NUL, a zero-width space, U+202E, a BOM...), or is longer than 1024 characters.

    Example:
        >>> normalize_path("./runs/metrics.json")
        'runs/metrics.json'
    """
    # The name policy: NFC, and no control, invisible or direction-changing character (a lone
    # surrogate, as a file name with undecodable bytes reads with surrogateescape, included).
    path = clean(path, field=field, what=field)
    if "\\" in path:
        raise InvalidInput(f"{field} {path!r} contains a backslash; separate folders with '/'", field=field)
    if path.startswith("/"):
        raise InvalidInput(f"{field} {path!r} is absolute; artifact paths are relative", field=field)
    while path.startswith("./"):
        path = path[2:]
    if path in ("", "."):
        return ""
    path = path.removesuffix("/")
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidInput(
            f"{field} is {len(path)} characters long; the limit is {MAX_PATH_LENGTH}", field=field
        )
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            what = "an empty segment" if not segment else f"a {segment!r} segment"
            raise InvalidInput(f"{field} {path!r} contains {what}", field=field)
    return path


def normalize_file_path(path: str, *, field: str = "path") -> str:
    """Like :func:`normalize_path`, but the root is refused: a file needs a name."""
    normalized = normalize_path(path, field=field)
    if not normalized:
        raise InvalidInput(f"{field} must name a file, not the root", field=field)
    return normalized


def join_path(folder: str, name: str) -> str:
    """Join two normalised paths, either of which may be the root ``""``."""
    return f"{folder}/{name}" if folder and name else folder or name
