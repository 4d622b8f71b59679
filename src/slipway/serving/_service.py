"""The serving control plane: endpoints, their variants, deployments and rollbacks.

Every face calls these methods, and so does the data plane (:mod:`slipway.serving._app`): it
reports what the new variants' traffic looks like with :meth:`ServingService.advance`, which
decides whether a deployment moves on, finishes or rolls back, and acknowledges a revision it
serves with :meth:`ServingService.confirm`. Keeping those decisions here means a rollout behaves
the same whichever process watches it, and every step is an audited change with its event
(``endpoint.created``, ``deployment.started``, ``deployment.succeeded``,
``deployment.rolled_back``, ``endpoint.deleted``) in the transaction that makes it.

Each change of what traffic reaches bumps the endpoint's ``revision``; serving processes poll it
and swap their routing table when it moves.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, BinaryIO

from pydantic import Field
from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from slipway._confinement import Confinement
from slipway._ids import new_id
from slipway._kinds import ObjectKind
from slipway._limits import MAX_COMMENT, check_text
from slipway._names import SHORT_WORD
from slipway._operations import Api, Wire, composed
from slipway._principal import current_principal
from slipway._time import check_aware, ms_to_datetime, now_ms
from slipway.datasets import DatasetService, Registration
from slipway.errors import AlreadyExists, Conflict, InvalidInput, NotFound, PermissionDenied
from slipway.events import record_change
from slipway.lineage import NodeRef, mark_retired, record_edges
from slipway.registry import ApprovalStatus, RegistryReader
from slipway.security import Permission, require, requires
from slipway.serving._capture import CAPTURE_PREFIX, capture_files
from slipway.serving._records import (
    Alarms,
    CaptureConfig,
    CaptureFile,
    Deployment,
    DeploymentStatus,
    Endpoint,
    EndpointStatus,
    GroundTruth,
    IngressReplicas,
    Stored,
    Strategy,
    Variant,
    VariantSpec,
    WindowStats,
)
from slipway.serving._tables import endpoint_deployments, endpoint_ground_truth, endpoints
from slipway.serving._transform import DATASET_SCHEME, batch_transform
from slipway.store import Database, upsert
from slipway.store.artifacts import ArtifactStore, Owner, normalize_path

# Serving statuses the data plane clears once it serves the endpoint's current revision.
_PENDING = (EndpointStatus.CREATING, EndpointStatus.UPDATING, EndpointStatus.ROLLING_BACK)


def check_endpoint_name(name: object, field: str = "name") -> str:
    """Return ``name`` if it can name an endpoint (it appears in URL paths; see :data:`slipway._names.SHORT_WORD`).

    Raises:
        InvalidInput: unless 1 to 64 letters, digits, ``_ . -``, starting with a letter or digit.
    """
    return SHORT_WORD.check(name, field, f"endpoint {field}")


EndpointName = Annotated[str, Wire(to_wire=check_endpoint_name)]  # checked first: it goes into the URL path
_VARIANTS = (
    'a list of {"model": "GROUP/VERSION", "name", "weight", "workers", "shadow", "autoscaling": '
    '{"min_replicas", "max_replicas", "target_ongoing", "upscale_delay_seconds", "downscale_delay_seconds", '
    '"look_back_seconds"}}'
)
Variants = Annotated[Sequence[VariantSpec | Mapping[str, Any]], Wire(list[Any]), Field(description=_VARIANTS)]
# Settings travel as plain objects: the service checks them, so a remote caller gets the same error naming the field.
Settings = Wire(dict[str, Any])
InferenceIds = Annotated[Iterable[str], Wire(list[str], name="inference_id")]  # inference_id=...&inference_id=...
Count = Annotated[int, Wire(Stored, to_wire=lambda n: Stored(stored=n), from_wire=lambda s: s.stored)]
api = Api("serving")  # the REST routes and remote methods derive from these declarations (slipway._operations)


class ServingService:
    """Endpoints and deployments over the metadata database.

    Safe to share between threads; several serving processes may watch the same endpoint.

    Args:
        db: the metadata database.
        registry: resolves ``GROUP/VERSION`` to model versions and their approval status.
        artifacts: where captured traffic is stored (needed only to list and read it).
        datasets: the datasets batch transforms read and register.

    Example:
        >>> serving = ServingService(db, registry)
        >>> serving.create_endpoint("abalone", [VariantSpec(model="abalone/3")])
        >>> serving.update_endpoint("abalone", [VariantSpec(model="abalone/4")],
        ...                         strategy=Strategy(kind="canary", share=0.1, bake_seconds=300))
    """

    def __init__(
        self, db: Database, registry: RegistryReader, artifacts: ArtifactStore | None = None, *,
        confinement: Confinement | None = None, datasets: DatasetService | None = None,
    ) -> None:
        """``confinement``: a server's (set by ``Backend.confine``) hides its folders in the failure
        reasons it records; embedded mode's hides nothing. ``datasets``: where :meth:`transform`
        reads and registers (needed only for it)."""
        self._db = db
        self._registry = registry
        self._artifacts = artifacts
        self._datasets = datasets
        self.confinement = confinement or Confinement()

    # ----------------------------------------------------------------- batch transform

    @api.post("/transforms", job=True, accepted=True)
    @requires(Permission.WRITE)
    def transform(self, model: str, dataset: str, output: str, *, chunk_rows: int = 100_000) -> Registration:
        """Predict a model version over a registered dataset version, chunk by chunk, and register
        the rows with their predictions as the next version of the dataset ``output`` (see
        :func:`~slipway.serving.batch_transform`, which also reads files and runs on Ray).

        Over REST it is a worker's job: the answer is ``202`` and the job, whose result is the
        output's registration (``GET /api/v1/jobs/{id}``); the remote client waits for it.

        Args:
            model: ``GROUP/VERSION`` or a ``models:/`` URI.
            dataset: the input: ``NAME`` (its latest version) or ``NAME:VERSION``.
            output: the dataset the rows and their predictions become the next version of.
            chunk_rows: rows read, predicted and written at a time.

        Raises:
            NotFound: for a model version or dataset version that does not exist.
            InvalidInput: for rows that fail the model's signature (naming the column).
        """
        if self._datasets is None:
            raise InvalidInput("this serving service has no datasets to transform", field="dataset")
        return batch_transform(self._registry, self._datasets, model, DATASET_SCHEME + dataset, output,
                               chunk_rows=chunk_rows)

    # ----------------------------------------------------------------- reading

    @api.get("/endpoints/{name}")
    @requires(Permission.READ)
    def get_endpoint(self, name: EndpointName) -> Endpoint:
        with self._db.read() as conn:
            return self._endpoint(conn, _endpoint_row(conn, name))

    @api.get("/endpoints")
    @requires(Permission.READ)
    def list_endpoints(self) -> list[Endpoint]:
        with self._db.read() as conn:
            rows = conn.execute(select(endpoints).order_by(endpoints.c.name)).all()
            return [self._endpoint(conn, row) for row in rows]

    @api.get("/endpoints/{name}/deployments")
    @requires(Permission.READ)
    def list_deployments(self, name: EndpointName) -> list[Deployment]:
        """Every deployment of the endpoint, newest first."""
        d = endpoint_deployments.c
        with self._db.read() as conn:
            row = _endpoint_row(conn, name)
            found = conn.execute(
                select(endpoint_deployments).where(d.endpoint_id == row.id).order_by(d.started_at.desc(), d.id.desc())
            )
            return [_deployment(r, row.name) for r in found]

    @requires(Permission.READ)
    def endpoints_serving(self, version_ids: Sequence[str]) -> dict[str, list[str]]:
        """Which endpoints serve each of the given model versions: ``{version_id: ["endpoint 'x'", ...]}``.

        An endpoint serves a version while one of its variants, or of its deployment under way,
        names it. The registry asks before it deletes a version (the backend hands it this method);
        the answer names endpoints, so the caller must be able to read them (whoever may delete a
        version can).
        """
        wanted = set(version_ids)
        found: dict[str, list[str]] = {}
        with self._db.read() as conn:
            for row in conn.execute(select(endpoints.c.id, endpoints.c.name, endpoints.c.config)):
                variants = list(json.loads(row.config)["variants"])
                deployment = _in_progress(conn, row.id)
                if deployment is not None:
                    variants += json.loads(deployment.row.target)
                for vid in {v["model_version_id"] for v in variants} & wanted:
                    found.setdefault(vid, []).append(f"endpoint {row.name!r}")
        return found

    # ----------------------------------------------------------------- changes

    @api.post("/endpoints", status=201)
    @requires(Permission.READ)
    def create_endpoint(
        self,
        name: str,
        variants: Variants,
        *,
        capture: Annotated[CaptureConfig | Mapping[str, Any], Settings] | None = None,
        alarms: Annotated[Alarms | Mapping[str, Any], Settings] | None = None,
        force: bool = False,
        production: bool = False,
    ) -> Endpoint:
        """Create an endpoint serving ``variants``; it is ``Creating`` until a server serves it.

        Args:
            capture: {"sampling_percent", "max_records_per_file"}
            alarms: {"max_error_rate", "max_p99_ms", "min_requests"}
            force: serve versions that are not Approved (admins only)
            production: a production endpoint: changing it needs the approver role (creating, changing,
                rolling back or deleting it needs the deploy_production permission: approvers and admins)

        Raises:
            AlreadyExists: if an endpoint has that name.
            NotFound: naming a model version that does not exist.
            Conflict: for a version that is not approved (without ``force``).
            PermissionDenied: for ``force`` without the admin role, or a production endpoint
                without the deploy_production permission.
            InvalidInput: for bad variants, capture or alarm settings.
        """
        _require_change(production)
        name = check_endpoint_name(name)
        resolved = self._resolve(variants, force=force)
        config = _config(
            resolved, CaptureConfig.parse(capture or {}, "capture"), Alarms.parse(alarms or {}, "alarms"), production
        )
        endpoint_id, now, who = new_id(), now_ms(), current_principal().name
        try:
            with self._db.write() as conn:
                conn.execute(
                    insert(endpoints).values(
                        id=endpoint_id,
                        name=name,
                        status=EndpointStatus.CREATING.value,
                        config=config,
                        revision=1,
                        created_by=who,
                        created_at=now,
                        updated_by=who,
                        updated_at=now,
                    )
                )
                _record_lineage(conn, endpoint_id, name, resolved)
                record_change(
                    conn,
                    action="endpoint.create",
                    object_kind=ObjectKind.ENDPOINT,
                    object_id=endpoint_id,
                    event_type="endpoint.created",
                    payload={
                        "name": name, "variants": [v.model for v in resolved], "forced": force, "production": production
                    },
                )
        except IntegrityError:
            raise AlreadyExists(f"endpoint {name!r} already exists", field="name") from None
        return self.get_endpoint(name)

    @api.patch("/endpoints/{name}")
    @requires(Permission.READ)
    def update_endpoint(
        self,
        name: EndpointName,
        variants: Variants | None = None,
        *,
        strategy: Annotated[Strategy | Mapping[str, Any], Settings] | None = None,
        capture: Annotated[CaptureConfig | Mapping[str, Any], Settings] | None = None,
        alarms: Annotated[Alarms | Mapping[str, Any], Settings] | None = None,
        force: bool = False,
        production: bool | None = None,
    ) -> Endpoint:
        """Change capture or alarm settings at once, and deploy new ``variants`` by ``strategy``.

        ``production`` True or False marks or unmarks the endpoint as production; either change,
        and any change of a production endpoint, needs the deploy_production permission.

        Args:
            strategy: {"kind": all_at_once|canary|linear, "share", "bake_seconds"}
            production: mark (true) or unmark (false) as production: approvers only

        Raises:
            Conflict: while another deployment is in progress, or for a version not approved.
            (and as :meth:`create_endpoint`)
        """
        resolved = self._resolve(variants, force=force) if variants is not None else None
        plan = Strategy.parse(strategy or {}, "strategy")
        new_capture = CaptureConfig.parse(capture, "capture") if capture is not None else None
        new_alarms = Alarms.parse(alarms, "alarms") if alarms is not None else None
        with self._db.write() as conn:
            row = _endpoint_row(conn, name, lock=True)
            current = json.loads(row.config)
            was_production = current.get("production", False)
            _require_change(was_production or (production is not None and production != was_production))
            if production is not None:
                current["production"] = production
            if new_capture is not None:
                current["capture"] = new_capture.model_dump()
            if new_alarms is not None:
                current["alarms"] = new_alarms.model_dump()
            values: dict[str, Any] = {"config": json.dumps(current), "revision": row.revision + 1}
            if resolved is not None:
                if _in_progress(conn, row.id) is not None:
                    raise Conflict(
                        f"endpoint {name!r} has a deployment in progress; roll it back or wait", field="name"
                    )
                values.update(self._start_deployment(conn, row, current, resolved, plan))
                _record_lineage(conn, row.id, row.name, resolved)
            _set(conn, row, **values)
            record_change(
                conn,
                action="endpoint.update",
                object_kind=ObjectKind.ENDPOINT,
                object_id=row.id,
                details={
                    "capture": capture is not None,
                    "alarms": alarms is not None,
                    "variants": variants is not None,
                    "production": {"before": was_production, "after": current.get("production", False)},
                },
            )
        return self.get_endpoint(name)

    @api.post("/endpoints/{name}/rollback")
    @requires(Permission.READ)
    def rollback(self, name: EndpointName, reason: str = "rolled back by hand") -> Endpoint:
        """Undo the deployment in progress or, if none is, the last one that succeeded.

        Raises:
            Conflict: if there is nothing to roll back.
            InvalidInput: for a reason longer than 4,000 characters.
        """
        check_text(reason, "reason", MAX_COMMENT)
        with self._db.write() as conn:
            row = _endpoint_row(conn, name, lock=True)
            _require_change(json.loads(row.config).get("production", False))
            deployment = _in_progress(conn, row.id) or _last_succeeded(conn, row.id)
            if deployment is None:
                raise Conflict(f"endpoint {name!r} has no deployment to roll back", field="name")
            _roll_back(conn, row, deployment, reason)
        return self.get_endpoint(name)

    @api.delete("/endpoints/{name}")
    @requires(Permission.READ)
    def delete_endpoint(self, name: EndpointName) -> None:
        """Delete the endpoint and its history; servers stop serving it at their next poll."""
        with self._db.write() as conn:
            row = _endpoint_row(conn, name, lock=True)
            _require_change(json.loads(row.config).get("production", False))
            conn.execute(delete(endpoints).where(endpoints.c.id == row.id))
            _retire(conn, row, json.loads(row.config)["variants"], [])
            record_change(
                conn,
                action="endpoint.delete",
                object_kind=ObjectKind.ENDPOINT,
                object_id=row.id,
                event_type="endpoint.deleted",
                payload={"name": row.name},
            )

    # ----------------------------------------------------------------- the data plane's reports

    @requires(Permission.READ)
    def advance(self, name: str, stats: WindowStats) -> Endpoint:
        """Move the deployment in progress on, given the new variants' traffic in this step.

        An alarm crossed (with at least ``alarms.min_requests`` requests seen) rolls it back; a
        bake that has lasted ``strategy.bake_seconds`` moves a linear rollout one step on, or
        finishes it. The bake counts from when the reporting server began to route the step's
        traffic (``stats.serving_seconds``), so a variant whose replicas take long to start bakes
        for as long as any other; a report that does not say counts from the step's start. Without
        a deployment in progress, nothing changes.
        """
        with self._db.write() as conn:
            row = _endpoint_row(conn, name, lock=True)
            deployment = _in_progress(conn, row.id)
            if deployment is None:
                return self._endpoint(conn, row)
            breach = _breach(Alarms.model_validate(json.loads(row.config)["alarms"]), stats)
            if breach is not None:
                _roll_back(conn, row, deployment, f"alarm: {breach}")
            elif _baked_ms(deployment, stats) >= deployment.strategy.bake_seconds * 1000:
                share = 1.0 if deployment.strategy.kind != "linear" else deployment.share + deployment.strategy.share
                if share >= 1.0 - 1e-9:
                    _finish(conn, row, deployment)
                else:
                    _set_share(conn, row, deployment, share)
            return self._endpoint(conn, _endpoint_row(conn, name))

    @requires(Permission.READ)
    def report_replicas(self, name: str, replicas: Mapping[str, int], ingress: IngressReplicas | None = None) -> None:
        """The Ray Serve engine reports how many replicas of each variant run, and of the ingress
        (``{}`` and None: it stopped).

        Shown with the endpoint; neither a change of what traffic reaches nor audited (it follows
        the autoscaler, not a person).
        """
        with self._db.write() as conn:
            row = _endpoint_row(conn, name, lock=True)
            config = json.loads(row.config)
            config["replicas"] = {str(k): int(v) for k, v in replicas.items()}
            config["ingress"] = ingress.model_dump(mode="json") if ingress is not None else None
            conn.execute(update(endpoints).where(endpoints.c.id == row.id).values(config=json.dumps(config)))

    @requires(Permission.READ)
    def confirm(self, name: str, revision: int) -> Endpoint:
        """A server reports it serves ``revision``: a pending status becomes ``InService``."""
        with self._db.write() as conn:
            row = _endpoint_row(conn, name, lock=True)
            pending = row.status in _PENDING or row.status == EndpointStatus.FAILED
            if row.revision == revision and pending and _in_progress(conn, row.id) is None:
                conn.execute(
                    update(endpoints)
                    .where(endpoints.c.id == row.id)
                    .values(status=EndpointStatus.IN_SERVICE.value, updated_at=now_ms())
                )
            return self._endpoint(conn, _endpoint_row(conn, name))

    @requires(Permission.READ)
    def fail(self, name: str, reason: str) -> Endpoint:
        """A server could not serve the endpoint (a model would not load): ``Failed`` with why
        (naming no path of a confined server's folders: every reader of the endpoint sees it)."""
        reason = self.confinement.paths.text(reason)
        with self._db.write() as conn:
            row = _endpoint_row(conn, name, lock=True)
            conn.execute(
                update(endpoints)
                .where(endpoints.c.id == row.id)
                .values(status=EndpointStatus.FAILED.value, reason=reason, updated_at=now_ms())
            )
            return self._endpoint(conn, _endpoint_row(conn, name))

    # ----------------------------------------------------------------- ground truth

    @api.post("/endpoints/{name}/ground-truth")
    @requires(Permission.WRITE)
    def put_ground_truth(
        self, name: EndpointName, labels: Annotated[Iterable[GroundTruth | Mapping[str, Any]], Wire(list[Any])]
    ) -> Count:
        """Store labels for captured inferences (a later upload for the same id replaces it).

        Args:
            labels: a list of {"inference_id", "label"}

        Returns:
            how many labels were stored.
        """
        parsed = [GroundTruth.parse(item, "labels") for item in labels]
        who, now = current_principal().name, now_ms()
        with self._db.write() as conn:
            row = _endpoint_row(conn, name)
            rows = [
                {
                    "endpoint_id": row.id,
                    "inference_id": g.inference_id,
                    "label": json.dumps(g.label),
                    "uploaded_by": who,
                    "uploaded_at": now,
                }
                for g in parsed
            ]
            upsert(
                conn,
                endpoint_ground_truth,
                rows,
                keys=("endpoint_id", "inference_id"),
                update=("label", "uploaded_by", "uploaded_at"),
            )
            record_change(
                conn,
                action="endpoint.ground_truth",
                object_kind=ObjectKind.ENDPOINT,
                object_id=row.id,
                details={"count": len(rows)},
            )
        return len(parsed)

    @api.get("/endpoints/{name}/ground-truth")
    @requires(Permission.READ)
    def get_ground_truth(self, name: EndpointName, inference_ids: InferenceIds | None = None) -> list[GroundTruth]:
        """Labels of the endpoint's inferences (of ``inference_ids`` only, when given), by id."""
        g = endpoint_ground_truth.c
        with self._db.read() as conn:
            query = select(g.inference_id, g.label).where(g.endpoint_id == _endpoint_row(conn, name).id)
            if inference_ids is not None:
                query = query.where(g.inference_id.in_(list(inference_ids)))
            return [
                GroundTruth(inference_id=r.inference_id, label=json.loads(r.label))
                for r in conn.execute(query.order_by(g.inference_id))
            ]

    # ----------------------------------------------------------------- captured traffic

    @api.get("/endpoints/{name}/capture")
    @requires(Permission.READ)
    def list_capture(
        self, name: EndpointName, *, start: dt.datetime | None = None, end: dt.datetime | None = None
    ) -> list[CaptureFile]:
        """The files of traffic the endpoint captured, oldest first; with ``start``/``end``, those that
        may hold requests in ``[start, end)`` (uploaded at or after ``start``, first request before ``end``).

        Args:
            start: an aware time (UTC if naive is meant: give the offset).
            end: an aware time.

        Raises:
            NotFound: for an unknown endpoint.
        """
        endpoint = self.get_endpoint(name)
        return capture_files(self._captures(), endpoint.id, _aware(start, "start"), _aware(end, "end"))

    @api.get("/endpoints/{name}/capture/{path:path}")
    @requires(Permission.READ)
    def read_capture(self, name: EndpointName, path: str) -> BinaryIO:
        """A stream over one capture file (JSON lines: ``inference_id``, ``time``, ``variant``,
        ``shadow``, ``request``, ``response``); close it.

        Args:
            path: as :meth:`list_capture` gives it (``capture/YYYY/MM/DD/HH/...jsonl``).

        Raises:
            NotFound: for an unknown endpoint or file.
            InvalidInput: for a path outside the endpoint's capture folder.
        """
        path = normalize_path(path)
        if not path.startswith(f"{CAPTURE_PREFIX}/"):
            raise InvalidInput(f"{path!r} is not a capture file: paths start with {CAPTURE_PREFIX}/", field="path")
        endpoint = self.get_endpoint(name)
        return self._captures().open(Owner(ObjectKind.ENDPOINT, endpoint.id), path)

    @composed
    @requires(Permission.READ)
    def download_capture(
        self, name: str, dst: str | Path, *, start: dt.datetime | None = None, end: dt.datetime | None = None
    ) -> list[Path]:
        """Copy the capture files :meth:`list_capture` names into ``dst``, keeping their
        ``capture/YYYY/MM/DD/HH/`` folders; a file already there with the same size is kept.

        Returns:
            the local files, oldest upload first.
        """
        folder = Path(dst)
        written = []
        for file in self.list_capture(name, start=start, end=end):
            local = folder.joinpath(*file.path.split("/"))
            if not (local.is_file() and local.stat().st_size == file.size):
                local.parent.mkdir(parents=True, exist_ok=True)
                with self.read_capture(name, file.path) as stream, local.open("wb") as out:
                    while chunk := stream.read(1 << 20):
                        out.write(chunk)
            written.append(local)
        return written

    def _captures(self) -> ArtifactStore:
        if self._artifacts is None:
            raise InvalidInput("captured traffic is not available to this service", field="name")
        return self._artifacts

    # ----------------------------------------------------------------- internals

    def _resolve(self, variants: Sequence[VariantSpec | Mapping[str, Any]], *, force: bool) -> list[Variant]:
        specs = [VariantSpec.parse(v, f"variants.{i}") for i, v in enumerate(variants)]
        if not any(not s.shadow and s.weight > 0 for s in specs):
            raise InvalidInput(
                "an endpoint needs a variant that is not a shadow, with a weight above 0", field="variants"
            )
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise InvalidInput(f"variant names must differ: {names}", field="variants")
        if force and "admin" not in current_principal().roles:
            raise PermissionDenied("only an admin may serve a version that is not approved", field="force")
        resolved = []
        for spec in specs:
            version = self._registry.get_version(spec.group, spec.version)
            if version.status is not ApprovalStatus.APPROVED and not force:
                raise Conflict(
                    f"model version {spec.model} is {version.status.value}; approve it, or force as an admin",
                    field="variants",
                )
            resolved.append(Variant(**spec.model_dump(), model_version_id=version.id))
        return resolved

    def _start_deployment(
        self, conn: Connection, row: Row[Any], config: dict[str, Any], target: list[Variant], plan: Strategy
    ) -> dict[str, Any]:
        """Insert the deployment and return the endpoint columns it changes."""
        now, deployment_id = now_ms(), new_id()
        at_once = plan.kind == "all_at_once"
        conn.execute(
            insert(endpoint_deployments).values(
                id=deployment_id,
                endpoint_id=row.id,
                strategy=plan.model_dump_json(),
                status=(DeploymentStatus.SUCCEEDED if at_once else DeploymentStatus.IN_PROGRESS).value,
                previous=json.dumps(config["variants"]),
                target=json.dumps([v.model_dump() for v in target]),
                share=1.0 if at_once else plan.share,
                step_started_at=now,
                started_by=current_principal().name,
                started_at=now,
                finished_at=now if at_once else None,
            )
        )
        payload = {
            "name": row.name,
            "deployment": deployment_id,
            "strategy": plan.kind,
            "target": [v.model for v in target],
        }
        _event(conn, row.id, "deployment.started", payload)
        if at_once:
            _retire(conn, row, config["variants"], [v.model_dump() for v in target])
            config["variants"] = [v.model_dump() for v in target]
            _event(conn, row.id, "deployment.succeeded", payload)
        return {"config": json.dumps(config), "status": EndpointStatus.UPDATING.value, "reason": None}

    def _endpoint(self, conn: Connection, row: Row[Any]) -> Endpoint:
        config = json.loads(row.config)
        in_progress = _in_progress(conn, row.id)
        return Endpoint(
            id=row.id,
            name=row.name,
            status=EndpointStatus(row.status),
            reason=row.reason,
            variants=config["variants"],
            capture=config["capture"],
            alarms=config["alarms"],
            revision=row.revision,
            production=config.get("production", False),
            deployment=_deployment(in_progress.row, row.name) if in_progress is not None else None,
            replicas=config.get("replicas", {}),
            ingress=config.get("ingress"),
            created_by=row.created_by,
            created_at=ms_to_datetime(row.created_at),
            updated_by=row.updated_by,
            updated_at=ms_to_datetime(row.updated_at),
        )


# --------------------------------------------------------------------------------------- helpers


def _config(variants: list[Variant], capture: CaptureConfig, alarms: Alarms, production: bool) -> str:
    return json.dumps({
        "variants": [v.model_dump() for v in variants],
        "capture": capture.model_dump(),
        "alarms": alarms.model_dump(),
        "production": production,
    })


def _aware(at: dt.datetime | None, field: str) -> dt.datetime | None:
    """A window bound comparable with capture times, which are aware (UTC)."""
    return None if at is None else check_aware(at, field)


def _require_change(production: bool) -> None:
    """Changing a production endpoint is for approvers (deploy_production); any other, for scientists (write)."""
    require(Permission.DEPLOY_PRODUCTION if production else Permission.WRITE)


def _endpoint_row(conn: Connection, name: str, *, lock: bool = False) -> Row[Any]:
    query = select(endpoints).where(endpoints.c.name == check_endpoint_name(name))
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"endpoint {name!r} does not exist", field="name")
    return row


