"""The tracking service: experiments, runs, params, metrics, tags and run artifacts.

Every face (SDK, CLI, REST) calls these methods; none keeps rules of its own. Entity changes
(create, rename, delete, restore, end) write an audit entry and, where something may act on them,
a domain event; logged values (metrics, params, tags) are telemetry and are not audited one by one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, BinaryIO

from pydantic import Field
from sqlalchemy import (
    Connection,
    Row,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.exc import IntegrityError

from slipway._ids import new_id
from slipway._kinds import ObjectKind
from slipway._limits import MAX_DESCRIPTION, check_text
from slipway._operations import Api, Wire
from slipway._principal import current_principal
from slipway._redact import is_secret_key, may_reveal
from slipway._time import datetime_to_ms, ms_to_datetime, now_ms
from slipway.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from slipway.events import record_change
from slipway.lineage import NodeRef, record_edges
from slipway.security import Permission, requires
from slipway.store import Database, Prepared, upsert
from slipway.store.artifacts import ArtifactInfo, ArtifactStore, Owner
from slipway.tracking import validation as v
from slipway.tracking._inputs import UPDATED as INPUT_FIELDS
from slipway.tracking._inputs import check_inputs, input_rows, read_inputs, read_run_inputs
from slipway.tracking._metric_writer import RUN_STAGE, MetricWriter, Point, stage_error
from slipway.tracking._records import (
    Experiment,
    LifecycleStage,
    Metric,
    Run,
    RunComparison,
    RunPage,
    RunStatus,
)
from slipway.tracking._search import (
    after_keys,
    apply_order,
    decode_page_token,
    encode_keyset_token,
    parse_filter,
)
from slipway.tracking._tables import (
    experiment_tags,
    experiments,
    latest_metrics,
    metric_points,
    metric_series,
    run_inputs,
    run_tags,
    runs,
)
from slipway.tracking._tables import (
    params as params_table,
)
from slipway.tracking.validation import (
    DatasetInputs,
    Key,
    MetricPoints,
    Name,
    ParamMap,
    Status,
    TagMap,
    Text,
    Time,
)

DEFAULT_EXPERIMENT = "Default"
# Built once, run with parameters: building and caching a statement per call cost more than running it.
_RUN = select(runs).where(runs.c.id == bindparam("run_id"))
_UPDATE_RUN = update(runs).where(runs.c.id == bindparam("_run_id"))  # SET: the columns the parameters name
# A run's start and end (every tuning trial has both): compiled once, run through the driver.
_RUN_COLUMNS = tuple(c.name for c in runs.c)
_EXPERIMENT_STAGE = Prepared(
    select(experiments.c.name, experiments.c.lifecycle_stage).where(experiments.c.id == bindparam("experiment_id"))
)
_RUN_VALUES = Prepared(_RUN)
_INSERT_RUN = Prepared(insert(runs).values({c: bindparam(c) for c in _RUN_COLUMNS}))
_END_RUN = Prepared(
    update(runs)
    .where(runs.c.id == bindparam("_run_id"))
    .values(status=bindparam("v_status"), end_time=bindparam("v_end_time"))
)
_KEY_VALUE = ("run_id", "key", "value")
_INSERT_RUN_TAGS = Prepared(insert(run_tags).values({c: bindparam(c) for c in _KEY_VALUE}))
_INSERT_RUN_PARAMS = Prepared(insert(params_table).values({c: bindparam(c) for c in _KEY_VALUE}))
_SET_RUN_TAGS = {
    name: Prepared(
        dialect.insert(run_tags)  # type: ignore[attr-defined]
        .values({c: bindparam(c) for c in _KEY_VALUE})
        .on_conflict_do_update(index_elements=["run_id", "key"], set_={"value": bindparam("value")})
    )
    for name, dialect in (("sqlite", sqlite_dialect), ("postgresql", postgresql_dialect))
}
# A param already set is skipped here, then compared with the new value (only when one was skipped).
_ADD_RUN_PARAMS = {
    name: Prepared(
        dialect.insert(params_table)  # type: ignore[attr-defined]
        .values({c: bindparam(c) for c in _KEY_VALUE})
        .on_conflict_do_nothing()
    )
    for name, dialect in (("sqlite", sqlite_dialect), ("postgresql", postgresql_dialect))
}
_RUN_STAGE = Prepared(RUN_STAGE)
# One run's data, read back when it ends and by get_run.
_RUN_PARAMS = Prepared(select(params_table.c.key, params_table.c.value).where(params_table.c.run_id == bindparam("id")))
_RUN_TAGS = Prepared(select(run_tags.c.key, run_tags.c.value).where(run_tags.c.run_id == bindparam("id")))
_RUN_LATEST = Prepared(
    select(
        latest_metrics.c.key, latest_metrics.c.value, latest_metrics.c.is_nan, latest_metrics.c.step,
        latest_metrics.c.timestamp,
    ).where(latest_metrics.c.run_id == bindparam("id"))
)
_EXISTING_PARAMS = select(params_table.c.key, params_table.c.value).where(
    params_table.c.run_id == bindparam("run_id"), params_table.c.key.in_(bindparam("keys", expanding=True))
)
_LATEST = select(latest_metrics).where(latest_metrics.c.run_id.in_(bindparam("ids", expanding=True)))
MAX_SEARCH_RESULTS = 50_000
MaxResults = Annotated[int, Field(ge=1, le=MAX_SEARCH_RESULTS)]
RunIds = Annotated[Sequence[str], Field(min_length=1)]
# The REST API's routes and the remote client's methods are derived from these declarations
# (slipway._operations); results holding params and tags are redacted on the way out.
experiment_api = Api("experiments")
run_api = Api("runs")
artifact_api = Api("artifacts")


def _metric_row_to_record(row: Any) -> Metric:
    return Metric(key=row.key, value=float("nan") if row.is_nan else row.value, step=row.step, timestamp=row.timestamp)


def _ms(value: dt.datetime | int | None, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        value = datetime_to_ms(value, field)
    return v.check_time_ms(value, field)


class TrackingService:
    """Experiments and runs over a metadata database and an artifact store."""

    def __init__(self, db: Database, artifacts: ArtifactStore) -> None:
        self._db = db
        self._artifacts = artifacts
        self._metrics = MetricWriter(db)

    # ----------------------------------------------------------------- experiments

    @experiment_api.post("/experiments", status=201, redacted=True)
    @requires(Permission.WRITE)
    def create_experiment(self, name: Name, description: str | None = None, tags: TagMap | None = None) -> Experiment:
        name = v.check_name(name, "name", "experiment name")
        check_text(description, "description", MAX_DESCRIPTION)
        tag_rows = v.check_mapping(tags, "tag", v.MAX_TAG_VALUE, v.MAX_BATCH_TAGS)
        exp_id, now, who = new_id(), now_ms(), current_principal().name
        try:
            with self._db.write() as conn:
                conn.execute(
                    insert(experiments).values(
                        id=exp_id,
                        name=name,
                        description=description,
                        lifecycle_stage="active",
                        created_by=who,
                        created_at=now,
                        updated_at=now,
                    )
                )
                if tag_rows:
                    conn.execute(
                        insert(experiment_tags),
                        [{"experiment_id": exp_id, "key": k, "value": val} for k, val in tag_rows.items()],
                    )
                record_change(
                    conn,
                    action="experiment.create",
                    object_kind=ObjectKind.EXPERIMENT,
                    object_id=exp_id,
                    event_type="experiment.created",
                    payload={"name": name},
                )
        except IntegrityError:
            raise AlreadyExists(f"experiment {name!r} already exists", field="name") from None
        return self.get_experiment(exp_id)

    @experiment_api.get("/experiments/{experiment_id}", redacted=True)
    @requires(Permission.READ)
    def get_experiment(self, experiment_id: str) -> Experiment:
        with self._db.read() as conn:
            row = conn.execute(select(experiments).where(experiments.c.id == experiment_id)).first()
            if row is None:
                raise NotFound(f"experiment {experiment_id!r} does not exist", field="experiment_id")
            return self._experiment(conn, row)

    @experiment_api.get("/experiments/by-name", redacted=True)
    @requires(Permission.READ)
    def get_experiment_by_name(self, name: str) -> Experiment:
        """The experiment of that name, however its accents are encoded (names are stored NFC)."""
        with self._db.read() as conn:
            row = conn.execute(select(experiments).where(experiments.c.name == v.lookup(name))).first()
            if row is None:
                raise NotFound(f"experiment {name!r} does not exist", field="name")
            return self._experiment(conn, row)

    @experiment_api.post("/experiments/get-or-create", redacted=True)
    @requires(Permission.WRITE)
    def get_or_create_experiment(self, name: Name) -> Experiment:
        try:
            return self.get_experiment_by_name(name)
        except NotFound:
            try:
                return self.create_experiment(name)
            except AlreadyExists:  # created meanwhile by another process
                return self.get_experiment_by_name(name)

    @experiment_api.get("/experiments", redacted=True)
    @requires(Permission.READ)
    def list_experiments(self, *, include_deleted: bool = False, name_like: str | None = None) -> list[Experiment]:
        query = select(experiments).order_by(experiments.c.created_at, experiments.c.id)
        if not include_deleted:
            query = query.where(experiments.c.lifecycle_stage == "active")
        if name_like:
            query = query.where(func.lower(experiments.c.name).like(name_like.lower()))
        with self._db.read() as conn:
            rows = conn.execute(query).all()
            tags = self._tags(conn, experiment_tags, experiment_tags.c.experiment_id, [r.id for r in rows])
        return [self._experiment_record(r, tags.get(r.id, {})) for r in rows]

    @experiment_api.patch("/experiments/{experiment_id}", redacted=True)
    @requires(Permission.WRITE)
    def update_experiment(
        self, experiment_id: str, *, name: Name | None = None, description: str | None = None
    ) -> Experiment:
        values: dict[str, Any] = {"updated_at": now_ms()}
        if name is not None:
            values["name"] = v.check_name(name, "name", "experiment name")
        if description is not None:
            values["description"] = check_text(description, "description", MAX_DESCRIPTION)
        before = self.get_experiment(experiment_id)
        try:
            with self._db.write() as conn:
                conn.execute(update(experiments).where(experiments.c.id == experiment_id).values(**values))
                record_change(
                    conn,
                    action="experiment.update",
                    object_kind=ObjectKind.EXPERIMENT,
                    object_id=experiment_id,
                    details={"before": {"name": before.name}, "after": {k: values[k] for k in values if k == "name"}},
                )
        except IntegrityError:
            raise AlreadyExists(f"experiment {name!r} already exists", field="name") from None
        return self.get_experiment(experiment_id)

    @experiment_api.post("/experiments/{experiment_id}/tags")
    @requires(Permission.WRITE)
    def set_experiment_tag(self, experiment_id: str, key: Key, value: Text) -> None:
        key = v.check_key(key, "tag")
        value = v.check_value(value, "tag", key, v.MAX_TAG_VALUE)
        self.get_experiment(experiment_id)
        with self._db.write() as conn:
            upsert(
                conn,
                experiment_tags,
                [{"experiment_id": experiment_id, "key": key, "value": value}],
                keys=("experiment_id", "key"),
                update=("value",),
            )

    @experiment_api.delete("/experiments/{experiment_id}")
    @requires(Permission.WRITE)
    def delete_experiment(self, experiment_id: str) -> None:
        """Soft delete: the experiment and its runs are hidden but kept, and can be restored."""
        self._set_experiment_stage(experiment_id, LifecycleStage.DELETED)

    @experiment_api.post("/experiments/{experiment_id}/restore")
    @requires(Permission.WRITE)
    def restore_experiment(self, experiment_id: str) -> None:
        self._set_experiment_stage(experiment_id, LifecycleStage.ACTIVE)

    def _set_experiment_stage(self, experiment_id: str, stage: LifecycleStage) -> None:
        self.get_experiment(experiment_id)
        with self._db.write() as conn:
            conn.execute(
                update(experiments)
                .where(experiments.c.id == experiment_id)
                .values(lifecycle_stage=stage.value, updated_at=now_ms())
            )
            record_change(
                conn,
                action=f"experiment.{'delete' if stage is LifecycleStage.DELETED else 'restore'}",
                object_kind=ObjectKind.EXPERIMENT,
                object_id=experiment_id,
            )

    # ----------------------------------------------------------------- runs

    @run_api.post("/runs", status=201, redacted=True)
    @requires(Permission.WRITE)
    def create_run(
        self,
        experiment_id: str | None = None,
        *,
        name: Name | None = None,
        tags: TagMap | None = None,
        parent_run_id: str | None = None,
        start_time: Time | None = None,
        status: Status = RunStatus.RUNNING,
        params: ParamMap | None = None,
    ) -> Run:
        """Start a run in ``experiment_id`` (the ``Default`` experiment when None).

        Args:
            experiment_id: the Default experiment when omitted
            name: generated when omitted
            start_time: now when omitted
            params: the run's params, written with the run (one transaction, one request): a run
                whose inputs are known when it starts needs no ``log_batch`` for them
        """
        if not experiment_id:
            experiment_id = self.get_or_create_experiment(DEFAULT_EXPERIMENT).id
        status = self._status(status)
        tag_rows = v.check_mapping(tags, "tag", v.MAX_TAG_VALUE, v.MAX_BATCH_TAGS)
        param_rows = v.check_mapping(params, "param", v.MAX_PARAM_VALUE, v.MAX_BATCH_PARAMS)
        run_id = new_id()
        run_name = v.check_name(name, "name", "run name") if name is not None else f"run-{run_id[-8:]}"
        start = _ms(start_time, "start_time") or now_ms()
        user = current_principal().name
        with self._db.write() as conn:
            exp = _EXPERIMENT_STAGE(conn, {"experiment_id": experiment_id}).fetchone()
            if exp is None:
                raise NotFound(f"experiment {experiment_id!r} does not exist", field="experiment_id")
            exp_name, exp_stage = exp
            if exp_stage != LifecycleStage.ACTIVE:
                raise Conflict(
                    f"experiment {exp_name!r} is deleted; restore it before adding runs", field="experiment_id"
                )
            if parent_run_id is not None:
                self._run_values(conn, parent_run_id)
            _INSERT_RUN(
                conn,
                {
                    "id": run_id,
                    "experiment_id": experiment_id,
                    "name": run_name,
                    "status": status.value,
                    "start_time": start,
                    "end_time": None,
                    "parent_run_id": parent_run_id,
                    "user": user,
                    "lifecycle_stage": "active",
                },
            )
            _INSERT_RUN_TAGS.many(conn, [{"run_id": run_id, "key": k, "value": val} for k, val in tag_rows.items()])
            _INSERT_RUN_PARAMS.many(
                conn, [{"run_id": run_id, "key": k, "value": val} for k, val in param_rows.items()]
            )
            record_change(
                conn,
                action="run.create",
                object_kind=ObjectKind.RUN,
                object_id=run_id,
                event_type="run.created",
                payload={"experiment_id": experiment_id, "name": run_name},
            )
        # Built from what was written rather than read back: a new run has nothing else yet.
        return Run(
            id=run_id,
            experiment_id=experiment_id,
            name=run_name,
            status=status,
            start_time=ms_to_datetime(start),
            parent_run_id=parent_run_id,
            user=user,
            params=param_rows,
            tags=tag_rows,
        )

    @run_api.get("/runs/{run_id}", redacted=True)
    @requires(Permission.READ)
    def get_run(self, run_id: str) -> Run:
        with self._db.read() as conn:
            return self._run_with_data(conn, SimpleNamespace(**self._run_values(conn, run_id)))

    @run_api.patch("/runs/{run_id}", redacted=True)
    @requires(Permission.WRITE)
    def update_run(
        self,
        run_id: str,
        *,
        status: Status | None = None,
        end_time: Time | None = None,
        name: Name | None = None,
    ) -> Run:
        """Change a run's name or status; a terminal status sets the end time (now, unless given)."""
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = v.check_name(name, "name", "run name")
        new_status = self._status(status) if status is not None else None
        if new_status is not None:
            values["status"] = new_status.value
            if new_status.terminal:
                values["end_time"] = _ms(end_time, "end_time") or now_ms()
        elif end_time is not None:
            values["end_time"] = _ms(end_time, "end_time")
        if not values:
            return self.get_run(run_id)
        with self._db.write() as conn:
            changed = self._change_run(conn, run_id, values)
            # Read back in the same transaction: what this call wrote, no second connection.
            return self._run_with_data(conn, changed)

    def _change_run(
        self, conn: Connection, run_id: str, values: dict[str, Any], before: Mapping[str, Any] | None = None
    ) -> SimpleNamespace:
        """Update the run's row with ``values`` (status, end time, name) and record the change; a
        run reaching a final status publishes ``run.finished``. ``before``: the row's values, if
        read already. Returns the row as it now is."""
        if before is None:
            before = self._run_values(conn, run_id)
        if values.keys() == {"status", "end_time"}:  # a run's end: the common change
            _END_RUN(conn, {"v_status": values["status"], "v_end_time": values["end_time"], "_run_id": run_id})
        else:
            conn.execute(_UPDATE_RUN, {**values, "_run_id": run_id})
        status = values.get("status")
        finished = status is not None and RunStatus(status).terminal and before["status"] != status
        record_change(
            conn,
            action="run.update",
            object_kind=ObjectKind.RUN,
            object_id=run_id,
            event_type="run.finished" if finished else None,
            payload={"status": status, "experiment_id": before["experiment_id"]},
            details={
                "before": {"status": before["status"], "name": before["name"]},
                "after": {k: values[k] for k in ("status", "name") if k in values},
            },
        )
        return SimpleNamespace(**{**before, **values})

    @run_api.post("/runs/{run_id}/end", redacted=True)
    @requires(Permission.WRITE)
    def end_run(self, run_id: str, status: Status = RunStatus.FINISHED) -> Run:
        return self.update_run(run_id, status=self._final_status(status))

    @run_api.delete("/runs/{run_id}")
    @requires(Permission.WRITE)
    def delete_run(self, run_id: str) -> None:
        self._set_run_stage(run_id, LifecycleStage.DELETED)

    @run_api.post("/runs/{run_id}/restore")
    @requires(Permission.WRITE)
    def restore_run(self, run_id: str) -> None:
        self._set_run_stage(run_id, LifecycleStage.ACTIVE)

    def _set_run_stage(self, run_id: str, stage: LifecycleStage) -> None:
        with self._db.write() as conn:
            self._run_row(conn, run_id)
            conn.execute(update(runs).where(runs.c.id == run_id).values(lifecycle_stage=stage.value))
            record_change(
                conn,
                action=f"run.{'delete' if stage is LifecycleStage.DELETED else 'restore'}",
                object_kind=ObjectKind.RUN,
                object_id=run_id,
            )

    def batch(self) -> contextlib.AbstractContextManager[Any]:
        """A block whose writes (runs created, ended, logged to) of the calling thread share one
        transaction: all of them are stored when it exits, or none if it raises.

        For a few small writes that belong together, such as one run's end and the next one's
        start: one commit instead of one each. Other writers wait for the block: keep it short.

        Example:
            >>> with tracking.batch():  # doctest: +SKIP
            ...     tracking.log_batch(last, metrics=points, end_status=RunStatus.FINISHED)
            ...     run = tracking.create_run(experiment_id, parent_run_id=job, params=params)
        """
        return self._db.transaction()

    # ----------------------------------------------------------------- logging

    @run_api.post("/runs/{run_id}/metrics")
    @requires(Permission.WRITE)
    def log_metric(self, run_id: str, key: Key, value: v.Number, step: int = 0, timestamp: int | None = None) -> None:
        """Log one metric point. NaN and ±Inf are stored and read back as such.

        Args:
            step: any 64-bit integer, negative steps included
            timestamp: milliseconds since the epoch (UTC); now when omitted

        Returns once the point is committed: concurrent callers (threads, a server's requests)
        share a transaction (group commit), each still waiting for its own point's commit.
        """
        key, value, step = v.check_metric(key, value, step)
        stored, is_nan = v.storable(value)
        at = now_ms() if timestamp is None else v.check_time_ms(timestamp, f"metric.{key}.timestamp")
        self._metrics.log((run_id, key, stored, int(is_nan), step, at))

    @run_api.post("/runs/{run_id}/params")
    @requires(Permission.WRITE)
    def log_param(self, run_id: str, key: Key, value: Text) -> None:
        self.log_batch(run_id, params={key: value})

    @run_api.post("/runs/{run_id}/tags")
    @requires(Permission.WRITE)
    def set_tag(self, run_id: str, key: Key, value: Text) -> None:
        self.log_batch(run_id, tags={key: value})

    @run_api.delete("/runs/{run_id}/tags")
    @requires(Permission.WRITE)
    def delete_tag(self, run_id: str, key: str) -> None:
        with self._db.write() as conn:
            self._check_active(conn, run_id)
            result = conn.execute(delete(run_tags).where(run_tags.c.run_id == run_id, run_tags.c.key == key))
            if result.rowcount == 0:
                raise NotFound(f"run {run_id!r} has no tag {key!r}", field="key")

    @run_api.post("/runs/{run_id}/batch")
    @requires(Permission.WRITE)
    def log_batch(
        self,
        run_id: str,
        metrics: MetricPoints = (),
        params: ParamMap | None = None,
        tags: TagMap | None = None,
        end_status: Status | None = None,
        end_time: Time | None = None,
    ) -> None:
        """Log many values in one transaction: all of them are stored, or none.

        A param is written once: logging the same key again with another value is a Conflict,
        since a run's inputs must not change after the fact.

        Args:
            end_status: a final status (FINISHED, FAILED, KILLED) ends the run in the same
                transaction, as :meth:`end_run` would: a run's last values and its end in one write
            end_time: the end time that ``end_status`` records (now when omitted)
        """
        points = self._metric_points(run_id, metrics)
        param_rows = v.check_mapping(params, "param", v.MAX_PARAM_VALUE, v.MAX_BATCH_PARAMS)
        tag_rows = v.check_mapping(tags, "tag", v.MAX_TAG_VALUE, v.MAX_BATCH_TAGS)
        ending = None if end_status is None else self._final_status(end_status, "end_status")
        ended_at = _ms(end_time, "end_time") if ending is not None else None
        if not param_rows and not tag_rows and ending is None:
            self._metrics.log_many(run_id, points)
            return
        with self._db.write() as conn:
            if ending is None:
                self._check_active(conn, run_id)
            else:  # the run's row is read for the change's record anyway
                before = self._run_values(conn, run_id)
                self._refuse_deleted(run_id, before["lifecycle_stage"])
            if param_rows:
                self._insert_params(conn, run_id, param_rows)
            _SET_RUN_TAGS[conn.dialect.name].many(
                conn, [{"run_id": run_id, "key": k, "value": val} for k, val in tag_rows.items()]
            )
            self._metrics.insert(conn, run_id, points)
            if ending is not None:
                self._change_run(conn, run_id, {"status": ending.value, "end_time": ended_at or now_ms()}, before)

    @run_api.post("/runs/{run_id}/inputs")
    @requires(Permission.WRITE)
    def log_inputs(self, run_id: str, datasets: DatasetInputs) -> None:
        """Record the data sets a run read; one logged again (same name, digest and context) replaces the first.

        MLflow's ``log_input`` lands here. The run's record lists them (``Run.inputs``: ``slipway
        runs show``, the run's page) and run searches filter on them (``datasets.name = 'abalone'``,
        ``datasets.context = 'training'``).

        Raises:
            NotFound: if the run does not exist.
            Conflict: if it is deleted.
            InvalidInput: for an entry beyond the limits (name 500 characters, digest 36).
        """
        rows = input_rows(run_id, check_inputs(datasets))
        with self._db.write() as conn:
            self._check_active(conn, run_id)
            upsert(conn, run_inputs, rows, keys=("run_id", "key"), update=INPUT_FIELDS)

    @staticmethod
    def _metric_points(run_id: str, items: Iterable[Metric | Mapping[str, Any]]) -> list[Point]:
        """Checked points of a batch. The checks are :func:`~slipway.tracking.validation.check_metric`'s,
        with each distinct key checked once and the common types (float value, int step and
        timestamp) taking the short way: a batch's points are the hot path of bulk logging."""
        points: list[Point] = []
        append = points.append
        now = now_ms()
        keys: dict[str, str] = {}
        # Module constants as locals: looked up once a batch, not once a point.
        max_step, min_time, max_time, max_points = v.MAX_STEP, v.MIN_TIME_MS, v.MAX_TIME_MS, v.MAX_BATCH_METRICS
        for item in itertools.islice(items, max_points + 1):  # one too many is enough to refuse the batch
            data = item if type(item) is dict else v.metric_mapping(item)
            try:
                raw_key, value = data["key"], data["value"]
            except KeyError:
                raise InvalidInput("each metric needs a key and a value", field="metrics") from None
            step = data.get("step") or 0
            key = keys.get(raw_key) if type(raw_key) is str else None
            if key is None or type(value) is not float or type(step) is not int or not -max_step <= step <= max_step:
                key, value, step = v.check_metric(raw_key, value, step)
                if type(raw_key) is str:
                    keys[raw_key] = key
            at = data.get("timestamp") or now
            if type(at) is not int or not min_time <= at <= max_time:
                at = v.check_time_ms(at, f"metric.{key}.timestamp")
            # is_nan as an int: sqlite3 binds a bool through its adapter lookup, several times slower
            append((run_id, key, value, 0, step, at) if value == value else (run_id, key, 0.0, 1, step, at))
        if len(points) > max_points:
            raise InvalidInput(f"more than {max_points} metrics in one batch", field="metrics")
        return points

    def _insert_params(self, conn: Connection, run_id: str, values: dict[str, str]) -> None:
        rows = [{"run_id": run_id, "key": k, "value": val} for k, val in values.items()]
        if _ADD_RUN_PARAMS[conn.dialect.name].many(conn, rows) == len(rows):
            return  # all new: the common case, no read
        # Some were set already: each must be logged again with its value, or the whole call fails.
        for key, old in conn.execute(_EXISTING_PARAMS, {"run_id": run_id, "keys": list(values)}):
            # Neither value is named: the stored one may be a secret. Nor may a secret-looking param be
            # logged again with the same value by someone who may not see it: success would confirm a guess.
            if old != values[key] or (is_secret_key(key) and not may_reveal()):
                raise Conflict(f"param {key!r} of run {run_id} is already set; params cannot change",
                               field=f"param.{key}")

    @run_api.get("/runs/{run_id}/metrics/history")
    @requires(Permission.READ)
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of a metric, by step then time."""
        with self._db.read() as conn:
            self._run_row(conn, run_id)
            rows = conn.execute(
                select(
                    metric_series.c.key,
                    metric_points.c.value,
                    metric_points.c.is_nan,
                    metric_points.c.step,
                    metric_points.c.timestamp,
                )
                .join_from(metric_series, metric_points, metric_points.c.series_id == metric_series.c.id)
                .where(metric_series.c.run_id == run_id, metric_series.c.key == key)
                .order_by(metric_points.c.step, metric_points.c.timestamp, metric_points.c.seq)
            ).all()
        return [_metric_row_to_record(r) for r in rows]

    # ----------------------------------------------------------------- search

    @run_api.post("/runs/search", redacted=True, idempotent=True)
    @requires(Permission.READ)
    def search_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: MaxResults = 1000,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> RunPage:
        """Find runs with a filter expression (see :mod:`slipway.tracking._search`), one page at a time.

        Args:
            experiment_ids: every experiment when omitted
            filter: e.g. "metrics.mse < 5 and params.model = 'rf'"
            order_by: e.g. ["metrics.mse DESC"]; missing values last
            page_token: next_page_token of the previous page
        """
        if not isinstance(max_results, int) or not 1 <= max_results <= MAX_SEARCH_RESULTS:
            raise InvalidInput(f"max_results must be between 1 and {MAX_SEARCH_RESULTS}", field="max_results")
        cursor = decode_page_token(page_token)
        query = select(runs)
        if experiment_ids:
            query = query.where(runs.c.experiment_id.in_(list(experiment_ids)))
        if not include_deleted:
            # a deleted experiment hides its runs, as if each had been deleted with it
            active_experiments = select(experiments.c.id).where(experiments.c.lifecycle_stage == "active")
            query = query.where(runs.c.lifecycle_stage == "active", runs.c.experiment_id.in_(active_experiments))
        where = parse_filter(filter)
        if where is not None:
            query = query.where(where)
        query, keys = apply_order(query, order_by)
        if isinstance(cursor, list):  # a keyset token: start after the last row of the page before
            if len(cursor) != len(keys):
                raise InvalidInput("page_token belongs to a search with another order", field="page_token")
            query = query.where(after_keys(keys, cursor))
        else:  # an offset token from an older server
            query = query.offset(cursor)
        with self._db.read() as conn:
            rows = conn.execute(query.limit(max_results + 1)).all()
            more = len(rows) > max_results
            found = self._runs_with_data(conn, rows[:max_results])
        last = rows[max_results - 1]._mapping if more else None
        token = encode_keyset_token([last[f"_sort_{n}"] for n in range(len(keys))]) if last is not None else None
        return RunPage(runs=found, next_page_token=token)

    @run_api.post("/runs/compare", redacted=True)
    @requires(Permission.READ)
    def compare_runs(self, run_ids: RunIds) -> RunComparison:
        if not run_ids:
            raise InvalidInput("name at least one run to compare", field="run_ids")
        found = [self.get_run(r) for r in run_ids]
        param_keys = sorted({k for r in found for k in r.params})
        metric_keys = sorted({k for r in found for k in r.metrics})
        table_params = {k: [r.params.get(k) for r in found] for k in param_keys}
        return RunComparison(
            run_ids=[r.id for r in found],
            run_names=[r.name for r in found],
            params=table_params,
            metrics={k: [r.metrics.get(k) for r in found] for k in metric_keys},
            differing_params=[k for k, vals in table_params.items() if len(set(vals)) > 1],
        )

    # ----------------------------------------------------------------- artifacts

    @requires(Permission.WRITE)
    def log_artifact(self, run_id: str, local_path: str | Path, artifact_path: str | None = None) -> list[ArtifactInfo]:
        """Store a file (or a folder's files) under ``artifact_path`` of the run."""
        local = Path(local_path)
        self._active_run(run_id)
        owner = Owner(ObjectKind.RUN, run_id)
        if local.is_dir():
            infos = self._artifacts.put_dir(owner, artifact_path or "", local)
        elif local.is_file():
            dest = f"{artifact_path.rstrip('/')}/{local.name}" if artifact_path else local.name
            infos = [self._artifacts.put_file(owner, dest, local)]
        else:
            raise InvalidInput(f"{local} is neither a file nor a folder", field="local_path")
        self._record_artifact_lineage(run_id, infos)
        return infos

    @artifact_api.put("/runs/{run_id}/artifacts/{path:path}")
    @requires(Permission.WRITE)
    def log_bytes(
        self, run_id: str, data: bytes | BinaryIO, artifact_path: Annotated[str, Wire(name="path")]
    ) -> ArtifactInfo:
        """Store bytes, or a stream read in chunks, at ``artifact_path`` of the run.

        Over HTTP the raw request body is the file: spooled to disk past 1 MiB, never held whole in memory.
        """
        self._active_run(run_id)
        owner = Owner(ObjectKind.RUN, run_id)
        if isinstance(data, (bytes, bytearray)):
            info = self._artifacts.put_bytes(owner, artifact_path, bytes(data))
        else:
            info = self._artifacts.put_stream(owner, artifact_path, data)
        self._record_artifact_lineage(run_id, [info])
        return info

    @artifact_api.get("/runs/{run_id}/artifacts")
    @requires(Permission.READ)
    def list_artifacts(self, run_id: str, path: str = "", recursive: bool = False) -> list[ArtifactInfo]:
        """The run's files below ``path``.

        Args:
            path: folder to list; the run's root when empty
        """
        self.get_run(run_id)
        return self._artifacts.list(Owner(ObjectKind.RUN, run_id), path, recursive=recursive)

    @artifact_api.get("/runs/{run_id}/artifacts/{path:path}")
    @requires(Permission.READ)
    def open_artifact(self, run_id: str, path: str) -> BinaryIO:
        """A stream over one file of the run; close it. Over HTTP it is streamed out in chunks, and opened
        first, so a missing file is a 404, not a broken body."""
        return self._artifacts.open(Owner(ObjectKind.RUN, run_id), path)

    @requires(Permission.READ)
    def download_artifacts(self, run_id: str, path: str, dst: str | Path) -> Path:
        self.get_run(run_id)
        return self._artifacts.download(Owner(ObjectKind.RUN, run_id), path, Path(dst))

    def _record_artifact_lineage(self, run_id: str, infos: Sequence[ArtifactInfo]) -> None:
        run_node = NodeRef(ObjectKind.RUN, run_id)
        with self._db.write() as conn:
            record_edges(
                conn,
                [(run_node, NodeRef(ObjectKind.ARTIFACT, f"run/{run_id}/{i.path}", i.path), "produced") for i in infos],
            )

    # ----------------------------------------------------------------- helpers

    @staticmethod
    def _status(status: RunStatus | str, field: str = "status") -> RunStatus:
        try:
            return RunStatus(str(status).upper())
        except ValueError:
            raise InvalidInput(
                f"unknown run status {status!r}; use one of {', '.join(s.value for s in RunStatus)}", field=field
            ) from None

    @classmethod
    def _final_status(cls, status: RunStatus | str, field: str = "status") -> RunStatus:
        final = cls._status(status, field)
        if not final.terminal:
            raise InvalidInput(f"{final.value} is not a final status: use FINISHED, FAILED or KILLED", field=field)
        return final

    @staticmethod
    def _run_row(conn: Connection, run_id: str) -> Row[Any]:
        row = conn.execute(_RUN, {"run_id": run_id}).first()
        if row is None:
            raise NotFound(f"run {run_id!r} does not exist", field="run_id")
        return row

    @staticmethod
    def _run_values(conn: Connection, run_id: str) -> dict[str, Any]:
        """The run's row as column -> value, read through the driver (a run's end reads it)."""
        row = _RUN_VALUES(conn, {"run_id": run_id}).fetchone()
        if row is None:
            raise NotFound(f"run {run_id!r} does not exist", field="run_id")
        return dict(zip(_RUN_COLUMNS, row, strict=True))

    @staticmethod
    def _check_active(conn: Connection, run_id: str) -> None:
        row = _RUN_STAGE(conn, {"run_id": run_id}).fetchone()
        error = stage_error(None if row is None else row[0], run_id)
        if error is not None:
            raise error

    @staticmethod
    def _refuse_deleted(run_id: str, stage: str) -> None:
        error = stage_error(stage, run_id)
        if error is not None:
            raise error

    def _active_run(self, run_id: str) -> None:
        with self._db.read() as conn:
            self._check_active(conn, run_id)

    @staticmethod
    def _tags(conn: Connection, table: Any, id_col: Any, ids: list[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        query = _key_values(table, id_col)
        for chunk in _chunks(ids):
            for owner, key, value in conn.execute(query, {"ids": chunk}):
                out.setdefault(owner, {})[key] = value
        return out

    def _experiment(self, conn: Connection, row: Row[Any]) -> Experiment:
        tags = self._tags(conn, experiment_tags, experiment_tags.c.experiment_id, [row.id]).get(row.id, {})
        return self._experiment_record(row, tags)

    @staticmethod
    def _experiment_record(row: Row[Any], tags: dict[str, str]) -> Experiment:
        return Experiment(
            id=row.id,
            name=row.name,
            description=row.description,
            lifecycle_stage=row.lifecycle_stage,
            tags=tags,
            created_by=row.created_by,
            created_at=ms_to_datetime(row.created_at),
            updated_at=ms_to_datetime(row.updated_at),
        )

    def _run_with_data(self, conn: Connection, row: Any) -> Run:
        """One run, as :meth:`_runs_with_data` reads it, with statements for one run (prepared)."""
        latest = {
            key: Metric(key=key, value=float("nan") if is_nan else value, step=step, timestamp=timestamp)
            for key, value, is_nan, step, timestamp in _RUN_LATEST(conn, {"id": row.id})
        }
        return self._run_record(
            row,
            params=dict(_RUN_PARAMS(conn, {"id": row.id}).fetchall()),
            tags=dict(_RUN_TAGS(conn, {"id": row.id}).fetchall()),
            metrics=latest,
            inputs=read_run_inputs(conn, row.id),
        )

    @staticmethod
    def _run_record(r: Any, **data: Any) -> Run:
        return Run(
            id=r.id,
            experiment_id=r.experiment_id,
            name=r.name,
            status=r.status,
            start_time=ms_to_datetime(r.start_time),
            end_time=ms_to_datetime(r.end_time),
            parent_run_id=r.parent_run_id,
            user=r.user,
            lifecycle_stage=r.lifecycle_stage,
            **data,
        )

    def _runs_with_data(self, conn: Connection, rows: Sequence[Any]) -> list[Run]:
        """Runs with their params, tags, latest metrics and inputs; ``rows`` have the ``runs`` table's columns
        as attributes."""
        ids = [r.id for r in rows]
        run_params = self._tags(conn, params_table, params_table.c.run_id, ids)
        tags = self._tags(conn, run_tags, run_tags.c.run_id, ids)
        latest: dict[str, dict[str, Metric]] = {}
        for chunk in _chunks(ids):
            for m in conn.execute(_LATEST, {"ids": chunk}):
                latest.setdefault(m.run_id, {})[m.key] = _metric_row_to_record(m)
        inputs = read_inputs(conn, ids)
        return [
            self._run_record(
                r,
                params=run_params.get(r.id, {}),
                tags=tags.get(r.id, {}),
                metrics=latest.get(r.id, {}),
                inputs=inputs.get(r.id, []),
            )
            for r in rows
        ]


@functools.cache
def _key_values(table: Any, id_col: Any) -> Any:
    """(owner id, key, value) of a key-value table (params, tags) for a list of owners, built once per table."""
    return select(id_col, table.c.key, table.c.value).where(id_col.in_(bindparam("ids", expanding=True)))


def _chunks(ids: list[str], size: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


__all__ = ["DEFAULT_EXPERIMENT", "TrackingService"]
