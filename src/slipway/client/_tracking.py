"""Remote mode of tracking: :class:`TrackingService`'s declared operations over HTTP, and its local files.

Every declared operation is derived (:mod:`slipway.client._operations`). Written here by hand, because
only the caller's machine can do them: uploading a local file or folder, and downloading into one.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.client._operations import RemoteApi, local_files, remote
from slipway.errors import InvalidInput
from slipway.store.artifacts import ArtifactInfo, normalize_path, write_atomically
from slipway.tracking import TrackingService

if TYPE_CHECKING:
    from slipway.client._protocols import TrackingApi as Declared  # for mypy: the derived methods
else:
    Declared = object


@remote(TrackingService)
class RemoteTracking(RemoteApi, Declared):
    """The tracking API of a ``slipway server``: the same methods, records and errors as
    :class:`~slipway.tracking.TrackingService`, which documents each of them."""

    def revealing_secrets(self) -> RemoteTracking:
        """The same API, asking the server to show secret-looking params and tags instead of ``***``.

        The server grants it to admins only: for anyone else each call returning runs or experiments
        raises ``PermissionDenied``.
        """
        revealing = RemoteTracking.connect(self._http)
        revealing._query = {"reveal_secrets": "true"}
        return revealing

    def batch(self) -> contextlib.AbstractContextManager[Any]:
        """Embedded, a block whose writes share one transaction; here every call in it stays a
        request of its own, stored when it returns (the server has no transaction across requests)."""
        return contextlib.nullcontext()

    def log_artifact(self, run_id: str, local_path: str | Path, artifact_path: str | None = None) -> list[ArtifactInfo]:
        """Upload a file, or a folder's files one by one (in path order), with the service's layout.

        Unlike embedded mode, a folder is not stored in one transaction: if an upload fails, the
        files before it stay stored.
        """
        local = Path(local_path)
        if local.is_dir():
            prefix = normalize_path(artifact_path or "", field="prefix")
            uploads = sorted(
                ("/".join(p for p in (prefix, file.relative_to(local).as_posix()) if p), file)
                for file in local_files(local)
            )
        elif local.is_file():
            uploads = [(f"{artifact_path.rstrip('/')}/{local.name}" if artifact_path else local.name, local)]
        else:
            raise InvalidInput(f"{local} is neither a file nor a folder", field="local_path")
        infos = []
        for dest, file in uploads:
            with file.open("rb") as src:
                infos.append(self.log_bytes(run_id, src, dest))
        return infos

    def download_artifacts(self, run_id: str, path: str, dst: str | Path) -> Path:
        """Download a file to ``dst``, or a folder's files below ``dst``, as the store's ``download`` does."""
        dst = Path(dst)
        files = self.list_artifacts(run_id, path, recursive=True)
        if not files:  # a file, or nothing: opening it tells which
            with self.open_artifact(run_id, path) as src:
                if dst.is_dir():
                    raise InvalidInput(f"cannot download the file {path!r} onto the folder {dst}", field="dst")
                write_atomically(dst, src, durable=False)
            return dst
        if dst.exists() and not dst.is_dir():
            raise InvalidInput(f"cannot download the folder {path!r} onto the file {dst}", field="dst")
        folder = normalize_path(path)
        for file in files:
            # Checked again here: a path from the server must not lead outside dst.
            relative = normalize_path(file.path[len(folder) + 1:] if folder else file.path)
            with self.open_artifact(run_id, file.path) as src:
                write_atomically(dst.joinpath(*relative.split("/")), src, durable=False)
        return dst

