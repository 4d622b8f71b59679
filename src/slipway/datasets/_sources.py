"""Where dataset content comes from: DataFrames, Arrow tables, files, folders and URIs, read in batches.

Every source becomes one stream of Arrow record batches with one schema, so the rest of the
domain (conversion to Parquet, statistics, hashing) never cares where the rows came from. Files
are read in blocks, never whole: CSV and JSON lines with Arrow's streaming readers (column types
are inferred from the first block of 64 MiB), Parquet a row group at a time.

What is reachable is deliberately narrow: local paths (and ``file://``), and ``s3://`` through
fsspec. Anything else is refused with the list of what works; ``http(s)://`` is refused outright,
since a server fetching URLs a caller names could be aimed at internal services.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeAlias, cast
from urllib.parse import unquote, urlsplit

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from slipway._roots import SourcePolicy
from slipway.errors import InvalidInput, NotFound
from slipway.statistics import iter_batches
from slipway.store.artifacts import s3_options

BATCH_ROWS = 65_536
BLOCK_BYTES = 64 << 20
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".json": "jsonl"}
_REMOTE_SCHEMES = ("s3", "s3a")

DataSource: TypeAlias = pd.DataFrame | pa.Table | pa.RecordBatch | str | os.PathLike[str] | BinaryIO


@dataclass(frozen=True)
class DataFile:
    """One file to read (a local path, or an object on a remote file system), or a piece of one:
    some row groups of a Parquet file. Picklable, so another process can read it."""

    location: str
    format: str
    fs: Any = None  # an fsspec file system for remote objects; None for local files
    row_groups: tuple[int, ...] | None = None  # None: the whole file

    def open(self) -> BinaryIO:
        if self.fs is None:
            return Path(self.location).open("rb")
        handle: BinaryIO = self.fs.open(self.location, "rb", block_size=8 << 20)
        return handle

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The file's (or piece's) rows, a batch of at most 65,536 rows at a time."""
        with self.open() as handle:
            if self.row_groups is not None:
                reader = pq.ParquetFile(handle, pre_buffer=False)
                yield from reader.iter_batches(batch_size=BATCH_ROWS, row_groups=list(self.row_groups))
            else:
                yield from _read(handle, self.format)

    def pieces(self, rows: int) -> list[DataFile]:
        """A Parquet file as pieces of whole row groups, about ``rows`` rows each; other formats whole."""
        if self.format != "parquet":
            return [self]
        with self.open() as handle:
            metadata = pq.ParquetFile(handle).metadata
        out: list[DataFile] = []
        groups: list[int] = []
        count = 0
        for index in range(metadata.num_row_groups):
            groups.append(index)
            count += metadata.row_group(index).num_rows
            if count >= rows:
                out.append(DataFile(self.location, self.format, self.fs, tuple(groups)))
                groups, count = [], 0
        if groups or not out:
            out.append(DataFile(self.location, self.format, self.fs, tuple(groups)))
        return out


_File = DataFile


def data_files(data: str | os.PathLike[str], *, format: str | None = None,
               policy: SourcePolicy | None = None) -> list[DataFile]:
    """The data files a path, folder, ``file://`` or ``s3://`` URI names, as :func:`open_source` reads them.

    Raises:
        InvalidInput, NotFound, PermissionDenied: as :func:`open_source`.
    """
    if format is not None and format not in set(FORMATS.values()):
        raise InvalidInput(f"unknown format {format!r}: use csv, parquet or jsonl", field="format")
    return _files(os.fspath(data), format, policy or OPEN_POLICY)


OPEN_POLICY = SourcePolicy()


@contextlib.contextmanager
def open_source(
    data: DataSource, *, format: str | None = None, policy: SourcePolicy = OPEN_POLICY
) -> Iterator[tuple[str, Iterator[pa.RecordBatch]]]:
    """Open ``data`` as ``(description, batches)``; files are closed when the block ends.

    Args:
        data: a DataFrame, an Arrow table or batch, a local file or folder, a URI, or an open
            binary file (seekable for Parquet; ``format`` required).
        format: ``csv``, ``parquet`` or ``jsonl``; by default from each file's extension.
        policy: which local paths may be read.

    Raises:
        InvalidInput: (``field="source"``) for an unsupported scheme or format, a folder
            holding no data files, or a local path where the policy allows none;
            (``field="format"``) for an unknown format.
        NotFound: if the path or object does not exist.
        PermissionDenied: if a local path is outside the policy's allowed roots.
    """
    if format is not None and format not in set(FORMATS.values()):
        raise InvalidInput(f"unknown format {format!r}: use csv, parquet or jsonl", field="format")
    if isinstance(data, pd.DataFrame):
        yield "DataFrame", iter_batches(data if isinstance(data.index, pd.RangeIndex) else data.reset_index())
        return
    if isinstance(data, pa.Table | pa.RecordBatch):
        yield "Arrow table", iter_batches(data)
        return
    if hasattr(data, "read"):  # an open binary file: what a server receives as an upload
        if format is None:
            raise InvalidInput("name the format of a stream: format='csv', 'parquet' or 'jsonl'", field="format")
        yield "stream", _read(cast(BinaryIO, data), format)
        return
    if not isinstance(data, str | os.PathLike):
        raise InvalidInput(
            f"cannot register a {type(data).__name__}: give a DataFrame, an Arrow table, a path or a URI",
            field="source",
        )
    files = _files(os.fspath(data), format, policy)
    with contextlib.ExitStack() as stack:
        yield os.fspath(data), _read_all(files, stack)