def _deployment(row: Row[Any], endpoint: str) -> Deployment:
    return Deployment(
        id=row.id,
        endpoint=endpoint,
        strategy=Strategy.model_validate_json(row.strategy),
        status=DeploymentStatus(row.status),
        previous=json.loads(row.previous),
        target=json.loads(row.target),
        share=row.share,
        step_started_at=ms_to_datetime(row.step_started_at),
        reason=row.reason,
        started_by=row.started_by,
        started_at=ms_to_datetime(row.started_at),
        finished_at=ms_to_datetime(row.finished_at),
    )


class _Open:
    """The deployment row a change acts on, with its times in milliseconds."""

    def __init__(self, row: Row[Any]) -> None:
        self.row = row
        self.id: str = row.id
        self.share: float = row.share
        self.step_started_at: int = row.step_started_at
        self.strategy = Strategy.model_validate_json(row.strategy)


def _latest(conn: Connection, endpoint_id: str, status: DeploymentStatus) -> _Open | None:
    d = endpoint_deployments.c
    query = (
        select(endpoint_deployments)
        .where(d.endpoint_id == endpoint_id, d.status == status.value)
        .order_by(d.started_at.desc(), d.id.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return _Open(row) if row is not None else None


def _in_progress(conn: Connection, endpoint_id: str) -> _Open | None:
    return _latest(conn, endpoint_id, DeploymentStatus.IN_PROGRESS)


def _last_succeeded(conn: Connection, endpoint_id: str) -> _Open | None:
    return _latest(conn, endpoint_id, DeploymentStatus.SUCCEEDED)


def _baked_ms(deployment: _Open, stats: WindowStats) -> float:
    """How long the step has baked: since it began, or less if the reporting server served it for less."""
    since_start = now_ms() - deployment.step_started_at
    return since_start if stats.serving_seconds is None else min(since_start, stats.serving_seconds * 1000)


def _breach(alarms: Alarms, stats: WindowStats) -> str | None:
    """Which alarm the window crosses, in words, or None."""
    if stats.requests < alarms.min_requests:
        return None
    rate = stats.errors / stats.requests
    if rate > alarms.max_error_rate:
        return f"error rate {rate:.3f} > {alarms.max_error_rate} over {stats.requests} requests"
    if alarms.max_p99_ms is not None and stats.p99_ms is not None and stats.p99_ms > alarms.max_p99_ms:
        return f"p99 latency {stats.p99_ms:.1f} ms > {alarms.max_p99_ms} ms over {stats.requests} requests"
    return None


def _set(conn: Connection, row: Row[Any], **values: Any) -> None:
    values.setdefault("revision", row.revision + 1)
    conn.execute(
        update(endpoints)
        .where(endpoints.c.id == row.id)
        .values(**values, updated_by=current_principal().name, updated_at=now_ms())
    )


def _close(conn: Connection, deployment: _Open, status: DeploymentStatus, reason: str | None) -> None:
    conn.execute(
        update(endpoint_deployments)
        .where(endpoint_deployments.c.id == deployment.id)
        .values(status=status.value, reason=reason, finished_at=now_ms())
    )


def _set_share(conn: Connection, row: Row[Any], deployment: _Open, share: float) -> None:
    conn.execute(
        update(endpoint_deployments)
        .where(endpoint_deployments.c.id == deployment.id)
        .values(share=share, step_started_at=now_ms())
    )
    _set(conn, row)
    record_change(
        conn,
        action="deployment.step",
        object_kind=ObjectKind.ENDPOINT,
        object_id=row.id,
        details={"deployment": deployment.id, "share": share},
    )


def _finish(conn: Connection, row: Row[Any], deployment: _Open) -> None:
    config = json.loads(row.config)
    _retire(conn, row, config["variants"], json.loads(deployment.row.target))
    config["variants"] = json.loads(deployment.row.target)
    _close(conn, deployment, DeploymentStatus.SUCCEEDED, None)
    conn.execute(update(endpoint_deployments).where(endpoint_deployments.c.id == deployment.id).values(share=1.0))
    _set(conn, row, config=json.dumps(config))
    _event(conn, row.id, "deployment.succeeded", {"name": row.name, "deployment": deployment.id})


def _roll_back(conn: Connection, row: Row[Any], deployment: _Open, reason: str) -> None:
    """Serve the deployment's previous variants again; the endpoint is RollingBack until a server confirms."""
    config = json.loads(row.config)
    previous = json.loads(deployment.row.previous)
    _retire(conn, row, json.loads(deployment.row.target) + config["variants"], previous)
    mark_retired(conn, [_variant_node(row.id, row.name, v) for v in previous], retired=False)
    config["variants"] = previous
    _close(conn, deployment, DeploymentStatus.ROLLED_BACK, reason)
    _set(conn, row, config=json.dumps(config), status=EndpointStatus.ROLLING_BACK.value, reason=reason)
    _event(conn, row.id, "deployment.rolled_back", {"name": row.name, "deployment": deployment.id, "reason": reason})


def _event(conn: Connection, endpoint_id: str, event_type: str, payload: dict[str, Any]) -> None:
    record_change(
        conn,
        action=event_type,
        object_kind=ObjectKind.ENDPOINT,
        object_id=endpoint_id,
        event_type=event_type,
        payload=payload,
    )


def _record_lineage(conn: Connection, endpoint_id: str, name: str, variants: list[Variant]) -> None:
    """Each model version is deployed as a variant, each variant as (part of) the endpoint; a variant
    serving again is live again."""
    endpoint = NodeRef(ObjectKind.ENDPOINT, endpoint_id, name)
    edges = []
    for v in variants:
        node = _variant_node(endpoint_id, name, v)
        edges += [
            (NodeRef(ObjectKind.MODEL_VERSION, v.model_version_id, v.model), node, "deployed_as"),
            (node, endpoint, "deployed_as"),
        ]
    record_edges(conn, edges)
    mark_retired(conn, [_variant_node(endpoint_id, name, v) for v in variants], retired=False)


def _variant_node(endpoint_id: str, name: str, variant: Variant | Mapping[str, Any]) -> NodeRef:
    label = variant.name if isinstance(variant, Variant) else str(variant["name"])
    return NodeRef(ObjectKind.ENDPOINT_VARIANT, f"{endpoint_id}/{label}", f"{name}/{label}")


def _retire(
    conn: Connection, row: Row[Any], old: Sequence[Mapping[str, Any]], live: Sequence[Mapping[str, Any]]
) -> None:
    """Mark the variants of ``old`` that ``live`` no longer has retired in lineage."""
    names = {v["name"] for v in live}
    mark_retired(conn, [_variant_node(row.id, row.name, v) for v in old if v["name"] not in names])
