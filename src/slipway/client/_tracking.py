"""Remote mode of tracking: :class:`TrackingService`'s methods over HTTP.

Each method builds one request, sends it through :class:`HttpSession` (which turns an error body
back into the same exception the service raises) and parses the same record type the service
returns. No rule lives here: the server's service decides, so embedded and remote callers get the
same answers. The only local work is what the server cannot do: reading and writing the caller's
own files.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import math
import os
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast
from urllib.parse import quote

from pydantic import TypeAdapter

from slipway.client._http import HttpSession
from slipway.errors import InvalidInput
from slipway.store.artifacts import ArtifactInfo, normalize_path, write_atomically
from slipway.tracking import Experiment, Metric, Run, RunComparison, RunPage, RunStatus

T = TypeVar("T")

CHUNK = 1 << 20  # bytes per upload chunk and per download buffer
_METRIC_FIELDS = ("key", "value", "step", "timestamp")
_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}  # built once per record type: building one is slow


def _parse(kind: type[T], data: Any) -> T:
    """Validate a JSON answer into the record type the service returns."""
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    result: T = adapter.validate_python(data)
    return result


def _texts(values: Mapping[str, Any] | None) -> Any:
    """Param and tag values as the service stores them (``str(value)``): JSON cannot carry every value."""
    if not isinstance(values, Mapping):
        return values  # None, or a wrong type that the server refuses as the service would
    return {key: str(value) for key, value in values.items()}


def _number(value: Any) -> Any:
    """A metric value for JSON, which has no NaN or Infinity: those go as "nan", "inf", "-inf"."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return str(value)  # not a float: the server refuses it, as the service would
    return number if math.isfinite(number) else str(number)


def _metric_body(item: Metric | Mapping[str, Any]) -> Any:
    data = item.model_dump() if isinstance(item, Metric) else item
    if not isinstance(data, Mapping):
        return data
    body = {name: data[name] for name in _METRIC_FIELDS if name in data}
    if "value" in body:
        body["value"] = _number(body["value"])
    return body


def _time(value: dt.datetime | int | None) -> str | int | None:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _url_path(path: str) -> str:
    """Percent-encode an artifact path, dot segments included.

    httpx would resolve ``..`` away before sending; the server must see the path exactly as the
    caller wrote it, so that it refuses it exactly as the embedded store does.
    """
    return "/".join(quote(seg, safe="") if seg.strip(".") else seg.replace(".", "%2E") for seg in path.split("/"))


def _local_files(folder: Path) -> Iterator[Path]:
    # Like the store's put_dir: linked folders are not followed, so a link cycle cannot trap the walk.
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            yield Path(dirpath, name)


