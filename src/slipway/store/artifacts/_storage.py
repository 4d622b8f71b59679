"""The raw-bytes layer under every stored file: a flat namespace of keys on some storage engine.

Everything Slipway stores as files (artifact blobs, reports, captured data, offline features)
goes through a :class:`BlobStorage`. It knows nothing of hashes, owners or databases; the
content-addressed :class:`~slipway.store.artifacts.ArtifactStore` is built on top of it.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

# Bytes copied per read when streaming: big enough for throughput, small enough to never matter.
COPY_CHUNK_SIZE = 1 << 20


class BlobStorage(abc.ABC):
    """Objects under string keys, written whole and read as streams.

    A key is a relative POSIX path of plain segments (``blobs/ab/cd/abcd...``) as
    :func:`~slipway.store.artifacts.normalize_path` accepts it; every method raises
    :class:`~slipway.errors.InvalidInput` with ``field="key"`` (or ``"prefix"``) for any other.
    Keys are folders and names, as on a file system: the folder ``a`` holds the keys ``a/b`` and
    ``a/c/d``.

    Implementations are safe to use from several threads and processes at once. Writing the
    same key twice concurrently leaves one of the two complete objects. Nothing is cached:
    an object written by another process is visible to the next call.
    """

    @abc.abstractmethod
    def put_file(self, key: str, local_path: Path) -> None:
        """Store the bytes of a local file under ``key``, replacing any object already there.

        Atomic: until the call returns, readers see the previous object or none; if it fails or
        the process dies midway, no partial object is ever visible under ``key``.

        Raises:
            InvalidInput: if ``key`` is not a valid key.
            OSError: if ``local_path`` cannot be read or the engine refuses the write.
        """

    @abc.abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """Open the object under ``key`` for streaming reads; the caller closes it.

        The whole object is never loaded into memory: reads fetch it piece by piece.

        Raises:
            NotFound: if there is no object under ``key``.
        """

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key`` (a folder of keys is not an object)."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object under ``key``.

        Idempotent: deleting a key that holds no object is not an error, so a cleanup that died
        halfway can simply run again.
        """

    @abc.abstractmethod
    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        """Yield every key below the folder ``prefix`` (``""`` for all), in no promised order.

        A folder that holds nothing yields nothing; it is not an error.
        """
