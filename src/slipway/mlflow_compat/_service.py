"""The MLflow compatibility service: what MLflow's client needs beyond tracking and the registry.

MLflow 3's logged models, the inputs and outputs MLflow records on a run, the files behind the
``mlflow-artifacts:/`` URIs the server hands out, and registering an MLflow model folder as a
version of a Slipway model group. Runs, metrics, params, tags, groups and versions themselves go
through :class:`~slipway.tracking.TrackingService` and :class:`~slipway.registry.RegistryService`,
so they are the same objects every other face shows.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection, Row, insert, select, update

from slipway._kinds import ObjectKind
from slipway._principal import current_principal
from slipway._time import ms_to_datetime, now_ms
from slipway.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from slipway.events import record_change
from slipway.lineage import NodeRef, record_edges
from slipway.mlflow_compat._locations import Area, Location, parse_uri
from slipway.mlflow_compat._records import LinkKind, LoggedModel, LoggedModelStatus
from slipway.mlflow_compat._stages import transition
from slipway.mlflow_compat._tables import logged_models, run_links
from slipway.models import save_model
from slipway.registry import ModelVersion, RegistryService, version_owner
from slipway.security import Permission, requires
from slipway.store import Database, upsert
from slipway.store.artifacts import ArtifactInfo, ArtifactStore, Owner
from slipway.tracking import TrackingService
from slipway.tracking import validation as v

MAX_SEARCH_RESULTS = 1000
_MLMODEL = "MLmodel"


def _owner_of_logged_model(model_id: str) -> Owner:
    return Owner(ObjectKind.LOGGED_MODEL, model_id)


class MlflowCompatService:
    """Logged models, run links, ``mlflow-artifacts:/`` files and MLflow model registration.

    Safe to share between threads.

    Args:
        db: the metadata database.
        artifacts: the artifact store; logged models keep their files under ``Owner(ObjectKind.LOGGED_MODEL, id)``.
        tracking: runs and experiments, which logged models and links belong to.
        registry: where MLflow model folders are registered as versions.
    """

    def __init__(
        self, db: Database, artifacts: ArtifactStore, tracking: TrackingService, registry: RegistryService
    ) -> None:
        self._db = db
        self._artifacts = artifacts
        self._tracking = tracking
        self._registry = registry

    # ----------------------------------------------------------------- logged models

    @requires(Permission.WRITE)
    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        *,
        source_run_id: str | None = None,
        model_type: str | None = None,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> LoggedModel:
        """Start a logged model (status pending) whose files are uploaded next.

        Raises:
            NotFound: if the experiment or the source run does not exist.
            InvalidInput: for a bad name, param or tag.
        """
        self._tracking.get_experiment(experiment_id)
        if source_run_id is not None:
            self._tracking.get_run(source_run_id)
        model_id = f"m-{uuid.uuid4().hex}"
        row = {
            "id": model_id,
            "experiment_id": experiment_id,
            "name": v.check_name(name, "name", "model name") if name else model_id,
            "source_run_id": source_run_id,
            "status": LoggedModelStatus.PENDING.value,
            "model_type": model_type,
            "params": json.dumps(v.check_mapping(params, "param", v.MAX_PARAM_VALUE, v.MAX_BATCH_PARAMS)),
            "tags": json.dumps(v.check_mapping(tags, "tag", v.MAX_TAG_VALUE, v.MAX_BATCH_TAGS)),
            "lifecycle_stage": "active",
            "created_by": current_principal().name,
            "created_at": now_ms(),
        }
        row["updated_at"] = row["created_at"]
        with self._db.write() as conn:
            conn.execute(insert(logged_models).values(**row))
            record_change(
                conn,
                action="logged_model.create",
                object_kind=ObjectKind.LOGGED_MODEL,
                object_id=model_id,
                payload={"experiment_id": experiment_id, "name": row["name"]},
            )
            if source_run_id is not None:
                edge = (NodeRef(ObjectKind.RUN, source_run_id), NodeRef(ObjectKind.LOGGED_MODEL, model_id), "produced")
                record_edges(conn, [edge])
        return self.get_logged_model(model_id)

    @requires(Permission.READ)
    def get_logged_model(self, model_id: str) -> LoggedModel:
        """Raises: NotFound, also for a deleted one."""
        with self._db.read() as conn:
            return _logged_model(self._row(conn, model_id))

    @requires(Permission.WRITE)
    def finalize_logged_model(self, model_id: str, status: LoggedModelStatus | str) -> LoggedModel:
        """Mark the upload of a logged model's files as done (ready) or failed."""
        try:
            final = LoggedModelStatus(status)
        except ValueError:
            allowed = ", ".join(s.value for s in LoggedModelStatus)
            raise InvalidInput(
                f"unknown logged model status {status!r}; use one of {allowed}", field="status"
            ) from None
        self._update(model_id, lambda _: {"status": final.value})
        return self.get_logged_model(model_id)

    @requires(Permission.WRITE)
    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, str]) -> None:
        new = v.check_mapping(tags, "tag", v.MAX_TAG_VALUE, v.MAX_BATCH_TAGS)
        self._update(model_id, lambda row: {"tags": json.dumps({**json.loads(row.tags), **new})})

    @requires(Permission.WRITE)
    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Raises: NotFound if the model has no such tag."""

        def without(row: Row[Any]) -> dict[str, Any]:
            tags = json.loads(row.tags)
            if tags.pop(key, None) is None:
                raise NotFound(f"logged model {model_id} has no tag {key!r}", field="key")
            return {"tags": json.dumps(tags)}

        self._update(model_id, without)

    @requires(Permission.WRITE)
    def log_logged_model_params(self, model_id: str, params: Mapping[str, str]) -> None:
        new = v.check_mapping(params, "param", v.MAX_PARAM_VALUE, v.MAX_BATCH_PARAMS)
        self._update(model_id, lambda row: {"params": json.dumps({**json.loads(row.params), **new})})

    @requires(Permission.WRITE)
    def delete_logged_model(self, model_id: str) -> None:
        """Soft delete: the model is hidden, its files and lineage stay."""
        self._update(model_id, lambda _: {"lifecycle_stage": "deleted"}, audit="logged_model.delete")

    @requires(Permission.READ)
    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        *,
        name: str | None = None,
        source_run_id: str | None = None,
        max_results: int = 100,
        offset: int = 0,
    ) -> tuple[list[LoggedModel], bool]:
        """The experiments' logged models (with that name, from that run), newest first, and whether more follow."""
        if not 1 <= max_results <= MAX_SEARCH_RESULTS:
            raise InvalidInput(f"max_results must be between 1 and {MAX_SEARCH_RESULTS}", field="max_results")
        m = logged_models.c
        query = (
            select(logged_models)
            .where(m.lifecycle_stage == "active")
            .order_by(m.created_at.desc(), m.id.desc())
            .limit(max_results + 1)
            .offset(offset)
        )
        if experiment_ids:
            query = query.where(m.experiment_id.in_(list(experiment_ids)))
        if name is not None:
            query = query.where(m.name == name)
        if source_run_id is not None:
            query = query.where(m.source_run_id == source_run_id)
        with self._db.read() as conn:
            found = [_logged_model(r) for r in conn.execute(query)]
        return found[:max_results], len(found) > max_results

    def _row(self, conn: Connection, model_id: str, *, lock: bool = False) -> Row[Any]:
        query = select(logged_models).where(logged_models.c.id == model_id, logged_models.c.lifecycle_stage == "active")
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise NotFound(f"logged model {model_id!r} does not exist", field="model_id")
        return row

    def _update(self, model_id: str, change: Any, audit: str | None = None) -> None:
        """Apply ``change(row) -> values`` to the locked row, so concurrent tag writes are not lost."""
        with self._db.write() as conn:
            values = change(self._row(conn, model_id, lock=True))
            conn.execute(
                update(logged_models).where(logged_models.c.id == model_id).values(**values, updated_at=now_ms())
            )
            if audit:
                record_change(conn, action=audit, object_kind=ObjectKind.LOGGED_MODEL, object_id=model_id)

    # ----------------------------------------------------------------- run links

    @requires(Permission.WRITE)
    def link_run(self, run_id: str, kind: LinkKind, entries: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
        """Record logged models a run read or made; an entry logged again replaces the first.

        Args:
            entries: (key, body) pairs: the key identifies the entry within the run and kind.
        """
        run = self._tracking.get_run(run_id)
        if run.lifecycle_stage != "active":
            raise Conflict(f"run {run_id!r} is deleted; restore it before logging to it", field="run_id")
        rows = [{"run_id": run_id, "kind": kind.value, "key": key, "body": json.dumps(body)} for key, body in entries]
        if not rows:
            return
        run_node = NodeRef(ObjectKind.RUN, run_id)
        models = [NodeRef(ObjectKind.LOGGED_MODEL, r["key"]) for r in rows]
        if kind is LinkKind.MODEL_OUTPUT:
            edges = [(run_node, model, "produced") for model in models]
        else:
            edges = [(model, run_node, "consumed") for model in models]
        with self._db.write() as conn:
            upsert(conn, run_links, rows, keys=("run_id", "kind", "key"), update=("body",))
            record_edges(conn, edges)

    @requires(Permission.READ)
    def run_links(self, run_ids: Sequence[str]) -> dict[str, dict[LinkKind, list[dict[str, Any]]]]:
        """Each run's links by kind, in the order they were first logged."""
        out: dict[str, dict[LinkKind, list[dict[str, Any]]]] = {}
        if not run_ids:
            return out
        r = run_links.c
        with self._db.read() as conn:
            for row in conn.execute(select(r.run_id, r.kind, r.body).where(r.run_id.in_(list(run_ids))).order_by(r.id)):
                out.setdefault(row.run_id, {}).setdefault(LinkKind(row.kind), []).append(json.loads(row.body))
        return out

    # ----------------------------------------------------------------- files

    def _owner(self, location: Location) -> Owner:
        """The owner of a location's files, once it is known to exist."""
        if location.area is Area.RUN:
            self._tracking.get_run(location.owner_id)
            return Owner(ObjectKind.RUN, location.owner_id)
        if location.area is Area.LOGGED_MODEL:
            self.get_logged_model(location.owner_id)
            return _owner_of_logged_model(location.owner_id)
        self._registry.get_version_by_id(location.owner_id)
        return version_owner(location.owner_id)

    @requires(Permission.WRITE)
    def put_file(self, location: Location, stream: BinaryIO) -> ArtifactInfo:
        """Store a file a client uploads; a registered version's files never change.

        Raises:
            PermissionDenied: for a path below a registered model version.
        """
        if location.area is Area.MODEL_VERSION:
            raise PermissionDenied(
                f"model version {location.owner_id} is registered: its files cannot change", field="path"
            )
        if location.area is Area.RUN:
            return self._tracking.log_bytes(location.owner_id, stream, location.path)
        return self._artifacts.put_stream(self._owner(location), location.path, stream)

    @requires(Permission.READ)
    def list_files(self, location: Location) -> list[ArtifactInfo]:
        """The files and folders right below the location's folder (nothing for a file)."""
        return self._artifacts.list(self._owner(location), location.path)

    @requires(Permission.READ)
    def open_file(self, location: Location) -> BinaryIO:
        """Stream one file; the caller closes it."""
        return self._artifacts.open(self._owner(location), location.path)

    # ----------------------------------------------------------------- registering

    @requires(Permission.WRITE)
    def register_version(
        self,
        group: str,
        source: str,
        *,
        run_id: str | None = None,
        model_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        """Register the MLflow model folder at ``source`` as the group's next version.

        The folder is copied unread into a package of flavor ``mlflow`` (so Slipway never
        unpickles it unless a caller trusts it when loading); the version starts
        ``PendingManualApproval`` like any other and records the run that made it.

        Args:
            source: ``models:/<logged model id>``, ``runs:/<run id>/<path>`` or an
                ``mlflow-artifacts:/`` URI this server handed out.
            run_id: the run that made the model; by default the logged model's or the run's of ``source``.
            model_id: the MLflow logged model, recorded in the version's metadata.

        Raises:
            InvalidInput: if ``source`` is not one of those forms or holds no ``MLmodel`` file.
            NotFound: if what ``source`` names does not exist.
        """
        location = self._source_location(source)
        if run_id is None and location.area is Area.RUN:
            run_id = location.owner_id
        if model_id is None and location.area is Area.LOGGED_MODEL:
            model_id = location.owner_id
        if run_id is None and model_id is not None:
            run_id = self.get_logged_model(model_id).source_run_id
        owner = self._owner(location)
        metadata = {"mlflow": {"source": source, **({"model_id": model_id} if model_id else {})}}
        with tempfile.TemporaryDirectory(prefix="slipway-mlflow-") as tmp:
            folder = Path(tmp) / "mlflow"
            try:
                self._artifacts.download(owner, location.path, folder)
            except NotFound:
                raise InvalidInput(f"{source} holds no files", field="source") from None
            if not (folder / _MLMODEL).is_file():
                raise InvalidInput(f"{source} is not an MLflow model: it has no {_MLMODEL} file", field="source")
            package = Path(tmp) / "package"
            save_model(folder, package, flavor="mlflow", trusted=True)
            return self._registry.register_model(
                group, package, tags=tags, description=description, metadata=metadata, source_run_id=run_id
            )

    # ----------------------------------------------------------------- stages

    @requires(Permission.READ)
    def transition_stage(
        self, group: str, version: int, stage: str, *, archive_existing_versions: bool = False
    ) -> ModelVersion:
        """Put a version into one of MLflow's stages, which Slipway plays with aliases and archiving.

        ``Production`` and ``Staging`` point the alias ``production`` or ``staging`` at the version
        (``production`` is protected: approvers only, Approved versions only); ``Archived`` and
        ``None`` take those aliases off it and archive or unarchive it. See
        :mod:`slipway.mlflow_compat._stages`; each step checks its own permission.

        Raises:
            InvalidInput: for an unknown stage.
            Conflict, PermissionDenied: as the registry's alias moves and archiving raise them.
        """
        return transition(self._registry, group, version, stage, archive_existing_versions=archive_existing_versions)

    @staticmethod
    def _source_location(source: str) -> Location:
        if not isinstance(source, str) or not source:
            raise InvalidInput("source must name the model's files", field="source")
        if source.startswith("models:/"):
            model_id = source.removeprefix("models:/").strip("/")
            if "/" in model_id or "@" in model_id:
                raise InvalidInput(
                    f"source {source!r} names a registered model; register from models:/<logged model id>",
                    field="source",
                )
            return Location(Area.LOGGED_MODEL, model_id)
        if source.startswith("runs:/"):
            run_id, _, path = source.removeprefix("runs:/").partition("/")
            return parse_uri(f"mlflow-artifacts:/runs/{run_id}/{path}")
        if source.startswith("mlflow-artifacts:"):
            return parse_uri(source)
        raise InvalidInput(
            f"source {source!r} is not models:/<model id>, runs:/<run id>/<path> or mlflow-artifacts:/...",
            field="source",
        )


def _logged_model(row: Row[Any]) -> LoggedModel:
    created, updated = ms_to_datetime(row.created_at), ms_to_datetime(row.updated_at)
    assert created is not None and updated is not None
    return LoggedModel(
        id=row.id,
        experiment_id=row.experiment_id,
        name=row.name,
        source_run_id=row.source_run_id,
        status=LoggedModelStatus(row.status),
        model_type=row.model_type,
        params=json.loads(row.params),
        tags=json.loads(row.tags),
        created_by=row.created_by,
        created_at=created,
        updated_at=updated,
    )


__all__ = ["MAX_SEARCH_RESULTS", "MlflowCompatService"]