class _DownloadStream(io.RawIOBase):
    """A readable binary stream over the chunks of a download; closing it ends the download."""

    def __init__(self, chunks: Generator[bytes, None, None]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = memoryview(next(chunks, b""))  # the server's error, if any, is raised here

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def close(self) -> None:
        if not self.closed:
            self._chunks.close()
        super().close()


class RemoteTracking:
    """The tracking API of a ``slipway server``: the same methods, records and errors as
    :class:`~slipway.tracking.TrackingService`, which documents each of them."""

    def __init__(self, http: HttpSession, *, reveal_secrets: bool = False) -> None:
        self._http = http
        self._reveal = reveal_secrets

    def revealing_secrets(self) -> RemoteTracking:
        """The same API, asking the server to show secret-looking params and tags instead of ``***``.

        The server grants it to admins only: for anyone else each call raises ``PermissionDenied``.
        """
        return RemoteTracking(self._http, reveal_secrets=True)

    def _call(self, kind: type[T], method: str, path: str, **request: Any) -> T:
        if self._reveal:
            request["params"] = {**(request.get("params") or {}), "reveal_secrets": "true"}
        return _parse(kind, self._http.request(method, path, **request))

    # ----------------------------------------------------------------- experiments

    def create_experiment(
        self, name: str, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> Experiment:
        body = {"name": name, "description": description, "tags": _texts(tags)}
        return self._call(Experiment, "POST", "/experiments", json=body)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._call(Experiment, "GET", _experiment(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment:
        return self._call(Experiment, "GET", "/experiments/by-name", params={"name": name})

    def get_or_create_experiment(self, name: str) -> Experiment:
        return self._call(Experiment, "POST", "/experiments/get-or-create", json={"name": name})

    def list_experiments(self, *, include_deleted: bool = False, name_like: str | None = None) -> list[Experiment]:
        params = {"include_deleted": include_deleted, "name_like": name_like}
        return self._call(list[Experiment], "GET", "/experiments", params=params)

    def update_experiment(
        self, experiment_id: str, *, name: str | None = None, description: str | None = None
    ) -> Experiment:
        body = {"name": name, "description": description}
        return self._call(Experiment, "PATCH", _experiment(experiment_id), json=body)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        body = {"key": key, "value": str(value)}
        self._http.request("POST", _experiment(experiment_id, "/tags"), json=body)

    def delete_experiment(self, experiment_id: str) -> None:
        self._http.request("DELETE", _experiment(experiment_id))

    def restore_experiment(self, experiment_id: str) -> None:
        self._http.request("POST", _experiment(experiment_id, "/restore"))

    # ----------------------------------------------------------------- runs

    def create_run(
        self,
        experiment_id: str | None = None,
        *,
        name: str | None = None,
        tags: Mapping[str, str] | None = None,
        parent_run_id: str | None = None,
        start_time: dt.datetime | int | None = None,
        status: RunStatus | str = RunStatus.RUNNING,
    ) -> Run:
        body = {
            "experiment_id": experiment_id, "name": name, "tags": _texts(tags), "parent_run_id": parent_run_id,
            "start_time": _time(start_time), "status": str(status),
        }
        return self._call(Run, "POST", "/runs", json=body)

    def get_run(self, run_id: str) -> Run:
        return self._call(Run, "GET", _run(run_id))

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | str | None = None,
        end_time: dt.datetime | int | None = None,
        name: str | None = None,
    ) -> Run:
        body = {"status": None if status is None else str(status), "end_time": _time(end_time), "name": name}
        return self._call(Run, "PATCH", _run(run_id), json=body)

    def end_run(self, run_id: str, status: RunStatus | str = RunStatus.FINISHED) -> Run:
        return self._call(Run, "POST", _run(run_id, "/end"), json={"status": str(status)})

    def delete_run(self, run_id: str) -> None:
        self._http.request("DELETE", _run(run_id))

    def restore_run(self, run_id: str) -> None:
        self._http.request("POST", _run(run_id, "/restore"))

    # ----------------------------------------------------------------- logging

    def log_metric(
        self, run_id: str, key: str, value: float, step: int = 0, timestamp: int | None = None
    ) -> None:
        body = {"key": key, "value": _number(value), "step": step, "timestamp": timestamp}
        self._http.request("POST", _run(run_id, "/metrics"), json=body)

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self._http.request("POST", _run(run_id, "/params"), json={"key": key, "value": str(value)})

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self._http.request("POST", _run(run_id, "/tags"), json={"key": key, "value": str(value)})

    def delete_tag(self, run_id: str, key: str) -> None:
        self._http.request("DELETE", _run(run_id, "/tags"), params={"key": key})

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[Metric | Mapping[str, Any]] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        body = {"metrics": [_metric_body(m) for m in metrics], "params": _texts(params), "tags": _texts(tags)}
        self._http.request("POST", _run(run_id, "/batch"), json=body)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        return self._call(list[Metric], "GET", _run(run_id, "/metrics/history"), params={"key": key})

    # ----------------------------------------------------------------- search

    def search_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> RunPage:
        body = {
            "experiment_ids": None if experiment_ids is None else list(experiment_ids),
            "filter": filter,
            "order_by": None if order_by is None else list(order_by),
            "max_results": max_results,
            "page_token": page_token,
            "include_deleted": include_deleted,
        }
        return self._call(RunPage, "POST", "/runs/search", json=body)

    def compare_runs(self, run_ids: Sequence[str]) -> RunComparison:
        return self._call(RunComparison, "POST", "/runs/compare", json={"run_ids": list(run_ids)})

    # ----------------------------------------------------------------- artifacts

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
                for file in _local_files(local)
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

    def log_bytes(self, run_id: str, data: bytes | BinaryIO, artifact_path: str) -> ArtifactInfo:
        """Upload bytes, or a stream sent in chunks (never read whole into memory)."""
        content = bytes(data) if isinstance(data, (bytes, bytearray)) else iter(
            functools.partial(data.read, CHUNK), b""
        )
        return self._call(
            ArtifactInfo, "PUT", _artifact(run_id, artifact_path), content=content,
            headers={"Content-Type": "application/octet-stream"},
        )

    def list_artifacts(self, run_id: str, path: str = "", recursive: bool = False) -> list[ArtifactInfo]:
        params = {"path": path, "recursive": recursive}
        return self._call(list[ArtifactInfo], "GET", _run(run_id, "/artifacts"), params=params)

    def open_artifact(self, run_id: str, path: str) -> BinaryIO:
        """A stream over the download; close it (or use ``with``) to free the connection."""
        chunks = cast(Generator[bytes, None, None], self._http.stream(_artifact(run_id, path)))
        return io.BufferedReader(_DownloadStream(chunks), CHUNK)

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


def _experiment(experiment_id: str, rest: str = "") -> str:
    return f"/experiments/{quote(experiment_id, safe='')}{rest}"


def _run(run_id: str, rest: str = "") -> str:
    return f"/runs/{quote(run_id, safe='')}{rest}"


def _artifact(run_id: str, path: str) -> str:
    return _run(run_id, f"/artifacts/{_url_path(path)}")
