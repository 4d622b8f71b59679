"""The registry service: every change to model groups, versions, approval and aliases.

Every face (SDK, CLI, REST) calls these methods; none keeps rules of its own. Each change writes
its audit entry and domain event (``model_group.created``, ``model_version.registered``,
``model_version.status_changed``, ``model_version.alias_moved``, ``model_version.archived``) in the
transaction that makes it, so an automation rule never sees a change that was rolled back. Reads
come from :class:`~slipway.registry._queries.RegistryReader`.

Concurrency, on SQLite and PostgreSQL alike:
    * version numbers come from a counter on the group row (:mod:`._register`);
    * a status change is a compare-and-set retried on the fresh status (:mod:`._approval`), so
      no update is lost and every change has one history entry;
    * alias moves and archiving lock the group row first (:mod:`._aliases`), so an alias is on
      exactly one version, never on an archived one, and its history follows the commit order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from slipway._ids import new_id
from slipway._kinds import ObjectKind
from slipway._limits import MAX_DESCRIPTION, check_text
from slipway._operations import composed
from slipway._principal import current_principal
from slipway._references import check_alias, check_name, check_version_number
from slipway._time import now_ms
from slipway.errors import AlreadyExists, Conflict, ContentMismatch, InvalidInput, NotFound
from slipway.events import record_change
from slipway.models import MANIFEST, ModelCard
from slipway.registry import _removal as removal
from slipway.registry import _rows as rows
from slipway.registry._aliases import move_alias
from slipway.registry._approval import compare_and_set_status
from slipway.registry._packaging import packaged, read_package_manifest
from slipway.registry._policy import ApprovalPolicy
from slipway.registry._queries import RegistryReader, api, version_owner
from slipway.registry._records import ApprovalStatus, ModelGroup, ModelVersion
from slipway.registry._register import NewVersion, insert_version
from slipway.registry._removal import VersionUsers
from slipway.registry._tables import model_aliases, model_group_tags, model_groups, model_version_tags, model_versions
from slipway.registry._trust import set_trust
from slipway.registry._validation import (
    AliasPath,
    GroupName,
    GroupPath,
    Metadata,
    MetricInput,
    Metrics,
    NewGroupName,
    StatusName,
    Tags,
    check_comment,
    check_metrics,
    check_tags,
    check_version_id,
    dump_metadata,
)
from slipway.security import Permission, require, requires
from slipway.store import Database, upsert
from slipway.store.artifacts import ArtifactInfo, ArtifactStore, file_sha256, seal, tree_digest, tree_files
from slipway.tracking import TrackingService

# A compare-and-set that keeps losing means something rewrites the version in a loop.
_CAS_ATTEMPTS = 20


class RegistryService(RegistryReader):
    """The model registry: reads (see :class:`RegistryReader`) and every change.

    Safe to share between threads; several processes may use the same store at once.

    Args:
        db: the metadata database.
        artifacts: where version files are stored, under ``Owner(ObjectKind.MODEL_VERSION, id)``.
        tracking: used to check that a version's source run exists.
        cache_dir: where :meth:`load_model` keeps downloaded packages.
        policy: who may approve and move protected aliases; everyone, by default.
        in_use: which versions something outside the registry still uses (an endpoint serving
            them): those are never deleted. None: nothing is asked (a registry on its own).

    Example:
        >>> registry = RegistryService(db, artifacts, tracking, cache_dir=home / "cache" / "models")
        >>> v = registry.register_model("abalone", model, metrics={"mse": 4.9})
        >>> registry.approve("abalone", v.version, comment="beats the baseline")
        >>> registry.set_alias("abalone", "prod", v.version)
        >>> registry.load_model("models:/abalone@prod").predict(X)
    """

    def __init__(
        self,
        db: Database,
        artifacts: ArtifactStore,
        tracking: TrackingService,
        *,
        cache_dir: Path,
        policy: ApprovalPolicy | None = None,
        in_use: VersionUsers | None = None,
    ) -> None:
        super().__init__(db, artifacts, cache_dir=cache_dir)
        self._tracking = tracking
        self.policy = policy or ApprovalPolicy()
        self._in_use = in_use

    # ----------------------------------------------------------------- groups

    @api.post("/model-groups", status=201)
    @requires(Permission.WRITE)
    def create_group(self, name: NewGroupName, description: str | None = None, tags: Tags | None = None) -> ModelGroup:
        """Create an empty model group.

        Raises:
            AlreadyExists: if a group has that name.
            InvalidInput: for a name that cannot appear in a ``models:/`` URI.
        """
        check_text(description, "description", MAX_DESCRIPTION)
        name = check_name(name)
        tag_rows = [{"group_id": "", "key": k, "value": v} for k, v in check_tags(tags).items()]
        group_id, now, who = new_id(), now_ms(), current_principal().name
        try:
            with self._db.write() as conn:
                conn.execute(
                    insert(model_groups).values(
                        id=group_id,
                        name=name,
                        description=description,
                        last_version=0,
                        created_by=who,
                        created_at=now,
                        updated_by=who,
                        updated_at=now,
                    )
                )
                if tag_rows:
                    conn.execute(insert(model_group_tags), [{**r, "group_id": group_id} for r in tag_rows])
                record_change(
                    conn,
                    action="model_group.create",
                    object_kind=ObjectKind.MODEL_GROUP,
                    object_id=group_id,
                    event_type="model_group.created",
                    payload={"name": name},
                )
        except IntegrityError:
            raise AlreadyExists(f"model group {name!r} already exists", field="name") from None
        return self.get_group(name)

    @api.patch("/model-groups/{group}")
    @requires(Permission.WRITE)
    def update_group(self, name: GroupName, *, description: str | None = None, tags: Tags | None = None) -> ModelGroup:
        """Change the description and set (add or overwrite) tags.

        Args:
            tags: key -> value; keys as run tag keys; added to or overwriting the group's
        """
        tag_rows = check_tags(tags)
        values: dict[str, Any] = {"updated_by": current_principal().name, "updated_at": now_ms()}
        if description is not None:
            values["description"] = check_text(description, "description", MAX_DESCRIPTION)
        with self._db.write() as conn:
            group = rows.group_row(conn, name)
            _update_with_tags(
                conn, model_groups, model_group_tags, "group_id", ObjectKind.MODEL_GROUP, group.id, values, tag_rows
            )
        return self.get_group(name)

    @api.post("/model-groups/{group}/rename")
    @requires(Permission.WRITE)
    def rename_group(self, name: GroupName, new_name: NewGroupName) -> ModelGroup:
        """Give a group a new name; its versions, aliases and histories go with it.

        ``models:/OLD/...`` URIs stop resolving at once (scripts and pipeline steps that name the
        old group must follow); endpoints keep serving the versions they pinned, which they load
        by id. Audited as ``model_group.rename``; publishes ``model_group.renamed``.

        Args:
            new_name: the group's new name, free in the registry

        Raises:
            AlreadyExists: if a group has the new name.
            InvalidInput: for a name that cannot appear in a ``models:/`` URI.
        """
        new_name = check_name(new_name, "new_name")
        try:
            with self._db.write() as conn:
                group = rows.group_row(conn, name, lock=True)
                if group.name != new_name:
                    conn.execute(
                        update(model_groups)
                        .where(model_groups.c.id == group.id)
                        .values(name=new_name, updated_by=current_principal().name, updated_at=now_ms())
                    )
                    record_change(
                        conn,
                        action="model_group.rename",
                        object_kind=ObjectKind.MODEL_GROUP,
                        object_id=group.id,
                        event_type="model_group.renamed",
                        payload={"name": new_name, "previous_name": group.name},
                    )
        except IntegrityError:
            raise AlreadyExists(f"model group {new_name!r} already exists", field="new_name") from None
        return self.get_group(new_name)

    @api.delete("/model-groups/{group}")
    @requires(Permission.WRITE)
    def delete_group(self, name: GroupName) -> None:
        """Delete a group and every version of it: files, metrics, tags, aliases and histories.

        Refused while an endpoint serves one of its versions. Deleting an Approved version, or
        one holding a protected alias (``prod``...), needs the approve permission, as approving
        and moving that alias do. The audit trail keeps who deleted what (``model_group.delete``,
        ``model_version.delete`` for each version); the files go at the next garbage collection.

        Raises:
            Conflict: while an endpoint serves one of the group's versions (naming the endpoint).
            PermissionDenied: for an Approved version or a protected alias without the approve permission.
        """
        what = f"model group {name!r}"
        with self._db.read() as conn:
            checked = self._versions_of(conn, rows.group_row(conn, name).id)
        removal.check_unused(self._in_use, checked, what)
        with self._db.write() as conn:
            group = rows.group_row(conn, name, lock=True)
            versions = self._versions_of(conn, group.id)
            self._check_unchanged(checked, versions, what)
            self._check_deletable(conn, versions)
            removal.delete_group(conn, group, versions)

    @api.delete("/model-groups/{group}/versions/{version}")
    @requires(Permission.WRITE)
    def delete_version(self, group: GroupPath, version: int) -> None:
        """Delete one version: its files, metrics, tags, status history and the aliases it holds.

        Its number is never given again in the group. Refused while an endpoint serves it; an
        Approved version, or one holding a protected alias, needs the approve permission. Audited
        as ``model_version.delete``; publishes ``model_version.deleted``. To keep a version but hide
        it from ``latest`` and searches, archive it instead.

        Raises:
            Conflict: while an endpoint serves it (naming the endpoint).
            PermissionDenied: for an Approved version or a protected alias without the approve permission.
        """
        number = check_version_number(version)
        what = f"{group} version {number}"
        with self._db.read() as conn:
            checked = [rows.version_row(conn, group, number)]
        removal.check_unused(self._in_use, checked, what)
        with self._db.write() as conn:
            group_row = rows.group_row(conn, group, lock=True)
            row = rows.version_row(conn, group, number)
            self._check_unchanged(checked, [row], what)
            self._check_deletable(conn, [row])
            removal.delete_version(conn, group_row, row)

    @staticmethod
    def _versions_of(conn: Connection, group_id: str) -> list[Any]:
        return list(conn.execute(rows.versions_query().where(model_versions.c.group_id == group_id)).all())

    @staticmethod
    def _check_unchanged(checked: Iterable[Any], versions: Iterable[Any], what: str) -> None:
        """Refuse when versions appeared (or were replaced) since they were checked for users."""
        if {v.id for v in versions} - {v.id for v in checked}:
            raise Conflict(f"{what} gained a version while it was being deleted: try again", field="version")

    def _check_deletable(self, conn: Connection, versions: Iterable[Any]) -> None:
        """What undoing an approver's decision needs: the approve permission, and the policy's word
        on each protected alias that would go."""
        found = list(versions)
        approved = [v for v in found if v.status == ApprovalStatus.APPROVED.value]
        if approved:
            require(Permission.APPROVE, f"delete the Approved version {approved[0].group_name}/{approved[0].version}")
        for alias in removal.held_aliases(conn, (v.id for v in found)):
            self._check_alias_move(alias)

    # ----------------------------------------------------------------- registering

    @requires(Permission.WRITE)
    def register_model(
        self,
        group: str,
        model_or_path: Any,
        *,
        flavor: str | None = None,
        input_example: object = None,
        metrics: Mapping[str, MetricInput] | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        source_run_id: str | None = None,
        source_step_execution_id: str | None = None,
        model_card: ModelCard | str | None = None,
        trusted: bool | Iterable[str] = False,
    ) -> ModelVersion:
        """Package a model (unless given a package folder), store its files and register it.

        The group is created if it does not exist. The new version is numbered one past the
        group's highest and starts ``PendingManualApproval``.

        Args:
            group: the model group's name.
            model_or_path: a trained model (packaged with ``slipway.models.save_model``), or the
                folder of a package already written.
            flavor, input_example, model_card, trusted: passed to ``save_model`` when packaging.
            metrics: name -> number, :class:`MetricValue` or ``{"value": ..., "std": ...}``.
            description: what this version is, for people choosing between versions.
            metadata: free-form JSON object.
            tags: string key/values, searchable with ``tags.KEY = '...'``.
            source_run_id, source_step_execution_id: where the model came from (at most one);
                recorded in the lineage graph.

        Raises:
            InvalidInput: for a bad name, metric, tag, metadata or package.
            NotFound: if ``source_run_id`` names no run.
        """
        check_name(group, "group")
        package = packaged(
            model_or_path, flavor=flavor, input_example=input_example, model_card=model_card, trusted=trusted
        )
        with package as (folder, _info):
            version_id = new_id()
            self._artifacts.put_dir(version_owner(version_id), "", folder)
        return self.create_version(
            group,
            version_id,
            metrics=metrics,
            description=check_text(description, "description", MAX_DESCRIPTION),
            metadata=metadata,
            tags=tags,
            source_run_id=source_run_id,
            source_step_execution_id=source_step_execution_id,
        )

    @api.put("/model-versions/{version_id}/files/{path:path}")
    @requires(Permission.WRITE)
    def stage_file(self, version_id: str, path: str, stream: BinaryIO) -> ArtifactInfo:
        """Store one file of a package that :meth:`create_version` will register.

        Remote clients upload a package file by file under an id they generate, then register
        it. Once a version is registered its files can no longer change. Over HTTP the raw
        request body is the file, spooled to disk past 1 MiB.

        Raises:
            InvalidInput: for an id that is not shaped like one, or a bad path.
            Conflict: if the id belongs to a registered version.
        """
        check_version_id(version_id)
        with self._db.read() as conn:
            taken = conn.execute(select(model_versions.c.id).where(model_versions.c.id == version_id)).first()
        if taken is not None:
            raise Conflict(f"model version {version_id} is registered: its files cannot change", field="version_id")
        return self._artifacts.put_stream(version_owner(version_id), path, stream)

    @api.post("/model-groups/{group}/versions", status=201)
    @requires(Permission.WRITE)
    def create_version(
        self,
        group: GroupPath,
        version_id: str,
        *,
        metrics: Metrics | None = None,
        description: str | None = None,
        metadata: Metadata | None = None,
        tags: Tags | None = None,
        source_run_id: str | None = None,
        source_step_execution_id: str | None = None,
    ) -> ModelVersion:
        """Register the package already stored under ``version_id`` as the group's next version.

        The flavor and signature are read from the stored manifest, so they always describe the
        files. Registering seals the files: from the moment it commits none can be added,
        replaced or removed (an upload still under way is refused), and the version's
        ``content_hash`` covers exactly the files it has. Other arguments are as for
        :meth:`register_model`.

        Args:
            version_id: the id the package's files were uploaded under (PUT .../files/{path})
            source_step_execution_id: instead of source_run_id

        Raises:
            InvalidInput: if no valid package is stored under ``version_id``.
            AlreadyExists: if ``version_id`` is already registered.
            Conflict: if the manifest was replaced while the version was being registered.
        """
        check_name(group, "group")
        new = NewVersion(
            id=check_version_id(version_id),
            metrics=check_metrics(metrics),
            tags=check_tags(tags),
            metadata_json=dump_metadata(metadata),
            description=check_text(description, "description", MAX_DESCRIPTION),
            source=self._source(source_run_id, source_step_execution_id),
        )
        manifest: list[str] = []  # the SHA-256 of the manifest read, to check it is the one sealed

        def fetch_manifest(dst: Path) -> None:
            manifest.append(file_sha256(self._download(new.id, MANIFEST, dst)))

        try:
            info = read_package_manifest(fetch_manifest)
        except NotFound:
            raise InvalidInput(f"no model package is stored under version id {new.id}", field="version_id") from None
        with contextlib.suppress(AlreadyExists):  # the group may exist, or be created meanwhile
            self.create_group(group)
        try:
            with self._db.write() as conn:
                group_row = rows.group_row(conn, group)
                files = seal(conn, version_owner(new.id))
                if [f.sha256 for f in files if f.path == MANIFEST] != manifest:
                    raise Conflict(
                        f"the manifest of {new.id} was replaced while it was being registered: register it again",
                        field="version_id",
                    )
                content_hash = tree_digest((f.path, f.sha256 or "") for f in files)
                insert_version(conn, group_row, new, info, current_principal().name, content_hash)
        except IntegrityError:
            raise AlreadyExists(f"model version {new.id} is already registered", field="version_id") from None
        return self.get_version_by_id(new.id)

    def _source(self, run_id: str | None, step_execution_id: str | None) -> tuple[str, str] | None:
        if run_id is not None and step_execution_id is not None:
            raise InvalidInput("give source_run_id or source_step_execution_id, not both", field="source_run_id")
        if run_id is not None:
            try:
                self._tracking.get_run(run_id)
            except NotFound:
                raise NotFound(f"source run {run_id!r} does not exist", field="source_run_id") from None
            return (ObjectKind.RUN, run_id)
        # Step executions belong to the pipelines domain, which this one does not import:
        # the id is recorded as given.
        return (ObjectKind.STEP_EXECUTION, step_execution_id) if step_execution_id is not None else None

    @api.patch("/model-groups/{group}/versions/{version}")
    @requires(Permission.WRITE)
    def update_version(
        self,
        group: GroupPath,
        version: int,
        *,
        description: str | None = None,
        tags: Tags | None = None,
    ) -> ModelVersion:
        """Change a version's description and set (add or overwrite) its tags.

        Args:
            tags: key -> value; keys as run tag keys; added to or overwriting the version's
        """
        tag_rows = check_tags(tags)
        number = check_version_number(version)
        values: dict[str, Any] = {"updated_by": current_principal().name, "updated_at": now_ms()}
        if description is not None:
            values["description"] = check_text(description, "description", MAX_DESCRIPTION)
        with self._db.write() as conn:
            row = rows.version_row(conn, group, number)
            _update_with_tags(conn, model_versions, model_version_tags, "version_id", ObjectKind.MODEL_VERSION, row.id,
                              values, tag_rows)
        return self.get_version_by_id(row.id)

    @api.delete("/model-groups/{group}/tags")
    @requires(Permission.WRITE)
    def delete_group_tag(self, name: GroupName, key: str) -> ModelGroup:
        """Remove one tag of a group (over HTTP ``key`` is in the query string: keys may hold ``/``).

        Raises:
            NotFound: if the group does not exist or has no tag ``key``.
        """
        with self._db.write() as conn:
            group = rows.group_row(conn, name)
            _delete_tag(conn, model_groups, model_group_tags, "group_id", ObjectKind.MODEL_GROUP, group.id, key)
        return self.get_group(name)

    @api.delete("/model-groups/{group}/versions/{version}/tags")
    @requires(Permission.WRITE)
    def delete_version_tag(self, group: GroupPath, version: int, key: str) -> ModelVersion:
        """Remove one tag of a version (over HTTP ``key`` is in the query string: keys may hold ``/``).

        Raises:
            NotFound: if the version does not exist or has no tag ``key``.
        """
        number = check_version_number(version)
        with self._db.write() as conn:
            row = rows.version_row(conn, group, number)
            _delete_tag(conn, model_versions, model_version_tags, "version_id", ObjectKind.MODEL_VERSION, row.id, key)
        return self.get_version_by_id(row.id)

    # ----------------------------------------------------------------- approval

    @api.post("/model-groups/{group}/versions/{version}/status")
    @requires(Permission.READ)
    def update_status(
        self,
        group: GroupPath,
        version: int,
        status: StatusName,
        *,
        comment: str | None = None,
        expected_status: StatusName | None = None,
    ) -> ModelVersion:
        """Approve, reject or reset a version, keeping who, when and why in its history.

        Setting the status it already has changes nothing and records nothing. The policy is
        consulted first. A change that races another is retried on the fresh status (see
        :mod:`slipway.registry._approval`), so no update is lost.

        Approving records the version's content hash (checked against its files first): loading
        the version for serving checks the files against it. A version that holds a protected
        alias (``prod``...) stays Approved: move the alias to another Approved version, or remove
        it, before rejecting or resetting it.

        Args:
            status: the new status: PendingManualApproval, Approved or Rejected
            comment: why, for the history; at most 4000 characters
            expected_status: change only if the version still has this status, else raise
                Conflict: for callers who decided on the status they saw.

        Raises:
            PermissionDenied: if the policy refuses.
            Conflict: if ``expected_status`` no longer holds, or the version holds a protected
                alias and would leave Approved.
            ContentMismatch: if the files no longer hash to what registration recorded.
        """
        to = ApprovalStatus.parse(status)
        require(Permission.APPROVE, f"set a model version to {to.value}")
        expected = ApprovalStatus.parse(expected_status) if expected_status is not None else None
        comment = check_comment(comment)
        who = current_principal()
        for _ in range(_CAS_ATTEMPTS):
            seen = self.get_version(group, version)
            if expected is not None and seen.status is not expected:
                raise Conflict(
                    f"{group} version {seen.version} is {seen.status.value}, "
                    f"not {expected.value}: it was changed meanwhile",
                    field="status",
                )
            self.policy.check_status_change(who, to, seen.registered_by)
            if seen.status is to:
                return seen
            with self._db.write() as conn:
                rows.group_row(conn, group, lock=True)  # no alias moves onto it meanwhile
                self._check_protected_holder(conn, seen, to)
                approved = self._approved_hash(conn, seen) if to is ApprovalStatus.APPROVED else None
                swapped = compare_and_set_status(conn, seen, to, comment, who, approved)
            if swapped:
                return self.get_version_by_id(seen.id)
        raise Conflict(
            f"{group} version {version} kept changing over {_CAS_ATTEMPTS} attempts; try again", field="status"
        )

    def _check_protected_holder(self, conn: Connection, seen: ModelVersion, to: ApprovalStatus) -> None:
        """Refuse to take a version holding a protected alias out of Approved (the group is locked)."""
        if seen.status is not ApprovalStatus.APPROVED or to is ApprovalStatus.APPROVED:
            return
        a = model_aliases.c
        held = set(conn.execute(select(a.alias).where(a.version_id == seen.id)).scalars())
        protected = sorted(held & self.policy.protected_aliases)
        if protected:
            raise Conflict(
                f"{seen.group} version {seen.version} holds the protected alias(es) {', '.join(protected)}, which "
                f"point only at Approved versions: move them to another Approved version, or remove them, before "
                f"setting it {to.value}",
                field="status",
            )

    def _approved_hash(self, conn: Connection, seen: ModelVersion) -> str:
        """The content hash of the files being approved, which must be the one registration recorded."""
        files = tree_files(conn, version_owner(seen.id))
        current = tree_digest((f.path, f.sha256 or "") for f in files)
        if current != seen.content_hash:
            raise ContentMismatch(
                f"the files of {seen.uri} hash to {current}, not to the {seen.content_hash} its registration "
                "recorded: they were changed after it was registered, and cannot be approved",
                field="content_hash",
            )
        return current

    @composed
    @requires(Permission.READ)
    def approve(self, group: str, version: int, comment: str | None = None) -> ModelVersion:
        """Set the version ``Approved``; see :meth:`update_status`."""
        return self.update_status(group, version, ApprovalStatus.APPROVED, comment=comment)

    @composed
    @requires(Permission.READ)
    def reject(self, group: str, version: int, comment: str | None = None) -> ModelVersion:
        """Set the version ``Rejected``; see :meth:`update_status`."""
        return self.update_status(group, version, ApprovalStatus.REJECTED, comment=comment)

    # ----------------------------------------------------------------- trust

    @api.post("/model-groups/{group}/versions/{version}/trust")
    @requires(Permission.ADMIN)
    def trust_version(self, group: GroupPath, version: int, *, comment: str | None = None) -> ModelVersion:
        """Mark a version trusted: a server may then load it with formats that run code.

        Loading a pickle-based package (``pyfunc``, ``mlflow``, skops beyond its safe types) runs
        the code it holds. A server does that only for versions an admin marked (see
        :mod:`slipway.registry._trust`): to serve them, in pipelines, in batch transforms, and
        ``load_model`` needs no ``trusted=`` for them. Marking again changes nothing.

        Args:
            comment: why, for the audit trail; at most 4000 characters

        Raises:
            PermissionDenied: without the admin permission, or, under separation of duties, for
                the version's own registrant.
        """
        return self._set_trust(group, version, True, comment)

    @api.delete("/model-groups/{group}/versions/{version}/trust")
    @requires(Permission.ADMIN)
    def revoke_trust(self, group: GroupPath, version: int, *, comment: str | None = None) -> ModelVersion:
        """Take the trust mark off a version: from now on a server will not load it with code.

        An endpoint that already loaded the version drops it at its next refresh (see
        :class:`~slipway.serving.ServingHost`). Revoking an unmarked version changes nothing.

        Args:
            comment: why, for the audit trail; at most 4000 characters
        """
        return self._set_trust(group, version, False, comment)

    def _set_trust(self, group: str, version: int, trusted: bool, comment: str | None) -> ModelVersion:
        number = check_version_number(version)
        comment = check_comment(comment)
        who = current_principal()
        with self._db.write() as conn:
            row = rows.version_row(conn, group, number)
            if trusted:
                self.policy.check_trust(who, row.registered_by)
            set_trust(conn, row, who, trusted=trusted, comment=comment)
        return self.get_version_by_id(row.id)

    # ----------------------------------------------------------------- aliases

    @api.put("/model-groups/{group}/aliases/{alias}")
    @requires(Permission.READ)
    def set_alias(
        self, group: GroupPath, alias: AliasPath, version: int, *, comment: str | None = None
    ) -> ModelVersion:
        """Point ``alias`` at ``version``, taking it off whichever version held it, atomically.

        A protected alias (setting ``protected_aliases``: ``prod``, ``production``, ``champion`` by
        default) needs the approve permission and points only at an Approved version.

        Raises:
            PermissionDenied: if the policy protects the alias from this principal.
            Conflict: if the version is archived, or the alias is protected and the version not Approved.
        """
        alias = check_alias(alias)
        number = check_version_number(version)
        comment = check_comment(comment)
        who = current_principal()
        self._check_alias_move(alias)
        with self._db.write() as conn:
            g = rows.group_row(conn, group, lock=True)
            target = rows.version_row(conn, group, number)
            self.policy.check_alias_move(who, alias, target.registered_by)
            if target.archived:
                raise Conflict(
                    f"{group} version {number} is archived; unarchive it to give it an alias", field="version"
                )
            if alias in self.policy.protected_aliases and target.status != ApprovalStatus.APPROVED.value:
                raise Conflict(
                    f"{alias!r} is a protected alias and points only at Approved versions; {group} version "
                    f"{number} is {target.status}",
                    field="version",
                )
            if move_alias(conn, g, alias, target.id, comment):
                conn.execute(
                    update(model_versions)
                    .where(model_versions.c.id == target.id)
                    .values(updated_by=who.name, updated_at=now_ms())
                )
        return self.get_version_by_id(target.id)

    @api.delete("/model-groups/{group}/aliases/{alias}")
    @requires(Permission.READ)
    def remove_alias(self, group: GroupPath, alias: AliasPath, *, comment: str | None = None) -> None:
        """Take ``alias`` off its version; the removal is kept in the alias history.

        Raises:
            NotFound: if the alias is not set.
        """
        alias = check_alias(alias)
        comment = check_comment(comment)
        self._check_alias_move(alias)
        with self._db.write() as conn:
            if not move_alias(conn, rows.group_row(conn, group, lock=True), alias, None, comment):
                raise NotFound(f"model group {group!r} has no alias {alias!r}", field="alias")

    # ----------------------------------------------------------------- archiving

    def _check_alias_move(self, alias: str) -> None:
        """A protected alias (``prod``) moves with the approve permission, any other with write; then the policy."""
        protected = alias in self.policy.protected_aliases
        require(Permission.APPROVE if protected else Permission.WRITE, f"move the alias {alias!r}")
        self.policy.check_alias_move(current_principal(), alias)

    @api.post("/model-groups/{group}/versions/{version}/archive")
    @requires(Permission.WRITE)
    def archive_version(self, group: GroupPath, version: int) -> ModelVersion:
        """Hide a version from ``latest`` and searches; it stays fetchable by number and in lineage.

        Raises:
            Conflict: while an alias points at it (move the alias first).
        """
        return self._set_archived(group, version, True)

    @api.post("/model-groups/{group}/versions/{version}/unarchive")
    @requires(Permission.WRITE)
    def unarchive_version(self, group: GroupPath, version: int) -> ModelVersion:
        """Make an archived version count for ``latest`` and searches again."""
        return self._set_archived(group, version, False)

    def _set_archived(self, group: str, version: int, archived: bool) -> ModelVersion:
        number = check_version_number(version)
        verb = "archived" if archived else "unarchived"
        with self._db.write() as conn:
            rows.group_row(conn, group, lock=True)  # no alias may move onto it meanwhile
            row = rows.version_row(conn, group, number)
            if row.archived != archived:
                a = model_aliases.c
                held = conn.execute(select(a.alias).where(a.version_id == row.id)).scalars().all()
                if archived and held:
                    raise Conflict(
                        f"{group} version {number} holds the alias(es) {', '.join(sorted(held))}: "
                        f"move them before archiving it",
                        field="version",
                    )
                conn.execute(
                    update(model_versions)
                    .where(model_versions.c.id == row.id)
                    .values(archived=archived, updated_by=current_principal().name, updated_at=now_ms())
                )
                record_change(
                    conn,
                    action=f"model_version.{verb[:-1]}",
                    object_kind=ObjectKind.MODEL_VERSION,
                    object_id=row.id,
                    event_type=f"model_version.{verb}",
                    payload={"group": group, "version": number},
                )
        return self.get_version_by_id(row.id)


__all__ = ["RegistryService"]


def _update_with_tags(
    conn: Connection,
    table: Table,
    tag_table: Table,
    owner_column: str,
    kind: ObjectKind,
    object_id: str,
    values: dict[str, Any],
    tag_rows: Mapping[str, str],
) -> None:
    """Update a group or version row, merge its tags and audit both, in the caller's transaction."""
    conn.execute(update(table).where(table.c.id == object_id).values(**values))
    upsert(
        conn,
        tag_table,
        [{owner_column: object_id, "key": k, "value": v} for k, v in tag_rows.items()],
        keys=(owner_column, "key"),
        update=("value",),
    )
    record_change(
        conn,
        action=f"{kind}.update",
        object_kind=kind,
        object_id=object_id,
        details={"description": values.get("description"), "tags": dict(tag_rows)},
    )


def _delete_tag(
    conn: Connection, table: Table, tag_table: Table, owner_column: str, kind: ObjectKind, object_id: str, key: str
) -> None:
    """Delete a group's or version's tag and audit it, in the caller's transaction.

    Raises:
        NotFound: if the object has no tag ``key``.
    """
    owner = tag_table.c[owner_column]
    if conn.execute(delete(tag_table).where(owner == object_id, tag_table.c.key == key)).rowcount == 0:
        raise NotFound(f"{kind.replace('_', ' ')} {object_id} has no tag {key!r}", field="key")
    conn.execute(
        update(table).where(table.c.id == object_id).values(updated_by=current_principal().name, updated_at=now_ms())
    )
    record_change(conn, action=f"{kind}.update", object_kind=kind, object_id=object_id, details={"deleted_tag": key})
