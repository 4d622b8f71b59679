"""A baseline: the statistics of reference data (usually the training set) and the constraints drawn from them.

It is two files in a folder, ``statistics.json`` and ``constraints.json``, both in the cloud
monitor's layout; users may edit the constraints and read the folder back.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from pydantic import ValidationError

from slipway.datasets import DataSource, open_source
from slipway.errors import InvalidInput, NotFound
from slipway.monitoring._blocks import ENGINES, statistics_on_ray
from slipway.monitoring._constraints import Constraints, suggest_constraints
from slipway.statistics import DatasetStatistics, compute_statistics

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"


@dataclasses.dataclass(frozen=True)
class Baseline:
    """What current data is compared with: the reference statistics and the constraints to check.

    Example:
        >>> baseline = compute_baseline("train.csv")
        >>> baseline.write("baseline/")          # statistics.json and constraints.json
        >>> Baseline.read("baseline/").constraints.feature("rings").completeness
        1.0
    """

    statistics: DatasetStatistics
    constraints: Constraints

    @classmethod
    def from_statistics(cls, statistics: DatasetStatistics) -> Baseline:
        """A baseline with constraints suggested from ``statistics``."""
        return cls(statistics, suggest_constraints(statistics))

    def files(self) -> dict[str, bytes]:
        """The two documents by file name, as stored in a folder or the artifact store."""
        return {
            STATISTICS_FILE: json.dumps(self.statistics.to_dict(), indent=1).encode(),
            CONSTRAINTS_FILE: self.constraints.model_dump_json(indent=2, exclude_none=True).encode(),
        }

    def write(self, folder: str | Path) -> Path:
        """Write both files into ``folder`` (created if needed); returns the folder."""
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        for name, content in self.files().items():
            (target / name).write_bytes(content)
        return target

    @classmethod
    def from_files(cls, statistics: bytes | str, constraints: bytes | str) -> Baseline:
        """Read both files' contents back.

        Raises:
            InvalidInput: if either is not JSON in its layout (``field`` names the file).
        """
        documents = []
        for name, text in ((STATISTICS_FILE, statistics), (CONSTRAINTS_FILE, constraints)):
            try:
                documents.append(json.loads(text))
            except ValueError as exc:
                raise InvalidInput(f"{name}: {exc}", field=name) from None
        return cls.from_documents(*documents)

    @classmethod
    def from_documents(cls, statistics: dict[str, Any], constraints: dict[str, Any]) -> Baseline:
        """Both documents, parsed from JSON, checked against their layouts.

        Raises:
            InvalidInput: if either is not in its layout (``field`` names the file).
        """
        try:
            stats = DatasetStatistics.from_dict(statistics)
        except ValueError as exc:
            raise InvalidInput(f"{STATISTICS_FILE}: {exc}", field=STATISTICS_FILE) from None
        try:
            rules = Constraints.model_validate(constraints)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise InvalidInput(f"{CONSTRAINTS_FILE}: {problems}", field=CONSTRAINTS_FILE) from None
        return cls(stats, rules)

    @classmethod
    def read(cls, folder: str | Path) -> Baseline:
        """Read a folder written by :meth:`write` (and perhaps edited since).

        Raises:
            NotFound: if a file is missing.
            InvalidInput: if a file is malformed.
        """
        source = Path(folder)
        paths = [source / STATISTICS_FILE, source / CONSTRAINTS_FILE]
        for path in paths:
            if not path.is_file():
                raise NotFound(f"no {path.name} in {str(source)!r}: is it a baseline folder?")
        return cls.from_files(paths[0].read_bytes(), paths[1].read_bytes())


def statistics_of(data: DataSource, *, format: str | None = None, engine: str = "local") -> DatasetStatistics:
    """Statistics of a DataFrame, Arrow table, CSV/Parquet/JSON-lines file or folder, read in chunks.

    A DataFrame's index is not a feature: only its columns are described. ``engine="ray"`` computes
    a file, folder or ``s3://`` prefix per block on Ray Data and merges the blocks' statistics (see
    :mod:`slipway.monitoring._blocks`); the result equals the local one within the sketches' error.

    Raises:
        InvalidInput: for an unknown engine, or ``ray`` on data in memory (``field="engine"``).
    """
    if engine not in ENGINES:
        raise InvalidInput(f"unknown engine {engine!r}: use {' or '.join(ENGINES)}", field="engine")
    if isinstance(data, pd.DataFrame | pa.Table | pa.RecordBatch):
        if engine == "ray":
            raise InvalidInput("the ray engine reads files, a folder or an s3:// prefix, not a table in memory",
                               field="engine")
        return compute_statistics(data)
    if engine == "ray":
        if not isinstance(data, str | os.PathLike):
            raise InvalidInput("the ray engine reads files, a folder or an s3:// prefix, not a stream", field="engine")
        return statistics_on_ray(data, format=format)
    with open_source(data, format=format) as (_, batches):
        return compute_statistics(batches)


def compute_baseline(data: DataSource, *, format: str | None = None, engine: str = "local") -> Baseline:
    """The baseline of ``data``: its statistics and suggested constraints (see :func:`suggest_constraints`).

    ``engine="ray"``: the statistics of a folder or ``s3://`` prefix computed on Ray Data (see
    :func:`statistics_of`).
    """
    return Baseline.from_statistics(statistics_of(data, format=format, engine=engine))


def table_of(data: DataSource, format: str | None = None) -> pd.DataFrame:
    """A table as a DataFrame, for what is joined in memory (predictions and labels)."""
    if isinstance(data, pd.DataFrame):
        return data
    with open_source(data, format=format) as (_, batches):
        return pa.Table.from_batches(list(batches)).to_pandas()
