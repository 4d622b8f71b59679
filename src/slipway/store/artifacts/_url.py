"""Choosing the blob storage engine from the configured artifact URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from slipway.errors import InvalidInput
from slipway.store.artifacts._fsspec import FsspecStorage
from slipway.store.artifacts._local import LocalStorage
from slipway.store.artifacts._storage import BlobStorage


def storage_from_url(url: str) -> BlobStorage:
    """The storage a URL names: a folder for a plain path or ``file://``, fsspec for anything else.

    S3 settings (endpoint, credentials) come from the environment; see :class:`FsspecStorage`.

    Args:
        url: ``/srv/artifacts``, ``~/.slipway/artifacts``, ``file:///srv/artifacts``,
            ``s3://bucket/prefix`` or any other fsspec URL.

    Raises:
        InvalidInput: (``field="artifact_url"``) for an empty URL, a ``file://`` URL naming
            another host, or a scheme fsspec does not know (the message names it).
        MissingExtra: for ``s3://`` without s3fs installed.

    Example:
        >>> storage_from_url("s3://ml-artifacts/team-a")
        FsspecStorage('s3://ml-artifacts/team-a')
    """
    if not url:
        raise InvalidInput("the artifact URL is empty", field="artifact_url")
    scheme, separator, _ = url.partition("://")
    if not separator:
        return LocalStorage(Path(url))
    if scheme.lower() != "file":
        return FsspecStorage(url)
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise InvalidInput(f"{url!r} names the host {parts.netloc!r}; file:// URLs must be local",
                           field="artifact_url")
    return LocalStorage(Path(unquote(parts.path)))
