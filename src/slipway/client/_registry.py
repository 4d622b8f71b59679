"""Remote mode of the registry: :class:`RegistryService`'s declared operations over HTTP, and its local files.

Every declared operation is derived (:mod:`slipway.client._operations`). Written here by hand, because
they run on the caller's machine, with the embedded service's own code
(:mod:`slipway.registry._packaging`): packaging a model before upload, and caching a downloaded
package for :meth:`RemoteRegistry.load_model`.

Registering uploads the package file by file under a fresh version id, then asks the server to
register that id; if an upload fails, nothing is registered (the uploaded files stay unreferenced
until the artifact store's garbage collection).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway._ids import new_id
from slipway._references import check_name
from slipway.client._http import HttpSession
from slipway.client._operations import RemoteApi, local_files, remote
from slipway.errors import InvalidInput
from slipway.models import LoadedModel, ModelCard, load_model
from slipway.registry import (
    MetricInput,
    ModelUri,
    ModelVersion,
    RegistryService,
    effective_trust,
    packaged,
    verified_package,
)
from slipway.store.artifacts import normalize_path, write_atomically

if TYPE_CHECKING:
    from slipway.client._protocols import RegistryApi as Declared  # for mypy: the derived methods
else:
    Declared = object


@remote(RegistryService)
class RemoteRegistry(RemoteApi, Declared):
    """The registry of a ``slipway server``: the same methods, records and errors as
    :class:`~slipway.registry.RegistryService`, which documents each of them.

    Args:
        http: the session to the server.
        cache_dir: where :meth:`load_model` keeps downloaded packages (by version id).
    """

    def __init__(self, http: HttpSession, *, cache_dir: Path) -> None:
        super().__init__(http)
        self._cache_dir = Path(cache_dir)

    def register_model(
        self,
        group: str,
        model_or_path: Any,
        *,
        flavor: str | None = None,
        input_example: object = None,
        metrics: Mapping[str, MetricInput] | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        source_run_id: str | None = None,
        source_step_execution_id: str | None = None,
        model_card: ModelCard | str | None = None,
        trusted: bool | Iterable[str] = False,
    ) -> ModelVersion:
        """Package locally (unless given a package folder), upload the files, then register them."""
        check_name(group, "group")  # before any upload, as the service checks it before packaging
        package = packaged(
            model_or_path, flavor=flavor, input_example=input_example, model_card=model_card, trusted=trusted
        )
        with package as (folder, _info):
            version_id = new_id()
            for file in sorted(local_files(folder)):
                with file.open("rb") as src:
                    self.stage_file(version_id, file.relative_to(folder).as_posix(), src)
        return self.create_version(
            group,
            version_id,
            metrics=metrics,
            description=description,
            metadata=metadata,
            tags=tags,
            source_run_id=source_run_id,
            source_step_execution_id=source_step_execution_id,
        )

    def download_version(self, group: str, version: int, dst: str | Path) -> Path:
        return self._download_files(self.get_version(group, version).id, Path(dst))

    def _download_files(self, version_id: str, dst: Path) -> Path:
        if dst.exists() and not dst.is_dir():
            raise InvalidInput(f"cannot download the package onto the file {dst}", field="dst")
        for file in self.list_files(version_id):
            # Checked again here: a path from the server must not lead outside dst.
            relative = normalize_path(file.path)
            with self.open_file(version_id, file.path) as src:
                write_atomically(dst.joinpath(*relative.split("/")), src, durable=False)
        return dst

    def load_model(self, uri: str | ModelUri, *, trusted: bool | Iterable[str] = False) -> LoadedModel:
        """Download the version (once, into the cache) and load it here.

        A version an admin marked trusted needs no ``trusted=``.
        """
        found = self.resolve(uri)
        folder = verified_package(self._cache_dir, found, lambda dst: self._download_files(found.id, dst))
        return load_model(folder, trusted=effective_trust(found, trusted))
