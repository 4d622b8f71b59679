"""Remote mode of datasets: :class:`~slipway.datasets.DatasetService`'s methods over HTTP.

Each method sends one request and parses the record the service returns; the server decides and
raises, so embedded and remote callers get the same answers and errors. What must happen on the
caller's machine happens here: local data (a DataFrame, a file or a folder of the caller's) is
converted to the canonical Parquet file locally, with the service's own code, and uploaded; the
server reads it back to the same bytes, so the content hash, and with it deduplication, is the
same in both modes. A URI other than ``file://`` is passed on for the server to read (or refuse).
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast
from urllib.parse import quote

import pandas as pd
import pyarrow.parquet as pq

from slipway.client._http import HttpSession
from slipway.client._operations import CHUNK
from slipway.client._operations import DownloadStream as _DownloadStream
from slipway.client._operations import parse as _parse
from slipway.datasets import (
    Dataset,
    DatasetDiff,
    DatasetVersion,
    DataSource,
    ObjectRef,
    Registration,
    canonical_parquet,
    check_name,
    check_tags,
)
from slipway.lineage import LineageGraph
from slipway.statistics import DatasetStatistics
from slipway.store.artifacts import write_atomically


def _path(name: str, rest: str = "") -> str:
    return f"/datasets/{check_name(name)}{rest}"


def _version(name: str, version: int | None, rest: str = "") -> str:
    if version is None:
        return _path(name, "/latest")
    return _path(name, f"/versions/{quote(str(version), safe='')}{rest}")


def _ref(ref: ObjectRef) -> dict[str, str]:
    kind, id_ = ref
    return {"kind": kind, "id": id_}


def _is_remote_uri(data: DataSource) -> bool:
    return isinstance(data, str) and "://" in data and not data.lower().startswith("file://")


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


class RemoteDatasets:
    """The datasets API of a ``slipway server``: the same methods, records and errors as
    :class:`~slipway.datasets.DatasetService`, which documents each of them."""

    def __init__(self, http: HttpSession) -> None:
        self._http = http

    def register(
        self, name: str, data: DataSource, *, format: str | None = None, description: str | None = None,
        tags: Mapping[str, Any] | None = None, produced_by: ObjectRef | None = None,
        derived_from: Sequence[ObjectRef] = (), source: str | None = None,
    ) -> Registration:
        path = _path(name, "/versions")
        if _is_remote_uri(data):
            body = {"uri": data, "format": format, "description": description, "tags": check_tags(tags),
                    "produced_by": _ref(produced_by) if produced_by else None,
                    "derived_from": [_ref(r) for r in derived_from]}
            return _parse(Registration, self._http.request("POST", f"{path}/from-uri", json=body))
        tag_values = check_tags(tags)
        with canonical_parquet(data, format=format) as made, made.path.open("rb") as upload:
            params = {"format": "parquet", "description": description, "source": source or made.source,
                      "tags": json.dumps(tag_values),
                      "produced_by": json.dumps(_ref(produced_by)) if produced_by else None,
                      "derived_from": json.dumps([_ref(r) for r in derived_from])}
            answer = self._http.request("POST", path, params=params, content=_chunks(upload))
        return _parse(Registration, answer)

    def get_dataset(self, name: str) -> Dataset:
        return _parse(Dataset, self._http.request("GET", _path(name)))

    def list_datasets(self) -> list[Dataset]:
        return _parse(list[Dataset], self._http.request("GET", "/datasets"))

    def list_versions(self, name: str) -> list[DatasetVersion]:
        return _parse(list[DatasetVersion], self._http.request("GET", _path(name, "/versions")))

    def get_version(self, name: str, version: int | None = None) -> DatasetVersion:
        return _parse(DatasetVersion, self._http.request("GET", _version(name, version)))

    def _number(self, name: str, version: int | None) -> int:
        return self.get_version(name).version if version is None else version

    def get_statistics(self, name: str, version: int | None = None) -> DatasetStatistics:
        number = self._number(name, version)
        return DatasetStatistics.from_dict(self._http.request("GET", _version(name, number, "/statistics")))

    def open(self, name: str, version: int | None = None) -> BinaryIO:
        """A stream over the version's Parquet file; close it to free the connection."""
        number = self._number(name, version)
        chunks = cast(Generator[bytes, None, None], self._http.stream(_version(name, number, "/data")))
        return cast(BinaryIO, io.BufferedReader(_DownloadStream(chunks), CHUNK))

    def download(self, name: str, version: int | None, dst: Path) -> Path:
        with self.open(name, version) as src:
            write_atomically(Path(dst), src, durable=False)
        return Path(dst)

    def load(
        self, name: str, version: int | None = None, *, columns: Sequence[str] | None = None,
        reader: ObjectRef | None = None,
    ) -> pd.DataFrame:
        number = self._number(name, version)
        with tempfile.TemporaryDirectory(prefix="slipway-load-") as tmp:
            path = self.download(name, number, Path(tmp) / "data.parquet")
            frame = pq.read_table(path, columns=list(columns) if columns is not None else None).to_pandas()
        if reader is not None:
            self.record_read(name, number, reader)
        return frame

    def diff(self, name: str, first: int, second: int) -> DatasetDiff:
        return _parse(DatasetDiff, self._http.request("GET", _path(name, "/diff"),
                                                      params={"first": first, "second": second}))

    def record_read(self, name: str, version: int | None, reader: ObjectRef) -> DatasetVersion:
        number = self._number(name, version)
        return _parse(DatasetVersion, self._http.request("POST", _version(name, number, "/reads"), json=_ref(reader)))

    def record_write(self, name: str, version: int | None, writer: ObjectRef) -> DatasetVersion:
        number = self._number(name, version)
        return _parse(DatasetVersion, self._http.request("POST", _version(name, number, "/writes"), json=_ref(writer)))

    def lineage(
        self, name: str, version: int | None = None, *, direction: Literal["upstream", "downstream"] = "downstream",
        depth: int = 3,
    ) -> LineageGraph:
        number = self._number(name, version)
        answer = self._http.request("GET", _version(name, number, "/lineage"),
                                    params={"direction": direction, "depth": depth})
        return _parse(LineageGraph, answer)
