"""Remote mode of the registry: :class:`RegistryService`'s methods over HTTP.

Each method sends one request and parses the record the service returns; the server's service
decides and raises, so embedded and remote callers get the same answers and errors. The work
that must happen on the caller's machine is shared with the embedded service
(:mod:`slipway.registry._packaging`): packaging a model before upload, and caching a
downloaded package for :meth:`RemoteRegistry.load_model`.

Registering uploads the package file by file under a fresh version id, then asks the server to
register that id; if an upload fails, nothing is registered (the uploaded files stay unreferenced
until the artifact store's garbage collection).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import math
from collections.abc import Generator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast
from urllib.parse import quote

from slipway._ids import new_id
from slipway.client._http import HttpSession
from slipway.client._operations import CHUNK
from slipway.client._operations import DownloadStream as _DownloadStream
from slipway.client._operations import local_files as _local_files
from slipway.client._operations import parse as _parse
from slipway.client._operations import url_path as _url_path
from slipway.errors import InvalidInput
from slipway.models import LoadedModel, ModelCard, load_model
from slipway.registry import (
    AliasChange,
    ApprovalStatus,
    MetricInput,
    MetricValue,
    ModelGroup,
    ModelUri,
    ModelVersion,
    StatusChange,
    VersionComparison,
)
from slipway.registry._packaging import cached_package, packaged
from slipway.registry._uri import check_alias, check_group_name
from slipway.registry._validation import dump_metadata
from slipway.store.artifacts import ArtifactInfo, normalize_path, write_atomically
from slipway.tracking._validation import texts as _texts

T = TypeVar("T")


def _json_number(value: Any) -> Any:
    """JSON has no NaN or Infinity: they go as strings, which the server refuses as the service does."""
    return str(value) if isinstance(value, float) and not math.isfinite(value) else value


def _metrics_body(metrics: Any) -> Any:
    """Metrics as JSON: MetricValue records as ``{"value", "std"}``; the server checks the rest."""
    if not isinstance(metrics, Mapping):
        return metrics
    out = {}
    for name, given in metrics.items():
        data = given.model_dump() if isinstance(given, MetricValue) else given
        out[name] = {k: _json_number(v) for k, v in data.items()} if isinstance(data, Mapping) else _json_number(data)
    return out


# Names that go into a URL path are checked first, with the service's own checks: a name such as
# "a/b" could not reach the right route, and must fail here as the service would fail it.


def _group(group: str, rest: str = "") -> str:
    return f"/model-groups/{check_group_name(group)}{rest}"


def _version(group: str, version: int, rest: str = "") -> str:
    return _group(group, f"/versions/{quote(str(version), safe='')}{rest}")


def _alias(group: str, alias: str, rest: str = "") -> str:
    alias = check_alias(alias)  # before the group, in the service's order
    return _group(group, f"/aliases/{alias}{rest}")


def _file(version_id: str, path: str) -> str:
    return f"/model-versions/{quote(version_id, safe='')}/files/{_url_path(path)}"


class RemoteRegistry:
    """The registry of a ``slipway server``: the same methods, records and errors as
    :class:`~slipway.registry.RegistryService`, which documents each of them.

    Args:
        http: the session to the server.
        cache_dir: where :meth:`load_model` keeps downloaded packages (by version id).
    """

    def __init__(self, http: HttpSession, *, cache_dir: Path) -> None:
        self._http = http
        self._cache_dir = Path(cache_dir)

    def _call(self, kind: type[T], method: str, path: str, **request: Any) -> T:
        return _parse(kind, self._http.request(method, path, **request))

    # ----------------------------------------------------------------- groups

    def create_group(
        self, name: str, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> ModelGroup:
        body = {"name": name, "description": description, "tags": _texts(tags)}
        return self._call(ModelGroup, "POST", "/model-groups", json=body)

    def get_group(self, name: str) -> ModelGroup:
        return self._call(ModelGroup, "GET", _group(name))

    def list_groups(self, name_like: str | None = None) -> list[ModelGroup]:
        return self._call(list[ModelGroup], "GET", "/model-groups", params={"name_like": name_like})

    def update_group(
        self, name: str, *, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> ModelGroup:
        return self._call(ModelGroup, "PATCH", _group(name), json={"description": description, "tags": _texts(tags)})

    def delete_group_tag(self, name: str, key: str) -> ModelGroup:
        return self._call(ModelGroup, "DELETE", _group(name, "/tags"), params={"key": key})

    # ----------------------------------------------------------------- registering

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
        check_group_name(group)  # before any upload, as the service checks it before packaging
        package = packaged(
            model_or_path, flavor=flavor, input_example=input_example, model_card=model_card, trusted=trusted
        )
        with package as (folder, _info):
            version_id = new_id()
            for file in sorted(_local_files(folder)):
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

    def stage_file(self, version_id: str, path: str, stream: BinaryIO) -> ArtifactInfo:
        """Upload one file of a package, sent in chunks (never read whole into memory)."""
        content = iter(functools.partial(stream.read, CHUNK), b"")
        headers = {"Content-Type": "application/octet-stream"}
        return self._call(ArtifactInfo, "PUT", _file(version_id, path), content=content, headers=headers)

    def create_version(
        self,
        group: str,
        version_id: str,
        *,
        metrics: Mapping[str, MetricInput] | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        source_run_id: str | None = None,
        source_step_execution_id: str | None = None,
    ) -> ModelVersion:
        body = {
            "version_id": version_id,
            "metrics": _metrics_body(metrics),
            "description": description,
            # Encoded by the service's own check, so what JSON cannot carry fails as it does embedded.
            "metadata": None if metadata is None else json.loads(dump_metadata(metadata)),
            "tags": _texts(tags),
            "source_run_id": source_run_id,
            "source_step_execution_id": source_step_execution_id,
        }
        return self._call(ModelVersion, "POST", _group(group, "/versions"), json=body)

    # ----------------------------------------------------------------- reading versions

    def get_version(self, group: str, version: int) -> ModelVersion:
        return self._call(ModelVersion, "GET", _version(group, version))

    def get_version_by_id(self, version_id: str) -> ModelVersion:
        return self._call(ModelVersion, "GET", f"/model-versions/{quote(version_id, safe='')}")

    def get_version_by_alias(self, group: str, alias: str) -> ModelVersion:
        return self._call(ModelVersion, "GET", _alias(group, alias))

    def get_latest_version(self, group: str, *, approved: bool = False) -> ModelVersion:
        return self._call(ModelVersion, "GET", _group(group, "/versions/latest"), params={"approved": approved})

    def resolve(self, uri: str | ModelUri) -> ModelVersion:
        return self._call(ModelVersion, "GET", "/models/resolve", params={"uri": str(uri)})

    def list_versions(self, group: str, *, include_archived: bool = True) -> list[ModelVersion]:
        params = {"include_archived": include_archived}
        return self._call(list[ModelVersion], "GET", _group(group, "/versions"), params=params)

    def search_versions(
        self,
        group: str | None = None,
        *,
        filter: str | None = None,
        status: ApprovalStatus | str | None = None,
        alias: str | None = None,
        tags: Mapping[str, str] | None = None,
        include_archived: bool = False,
        max_results: int = 1000,
    ) -> list[ModelVersion]:
        body = {
            "group": group,
            "filter": filter,
            "status": None if status is None else str(status),
            "alias": alias,
            "tags": _texts(tags),
            "include_archived": include_archived,
            "max_results": max_results,
        }
        return self._call(list[ModelVersion], "POST", "/model-versions/search", json=body)

    def compare_versions(self, group: str, versions: Sequence[int]) -> VersionComparison:
        return self._call(VersionComparison, "POST", _group(group, "/compare"), json={"versions": list(versions)})

    def update_version(
        self,
        group: str,
        version: int,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ModelVersion:
        body = {"description": description, "tags": _texts(tags)}
        return self._call(ModelVersion, "PATCH", _version(group, version), json=body)

    def delete_version_tag(self, group: str, version: int, key: str) -> ModelVersion:
        return self._call(ModelVersion, "DELETE", _version(group, version, "/tags"), params={"key": key})

    # ----------------------------------------------------------------- approval

    def update_status(
        self,
        group: str,
        version: int,
        status: ApprovalStatus | str,
        *,
        comment: str | None = None,
        expected_status: ApprovalStatus | str | None = None,
    ) -> ModelVersion:
        body = {
            "status": str(status),
            "comment": comment,
            "expected_status": None if expected_status is None else str(expected_status),
        }
        return self._call(ModelVersion, "POST", _version(group, version, "/status"), json=body)

    def approve(self, group: str, version: int, comment: str | None = None) -> ModelVersion:
        return self.update_status(group, version, ApprovalStatus.APPROVED, comment=comment)

    def reject(self, group: str, version: int, comment: str | None = None) -> ModelVersion:
        return self.update_status(group, version, ApprovalStatus.REJECTED, comment=comment)

    def status_history(self, group: str, version: int) -> list[StatusChange]:
        return self._call(list[StatusChange], "GET", _version(group, version, "/status-history"))

    # ----------------------------------------------------------------- aliases

    def set_alias(self, group: str, alias: str, version: int, *, comment: str | None = None) -> ModelVersion:
        return self._call(ModelVersion, "PUT", _alias(group, alias), json={"version": version, "comment": comment})

    def remove_alias(self, group: str, alias: str, *, comment: str | None = None) -> None:
        self._http.request("DELETE", _alias(group, alias), params={"comment": comment})

    def alias_history(self, group: str, alias: str) -> list[AliasChange]:
        return self._call(list[AliasChange], "GET", _alias(group, alias, "/history"))

    def alias_at(self, group: str, alias: str, when: dt.datetime | int) -> ModelVersion | None:
        at = when.isoformat() if isinstance(when, dt.datetime) else when
        found = self._http.request("GET", _alias(group, alias, "/at"), params={"when": at})
        return None if found is None else _parse(ModelVersion, found)

    # ----------------------------------------------------------------- archiving

    def archive_version(self, group: str, version: int) -> ModelVersion:
        return self._call(ModelVersion, "POST", _version(group, version, "/archive"))

    def unarchive_version(self, group: str, version: int) -> ModelVersion:
        return self._call(ModelVersion, "POST", _version(group, version, "/unarchive"))

    # ----------------------------------------------------------------- files

    def list_files(self, version_id: str) -> list[ArtifactInfo]:
        return self._call(list[ArtifactInfo], "GET", f"/model-versions/{quote(version_id, safe='')}/files")

    def open_file(self, version_id: str, path: str) -> BinaryIO:
        """A stream over the download; close it (or use ``with``) to free the connection."""
        chunks = cast(Generator[bytes, None, None], self._http.stream(_file(version_id, path)))
        return io.BufferedReader(_DownloadStream(chunks), CHUNK)

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
        found = self.resolve(uri)
        folder = cached_package(self._cache_dir, found.id, lambda dst: self._download_files(found.id, dst))
        return load_model(folder, trusted=trusted)
