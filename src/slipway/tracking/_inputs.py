"""The data sets a run read (MLflow's dataset inputs): stored with the run, shown with it, searchable.

MLflow's client logs them with ``mlflow.log_input`` and its autologgers; Slipway's own callers
with :meth:`~slipway.tracking.TrackingService.log_inputs`. They belong to the run like its params,
so the run's record carries them and the run filter reads ``datasets.name``, ``datasets.digest``
and ``datasets.context``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, bindparam, select

from slipway.errors import InvalidInput
from slipway.store import Prepared
from slipway.tracking._records import DatasetInput
from slipway.tracking._tables import run_inputs

MAX_INPUTS_PER_CALL = 1000


def check_inputs(items: Iterable[DatasetInput | Mapping[str, Any]]) -> list[DatasetInput]:
    """The inputs as records, each checked against the record's limits.

    Raises:
        InvalidInput: naming the entry and the field that is wrong, or when there are too many.
    """
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise InvalidInput("datasets must be a list of dataset inputs", field="datasets")
    out = []
    for n, item in enumerate(items):
        if isinstance(item, DatasetInput):
            out.append(item)
            continue
        try:
            out.append(DatasetInput.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise InvalidInput(f"datasets[{n}].{where}: {first['msg']}", field=f"datasets.{where}") from None
    if len(out) > MAX_INPUTS_PER_CALL:
        raise InvalidInput(f"{len(out)} dataset inputs in one call; the limit is {MAX_INPUTS_PER_CALL}",
                           field="datasets")
    return out


def input_rows(run_id: str, inputs: Sequence[DatasetInput]) -> list[dict[str, Any]]:
    """Table rows of ``inputs``; the last of two entries with one (name, digest, context) wins."""
    rows: dict[str, dict[str, Any]] = {}
    for d in inputs:
        key = hashlib.sha256("\x1f".join((d.name, d.digest, d.context or "")).encode()).hexdigest()
        rows[key] = {
            "run_id": run_id,
            "key": key,
            **d.model_dump(exclude={"tags"}),
            "tags": json.dumps(d.tags),
        }
    return list(rows.values())


def read_inputs(conn: Connection, run_ids: Sequence[str]) -> dict[str, list[DatasetInput]]:
    """Each run's inputs, in the order first logged."""
    out: dict[str, list[DatasetInput]] = {}
    if not run_ids:
        return out
    ids = list(run_ids)
    for start in range(0, len(ids), 500):  # bounded IN lists, as the other per-run reads
        for row in conn.execute(_READ, {"ids": ids[start : start + 500]}):
            values = {f: getattr(row, f) for f in _FIELDS}
            out.setdefault(row.run_id, []).append(DatasetInput(**values, tags=json.loads(row.tags)))
    return out


_FIELDS = tuple(f for f in DatasetInput.model_fields if f != "tags")
_READ = (
    select(run_inputs.c.run_id, run_inputs.c.tags, *(run_inputs.c[f] for f in _FIELDS))
    .where(run_inputs.c.run_id.in_(bindparam("ids", expanding=True)))
    .order_by(run_inputs.c.id)
)
_READ_ONE = Prepared(
    select(run_inputs.c.tags, *(run_inputs.c[f] for f in _FIELDS))
    .where(run_inputs.c.run_id == bindparam("run_id"))
    .order_by(run_inputs.c.id)
)


def read_run_inputs(conn: Connection, run_id: str) -> list[DatasetInput]:
    """One run's inputs, in the order first logged (a prepared statement: read as every run ends)."""
    return [
        DatasetInput(**dict(zip(_FIELDS, values, strict=True)), tags=json.loads(tags))
        for tags, *values in _READ_ONE(conn, {"run_id": run_id})
    ]


UPDATED = (*_FIELDS, "tags")  # what logging an entry again overwrites
