"""Remote mode of datasets: :class:`~slipway.datasets.DatasetService`'s declared operations over HTTP, and local data.

Every declared operation is derived (:mod:`slipway.client._operations`). Written here by hand,
because they run on the caller's machine: local data (a DataFrame, a file or a folder of the
caller's) is converted to the canonical Parquet file locally, with the service's own code, and
uploaded; the server reads it back to the same bytes, so the content hash, and with it
deduplication, is the same in both modes (a URI other than ``file://`` is passed on for the server
to read, or refuse); downloads land in the caller's files and DataFrames.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pandas as pd
import pyarrow.parquet as pq

from slipway._references import check_name
from slipway.client._operations import CHUNK, RemoteApi, parse, remote
from slipway.datasets import (
    DatasetService,
    DataSource,
    ObjectRef,
    Registration,
    canonical_parquet,
    check_tags,
)
from slipway.store.artifacts import write_atomically

if TYPE_CHECKING:
    from slipway.client._protocols import DatasetsApi as Declared  # for mypy: the derived methods
else:
    Declared = object


def _ref(ref: ObjectRef) -> dict[str, str]:
    kind, id_ = ref
    return {"kind": kind, "id": id_}


def _is_remote_uri(data: DataSource) -> bool:
    return isinstance(data, str) and "://" in data and not data.lower().startswith("file://")


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


@remote(DatasetService)
class RemoteDatasets(RemoteApi, Declared):
    """The datasets API of a ``slipway server``: the same methods, records and errors as
    :class:`~slipway.datasets.DatasetService`, which documents each of them."""

    def register(
        self, name: str, data: DataSource, *, format: str | None = None, description: str | None = None,
        tags: Mapping[str, Any] | None = None, produced_by: ObjectRef | None = None,
        derived_from: Sequence[ObjectRef] = (), source: str | None = None,
    ) -> Registration:
        path = f"/datasets/{check_name(name)}/versions"
        if _is_remote_uri(data):
            body = {"uri": data, "format": format, "description": description, "tags": check_tags(tags),
                    "produced_by": _ref(produced_by) if produced_by else None,
                    "derived_from": [_ref(r) for r in derived_from]}
            found: Registration = parse(Registration, self._http.request("POST", f"{path}/from-uri", json=body,
                                                                         job=True))
            return found
        tag_values = check_tags(tags)
        with canonical_parquet(data, format=format) as made, made.path.open("rb") as upload:
            params = {"format": "parquet", "description": description, "source": source or made.source,
                      "tags": json.dumps(tag_values),
                      "produced_by": json.dumps(_ref(produced_by)) if produced_by else None,
                      "derived_from": json.dumps([_ref(r) for r in derived_from])}
            answer = self._http.request("POST", path, params=params, content=_chunks(upload), job=True)
        uploaded: Registration = parse(Registration, answer)
        return uploaded

    def download(self, name: str, version: int | None, dst: Path) -> Path:
        with self.open(name, version) as src:
            write_atomically(Path(dst), src, durable=False)
        return Path(dst)

    def load(
        self, name: str, version: int | None = None, *, columns: Sequence[str] | None = None,
        reader: ObjectRef | None = None,
    ) -> pd.DataFrame:
        number = self.get_version(name).version if version is None else version
        with tempfile.TemporaryDirectory(prefix="slipway-load-") as tmp:
            path = self.download(name, number, Path(tmp) / "data.parquet")
            frame = pq.read_table(path, columns=list(columns) if columns is not None else None).to_pandas()
        if reader is not None:
            self.record_read(name, number, reader)
        return frame
