"""Blob storage on any fsspec file system; S3 (and S3-compatible servers) through s3fs."""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

from fsspec.core import url_to_fs

from slipway.errors import InvalidInput, MissingExtra, NotFound
from slipway.store.artifacts._paths import normalize_file_path, normalize_path
from slipway.store.artifacts._storage import BlobStorage

_S3_PROTOCOLS = frozenset({"s3", "s3a"})

# Multipart part size for S3 uploads and read-ahead block for downloads. An upload holds about
# 2 x PART_SIZE x max_concurrency bytes in memory (each part is read whole, and copied once more
# on its way into the HTTP request); s3fs's own defaults (50 MiB x 10) would take 1 GiB.
PART_SIZE = 8 << 20
S3_MAX_CONCURRENCY = 2
S3_MAX_PARTS = 10_000  # S3's limit per multipart upload


class FsspecStorage(BlobStorage):
    """Objects on an fsspec file system: ``s3://bucket/prefix``, ``gs://...``, ``memory://...``.

    Atomicity comes from the engine: an object store (S3, GCS, Azure Blob) publishes an object
    only once its upload has completed, multipart uploads included. File-system-like backends
    (SFTP, FTP) give no such promise; use :class:`LocalStorage` for folders.

    For S3, credentials and region come from the usual AWS sources (``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_DEFAULT_REGION``, profiles, instance
    roles); an S3-compatible server (MinIO, Ceph, ...) is reached through ``SLIPWAY_S3_ENDPOINT_URL``
    or ``AWS_ENDPOINT_URL``, read when the storage is created. Explicit options win over both.
    An upload holds about 32 MiB in memory whatever the file's size (16 MiB per concurrent part,
    two at a time unless the ``max_concurrency`` option says otherwise).

    Listings are not cached, so objects written or deleted by other processes are seen at once.

    Args:
        url: where the objects live, e.g. ``s3://bucket/prefix``.
        **storage_options: passed to the fsspec file system, e.g. ``key``, ``secret``,
            ``client_kwargs={"endpoint_url": ...}`` for s3fs.

    Raises:
        InvalidInput: (``field="artifact_url"``) if fsspec does not know the URL's scheme.
        MissingExtra: if the URL is ``s3://`` and s3fs is not installed.

    Example:
        >>> storage = FsspecStorage("s3://ml-artifacts/team-a")
        >>> storage.exists("blobs/00/11/0011...")
        False
    """

    def __init__(self, url: str, **storage_options: Any) -> None:
        scheme = url.partition("://")[0].lower()
        self._is_s3 = scheme in _S3_PROTOCOLS
        options = s3_options(storage_options) if self._is_s3 else dict(storage_options)
        options.setdefault("use_listings_cache", False)
        try:
            self._fs, root = url_to_fs(url, **options)
        except ValueError as exc:
            raise InvalidInput(
                f"unsupported storage URL scheme {scheme!r}: {exc}", field="artifact_url"
            ) from None
        except ImportError as exc:
            raise InvalidInput(
                f"storage URL scheme {scheme!r} needs a package that is not installed: {exc}",
                field="artifact_url",
            ) from None
        self.url = url
        self._root = root.rstrip("/")

    def __repr__(self) -> str:
        return f"FsspecStorage({self.url!r})"

    def _full(self, relative: str) -> str:
        return f"{self._root}/{relative}" if self._root else relative

    def _path(self, key: str) -> str:
        return self._full(normalize_file_path(key, field="key"))

    def put_file(self, key: str, local_path: Path) -> None:
        path = self._path(key)
        # s3fs sends one PUT below 2 parts' size and a multipart upload above; either way the
        # object appears only when complete, and a failed multipart upload is aborted.
        extra = {"chunksize": s3_part_size(os.path.getsize(local_path))} if self._is_s3 else {}
        self._fs.put_file(os.fspath(local_path), path, **extra)

    def open_read(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return cast(BinaryIO, self._fs.open(path, "rb", block_size=PART_SIZE))
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound(f"no object under key {key!r} in {self.url}") from None

    def exists(self, key: str) -> bool:
        return bool(self._fs.isfile(self._path(key)))

    def delete(self, key: str) -> None:
        path = self._path(key)
        with contextlib.suppress(FileNotFoundError):
            self._fs.rm_file(path)

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        prefix = normalize_path(prefix, field="prefix")
        return self._find(prefix)

    def _find(self, prefix: str) -> Iterator[str]:
        below = f"{prefix}/" if prefix else ""
        for name in self._fs.find(self._full(prefix) if prefix else self._root or "/"):
            key = name.removeprefix(self._root).lstrip("/")
            if key.startswith(below):
                yield key


def s3_part_size(size: int) -> int:
    """The multipart part size for an object of ``size`` bytes: PART_SIZE, or more if it must be.

    s3fs uses an explicit part size as given, so a file of over 10,000 parts would fail at the
    10,001st; above 78 GiB the parts grow instead.
    """
    return max(PART_SIZE, -(-size // S3_MAX_PARTS))


def s3_options(storage_options: dict[str, Any]) -> dict[str, Any]:
    """s3fs options with Slipway's defaults: endpoint from the environment, bounded memory."""
    try:
        # fsspec would import it too, but with a message that does not name our extra.
        importlib.import_module("s3fs")
    except ImportError:
        raise MissingExtra("s3", "s3fs") from None
    options = dict(storage_options)
    endpoint = os.environ.get("SLIPWAY_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
    client_kwargs = dict(options.get("client_kwargs") or {})
    if endpoint and "endpoint_url" not in options and "endpoint_url" not in client_kwargs:
        client_kwargs["endpoint_url"] = endpoint
        options["client_kwargs"] = client_kwargs
    options.setdefault("max_concurrency", S3_MAX_CONCURRENCY)
    return options
