"""The data a request hands a worker with its job: staged in the artifact store, not in the job's row.

A job's row holds a small JSON payload; the records, an upload or a table a request sent are
staged as the one file of the artifact owner ``Owner(JOB_INPUT, id)`` and the payload names the
id. The worker that runs the job reads it once and forgets it (:meth:`JobInputs.taken`); the API
forgets it when the job never ran to its end (:meth:`JobInputs.release`). One the API staged before
dying, with no job queued to read it, is left to garbage collection (:meth:`JobInputs.collect`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import BinaryIO

from slipway._ids import new_id
from slipway._operations import JOB_INPUT, JOB_INPUT_FILE
from slipway.store._db import Database
from slipway.store.artifacts import ArtifactStore, Owner, owners_before, release


class JobInputs:
    """Stage, read and forget the inputs of jobs.

    Args:
        db: the metadata database.
        artifacts: the artifact store the inputs are staged in.
    """

    def __init__(self, db: Database, artifacts: ArtifactStore) -> None:
        self._db = db
        self._artifacts = artifacts

    def stage(self, data: BinaryIO) -> str:
        """Store everything read from ``data`` (in chunks: it may be larger than memory); returns its id."""
        input_id = new_id()
        self._artifacts.put_stream(Owner(JOB_INPUT, input_id), JOB_INPUT_FILE, data)
        return input_id

    @contextlib.contextmanager
    def taken(self, input_id: str) -> Iterator[BinaryIO]:
        """The staged input, to read once: it is forgotten when the block ends, however it ends (a
        worker that dies inside it leaves it to the job's next attempt)."""
        try:
            with self._artifacts.open(Owner(JOB_INPUT, input_id), JOB_INPUT_FILE) as src:
                yield src
        finally:
            self.release(input_id)

    def release(self, input_id: str) -> None:
        """Forget a staged input (its blob goes with the next garbage collection); none left is fine."""
        with self._db.write() as conn:
            release(conn, Owner(JOB_INPUT, input_id))

    def staged_before(self, at_ms: int) -> list[str]:
        """The ids of the inputs staged before ``at_ms`` (epoch milliseconds) and not yet forgotten."""
        with self._db.read() as conn:
            return owners_before(conn, JOB_INPUT, at_ms)