def read_frames(
    data: DataSource, rows: int, *, format: str | None = None, policy: SourcePolicy = OPEN_POLICY
) -> Iterator[pd.DataFrame]:
    """DataFrames of ``rows`` rows each (the last may hold fewer) from whatever :func:`open_source` reads.

    For batch inference over data larger than memory: only one frame and the batches it is cut
    from are held at a time. The files are closed when the iterator is exhausted or closed.

    Raises:
        InvalidInput, NotFound, PermissionDenied: as :func:`open_source`, on the first ``next``.
    """
    if rows < 1:
        raise InvalidInput("rows must be at least 1", field="rows")
    with open_source(data, format=format, policy=policy) as (_, batches):
        pending: list[pa.RecordBatch] = []
        count = 0
        for batch in batches:
            while batch.num_rows:
                take = min(rows - count, batch.num_rows)
                pending.append(batch.slice(0, take))
                batch, count = batch.slice(take), count + take
                if count == rows:
                    yield pa.Table.from_batches(pending).to_pandas()
                    pending, count = [], 0
        if count:
            yield pa.Table.from_batches(pending).to_pandas()


def _files(text: str, format: str | None, policy: SourcePolicy) -> list[_File]:
    scheme, sep, _ = text.partition("://")
    scheme = scheme.lower() if sep else ""
    if scheme in ("http", "https"):
        raise InvalidInput(
            f"{text!r}: Slipway never fetches http(s) URLs; download the file and register the local copy",
            field="source",
        )
    if scheme in _REMOTE_SCHEMES:
        return _remote_files(text, format)
    if scheme and scheme != "file":
        raise InvalidInput(
            f"{text!r}: unsupported scheme {scheme!r}; use a local path, file:// or s3://", field="source"
        )
    if scheme == "file":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise InvalidInput(f"{text!r} names the host {parts.netloc!r}; file:// URLs must be local",
                               field="source")
        text = unquote(parts.path)
    path = policy.check(Path(text))
    if path.is_file():
        return [_File(str(path), _format_of(path.name, format))]
    if not path.is_dir():
        raise NotFound(f"no file or folder {text!r}", field="source")
    names = sorted(
        p for p in path.rglob("*")
        if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
    )
    return _pick([(str(p), p.name) for p in names], text, format)


def _remote_files(url: str, format: str | None) -> list[_File]:
    fs, root = fsspec.core.url_to_fs(url, **s3_options({}))
    if fs.isfile(root):
        return [_File(root, _format_of(root, format), fs)]
    if not fs.isdir(root):
        raise NotFound(f"no object or folder {url!r}", field="source")
    found = sorted(name for name in fs.find(root) if not name.rsplit("/", 1)[-1].startswith((".", "_")))
    return [_File(f.location, f.format, fs) for f in _pick([(n, n) for n in found], url, format)]


def _pick(candidates: Sequence[tuple[str, str]], where: str, format: str | None) -> list[_File]:
    """The data files of a folder: those of the given format, or of the one format they share."""
    known = [(loc, FORMATS[ext]) for loc, name in candidates if (ext := _extension(name)) in FORMATS]
    if format is not None:
        known = [(loc, fmt) for loc, fmt in known if fmt == format]
    formats = {fmt for _, fmt in known}
    if not known:
        raise InvalidInput(f"{where!r} holds no {format or 'CSV, Parquet or JSON lines'} files", field="source")
    if len(formats) > 1:
        raise InvalidInput(
            f"{where!r} mixes {' and '.join(sorted(formats))} files; name the one to read with format=",
            field="format",
        )
    return [_File(loc, fmt) for loc, fmt in known]


def _extension(name: str) -> str:
    return os.path.splitext(name.lower())[1]


def _format_of(name: str, format: str | None) -> str:
    if format is not None:
        return format
    try:
        return FORMATS[_extension(name)]
    except KeyError:
        raise InvalidInput(
            f"cannot tell the format of {name!r} from its extension; pass format='csv', 'parquet' or 'jsonl'",
            field="format",
        ) from None


def _read_all(files: list[_File], stack: contextlib.ExitStack) -> Iterator[pa.RecordBatch]:
    """Batches of every file in turn, all cast to the first file's schema."""
    target: pa.Schema | None = None
    for file in files:
        handle = stack.enter_context(file.open())
        for batch in _read(handle, file.format):
            if target is None:
                target = batch.schema
            yield _conform(batch, target, file.location)
        handle.close()


def _read(handle: BinaryIO, format: str) -> Iterator[pa.RecordBatch]:
    try:
        if format == "parquet":
            # pre_buffer off: pyarrow would otherwise read ahead of the batches and hold most of the file.
            yield from pq.ParquetFile(handle, pre_buffer=False).iter_batches(batch_size=BATCH_ROWS)
        elif format == "csv":
            yield from pa_csv.open_csv(handle, read_options=pa_csv.ReadOptions(block_size=BLOCK_BYTES))
        else:
            yield from pa_json.open_json(handle, read_options=pa_json.ReadOptions(block_size=BLOCK_BYTES))
    except pa.ArrowInvalid as exc:
        raise InvalidInput(f"cannot read the {format} data: {exc}", field="source") from None


def _conform(batch: pa.RecordBatch, target: pa.Schema, location: str) -> pa.RecordBatch:
    """``batch`` with ``target``'s columns and types, or a clear error naming the file."""
    if batch.schema.equals(target):
        return batch
    missing = [name for name in target.names if name not in batch.schema.names]
    extra = [name for name in batch.schema.names if name not in target.names]
    if missing or extra:
        raise InvalidInput(
            f"{location!r} has other columns than the first file (missing: {missing}, extra: {extra})",
            field="source",
        )
    try:
        return pa.RecordBatch.from_arrays(
            [batch.column(name).cast(field.type) for name, field in zip(target.names, target, strict=True)],
            schema=target,
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(f"{location!r} has column types the first file does not: {exc}",
                           field="source") from None
