"""The content hash of a tree of files: one SHA-256 over every file's path and SHA-256.

The same number comes from the store's records (:func:`tree_digest` over ``(path, sha256)``
pairs, without reading a byte) and from a local copy (:func:`folder_digest`, which reads every
file), so what a registry recorded can be checked against what a loader is about to load.

The hash is that of the text ``sha256sum`` prints for the files, sorted by path, with the
``./`` dropped: one line ``<hex sha256>  <path>\\n`` per file. From a shell::

    cd package && find . -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum

Paths hold no newline (the name policy refuses control characters), so the text is unambiguous.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from slipway.store.artifacts._storage import COPY_CHUNK_SIZE


def tree_digest(files: Iterable[tuple[str, str]]) -> str:
    """The hex content hash of files given as ``(path, hex sha256)`` pairs (in any order)."""
    digest = hashlib.sha256()
    # Sorted by UTF-8 bytes, as `LC_ALL=C sort` does (code point order for str).
    for path, sha256 in sorted(files, key=lambda file: file[0].encode()):
        digest.update(f"{sha256}  {path}\n".encode())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a local file's content, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        while chunk := src.read(COPY_CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def folder_digest(folder: Path) -> str:
    """The content hash of every file below ``folder`` (as :func:`tree_digest`), read from disk.

    Linked folders are not followed; a linked file counts with the content it points at, as
    :meth:`ArtifactStore.put_dir` stores it.
    """
    files = []
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            file = Path(dirpath, name)
            files.append((file.relative_to(folder).as_posix(), file_sha256(file)))
    return tree_digest(files)
