"""Reading the registry: groups, versions, URIs, search, comparisons, histories and files.

:class:`RegistryReader` changes nothing, so a face that only reads (a dashboard, a serving
replica loading ``models:/NAME@prod``) can hold one without the rights or dependencies that
changes need; :class:`~slipway.registry.RegistryService` extends it with every change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, BinaryIO

from pydantic import Field
from sqlalchemy import func, select

from slipway._disclosure import naming
from slipway._kinds import ObjectKind
from slipway._operations import Api, Wire
from slipway._references import ModelUri, Selector, check_alias, check_version_number
from slipway.errors import InvalidInput, NotFound, SlipwayError
from slipway.models import LoadedModel, load_model
from slipway.registry import _rows as rows
from slipway.registry._aliases import alias_changes, holder_at
from slipway.registry._approval import status_changes
from slipway.registry._filter import search_conditions
from slipway.registry._packaging import verified_package
from slipway.registry._records import (
    AliasChange,
    ApprovalStatus,
    ModelGroup,
    ModelVersion,
    StatusChange,
    VersionComparison,
)
from slipway.registry._tables import model_aliases, model_groups, model_versions
from slipway.registry._trust import effective_trust
from slipway.registry._validation import AliasPath, GroupName, GroupPath, StatusName, Tags, check_tags, epoch_ms
from slipway.security import Permission, requires
from slipway.store import Database
from slipway.store.artifacts import ArtifactInfo, ArtifactStore, Owner

MAX_SEARCH_RESULTS = 10_000
api = Api("registry")  # the REST routes and remote methods derive from these declarations (slipway._operations)


def version_owner(version_id: str) -> Owner:
    """Who keeps a version's files in the artifact store."""
    return Owner(ObjectKind.MODEL_VERSION, version_id)


class RegistryReader:
    """Read-only access to the model registry.

    Safe to share between threads.

    Args:
        db: the metadata database.
        artifacts: where version files are stored, under ``Owner(ObjectKind.MODEL_VERSION, id)``.
        cache_dir: where :meth:`load_model` keeps downloaded packages.
    """

    def __init__(self, db: Database, artifacts: ArtifactStore, *, cache_dir: Path) -> None:
        self._db = db
        self._artifacts = artifacts
        self._cache_dir = Path(cache_dir)

    # ----------------------------------------------------------------- groups

    @api.get("/model-groups/{group}")
    @requires(Permission.READ)
    def get_group(self, name: GroupName) -> ModelGroup:
        with self._db.read() as conn:
            return rows.groups(conn, [rows.group_row(conn, name)])[0]

    @api.get("/model-groups")
    @requires(Permission.READ)
    def list_groups(self, name_like: str | None = None) -> list[ModelGroup]:
        """Every group by name; ``name_like`` is a case-insensitive SQL LIKE pattern (``aba%``)."""
        query = select(model_groups).order_by(model_groups.c.name)
        if name_like:
            query = query.where(func.lower(model_groups.c.name).like(name_like.lower()))
        with self._db.read() as conn:
            return rows.groups(conn, conn.execute(query).all())

    # ----------------------------------------------------------------- versions

    @api.get("/model-groups/{group}/versions/{version}")
    @requires(Permission.READ)
    def get_version(self, group: GroupPath, version: int) -> ModelVersion:
        number = check_version_number(version)
        with self._db.read() as conn:
            return rows.versions(conn, [rows.version_row(conn, group, number)])[0]

    @api.get("/model-versions/{version_id}")
    @requires(Permission.READ)
    def get_version_by_id(self, version_id: str) -> ModelVersion:
        with self._db.read() as conn:
            return rows.versions(conn, [rows.version_row_by_id(conn, version_id)])[0]

    @api.get("/model-groups/{group}/aliases/{alias}")
    @requires(Permission.READ)
    def get_version_by_alias(self, group: GroupPath, alias: AliasPath) -> ModelVersion:
        """The version ``alias`` points at.

        Raises:
            NotFound: if the group does not exist or the alias is not set.
        """
        alias = check_alias(alias)
        a = model_aliases.c
        with self._db.read() as conn:
            g = rows.group_row(conn, group)
            query = select(a.version_id).where(a.group_id == g.id, a.alias == alias)
            version_id = conn.execute(query).scalar()
            if version_id is None:
                raise NotFound(f"model group {group!r} has no alias {alias!r}", field="alias")
            return rows.versions(conn, [rows.version_row_by_id(conn, version_id)])[0]

    @api.get("/model-groups/{group}/versions/latest")
    @requires(Permission.READ)
    def get_latest_version(self, group: GroupPath, *, approved: bool = False) -> ModelVersion:
        """The highest version that is not archived (and, with ``approved``, is approved).

        Raises:
            NotFound: if there is none.
        """
        v = model_versions.c
        with self._db.read() as conn:
            g = rows.group_row(conn, group)
            query = rows.versions_query().where(v.group_id == g.id, v.archived.is_(False))
            if approved:
                query = query.where(v.status == ApprovalStatus.APPROVED.value)
            row = conn.execute(query.order_by(v.version.desc()).limit(1)).first()
            if row is None:
                which = "approved version" if approved else "version"
                raise NotFound(f"model group {group!r} has no {which} that is not archived", field="group")
            return rows.versions(conn, [row])[0]

    @api.get("/models/resolve")
    @requires(Permission.READ)
    def resolve(self, uri: Annotated[str | ModelUri, Wire(str, to_wire=str)]) -> ModelVersion:
        """The version a ``models:/`` URI names (``/3``, ``/latest``, ``@prod``, ``@latest-approved``).

        Args:
            uri: e.g. models:/abalone@prod

        Raises:
            InvalidInput: (``field="uri"``) for a malformed URI.
            NotFound: if it names nothing.
        """
        parsed = uri if isinstance(uri, ModelUri) else ModelUri.parse(uri)
        if parsed.selector is Selector.NUMBER:
            assert parsed.version is not None
            return self.get_version(parsed.group, parsed.version)
        if parsed.selector is Selector.ALIAS:
            assert parsed.alias is not None
            return self.get_version_by_alias(parsed.group, parsed.alias)
        return self.get_latest_version(parsed.group, approved=parsed.selector is Selector.LATEST_APPROVED)

    @api.get("/model-groups/{group}/versions")
    @requires(Permission.READ)
    def list_versions(self, group: GroupPath, *, include_archived: bool = True) -> list[ModelVersion]:
        """The group's versions, newest first."""
        return self.search_versions(group, include_archived=include_archived, max_results=MAX_SEARCH_RESULTS)

    @api.post("/model-versions/search", idempotent=True)
    @requires(Permission.READ)
    def search_versions(
        self,
        group: str | None = None,
        *,
        filter: str | None = None,
        status: StatusName | None = None,
        alias: str | None = None,
        tags: Tags | None = None,
        include_archived: bool = False,
        max_results: Annotated[int, Field(ge=1, le=MAX_SEARCH_RESULTS)] = 1000,
    ) -> list[ModelVersion]:
        """Versions matching every condition given, by group name then newest first.

        Args:
            group: only this group's versions.
            filter: comparisons joined by ``and``, e.g. "metrics.mse < 5 and status = 'Approved'"
                (the language is described in :mod:`slipway.registry._filter`).
            status: only versions with this approval status.
            alias: only the version holding this alias.
            tags: only versions with all these tag values.
            include_archived: also archived versions.
            max_results: at most this many (1 to 10,000).
        """
        if (
            isinstance(max_results, bool)
            or not isinstance(max_results, int)
            or not (1 <= max_results <= MAX_SEARCH_RESULTS)
        ):
            raise InvalidInput(f"max_results must be between 1 and {MAX_SEARCH_RESULTS}", field="max_results")
        conditions = search_conditions(
            filter, status=status, alias=alias, tags=check_tags(tags), include_archived=include_archived
        )
        with self._db.read() as conn:
            if group is not None:
                conditions.append(model_versions.c.group_id == rows.group_row(conn, group).id)
            query = (
                rows.versions_query()
                .where(*conditions)
                .order_by(model_groups.c.name, model_versions.c.version.desc())
                .limit(max_results)
            )
            return rows.versions(conn, conn.execute(query).all())

    @api.post("/model-groups/{group}/compare")
    @requires(Permission.READ)
    def compare_versions(self, group: GroupPath, versions: Sequence[int]) -> VersionComparison:
        """Two or more versions side by side: every metric, with its std, and each status.

        Args:
            versions: two or more version numbers

        Raises:
            InvalidInput: for fewer than two distinct versions.
        """
        numbers = list(dict.fromkeys(check_version_number(n, "versions") for n in versions))
        if len(numbers) < 2:
            raise InvalidInput("name at least two different versions to compare", field="versions")
        found = [self.get_version(group, n) for n in numbers]
        names = sorted({name for v in found for name in v.metrics})
        return VersionComparison(
            group=group,
            versions=numbers,
            statuses=[v.status for v in found],
            metrics={name: [v.metrics.get(name) for v in found] for name in names},
        )

    # ----------------------------------------------------------------- history

    @api.get("/model-groups/{group}/versions/{version}/status-history")
    @requires(Permission.READ)
    def status_history(self, group: GroupPath, version: int) -> list[StatusChange]:
        """Every status change of the version, oldest first."""
        number = check_version_number(version)
        with self._db.read() as conn:
            return status_changes(conn, rows.version_row(conn, group, number), group)

    @api.get("/model-groups/{group}/aliases/{alias}/history")
    @requires(Permission.READ)
    def alias_history(self, group: GroupPath, alias: AliasPath) -> list[AliasChange]:
        """Every move of ``alias`` in ``group``, oldest first."""
        alias = check_alias(alias)
        with self._db.read() as conn:
            return alias_changes(conn, rows.group_row(conn, group), alias)

    @api.get("/model-groups/{group}/aliases/{alias}/at")
    @requires(Permission.READ)
    def alias_at(
        self, group: GroupPath, alias: AliasPath, when: Annotated[dt.datetime | int, Wire(int | dt.datetime)]
    ) -> ModelVersion | None:
        """The version ``alias`` pointed at at the moment ``when`` (None if it was not set then).

        Args:
            when: a datetime (naive ones are UTC) or milliseconds since the epoch; over HTTP,
                ms since the epoch, or ISO 8601 (UTC if no zone)

        Example:
            >>> registry.alias_at("abalone", "prod", datetime(2026, 3, 1, tzinfo=UTC)).version
            4
        """
        alias = check_alias(alias)
        at = epoch_ms(when)
        with self._db.read() as conn:
            version_id = holder_at(conn, rows.group_row(conn, group), alias, at)
            return rows.versions(conn, [rows.version_row_by_id(conn, version_id)])[0] if version_id else None

    # ----------------------------------------------------------------- files

    @api.get("/model-versions/{version_id}/files")
    @requires(Permission.READ)
    def list_files(self, version_id: str) -> list[ArtifactInfo]:
        """Every file of a version's package, by path."""
        self.get_version_by_id(version_id)
        return self._artifacts.list(version_owner(version_id), recursive=True)

    @api.get("/model-versions/{version_id}/files/{path:path}")
    @requires(Permission.READ)
    def open_file(self, version_id: str, path: str) -> BinaryIO:
        """Stream one file of a version's package; the caller closes it. Over HTTP it is opened first,
        so a missing file is a 404, not a broken body."""
        self.get_version_by_id(version_id)
        return self._artifacts.open(version_owner(version_id), path)

    @requires(Permission.READ)
    def download_version(self, group: str, version: int, dst: str | Path) -> Path:
        """Copy a version's package into the folder ``dst``; return it."""
        return self._download(self.get_version(group, version).id, "", Path(dst))

    def _download(self, version_id: str, path: str, dst: Path) -> Path:
        return self._artifacts.download(version_owner(version_id), path, dst)

    @requires(Permission.READ)
    def load_model(self, uri: str | ModelUri, *, trusted: bool | Iterable[str] = False) -> LoadedModel:
        """Load the version a URI names, from the local cache or downloaded into it.

        The files are checked against the content hash the version's registration (and approval)
        recorded before anything is loaded; serving and batch transform load through here.

        Args:
            uri: e.g. ``models:/abalone@prod``.
            trusted: passed to ``slipway.models.load_model`` (``True`` for pickle-based flavors);
                a version an admin marked trusted needs none (see :meth:`trust_version`).

        Raises:
            ContentMismatch: if the files are not the ones registered and approved.
            UntrustedModel: if the package holds code nobody vouched for; like every error of the
                load, it names the version (``models:/GROUP/VERSION/model.pkl``), not the cache's
                folder on this machine.
        """
        found = self.resolve(uri)
        folder = verified_package(self._cache_dir, found, lambda dst: self._download(found.id, "", dst))
        try:
            return load_model(folder, trusted=effective_trust(found, trusted))
        except SlipwayError as exc:
            named = naming(exc, folder, found.uri)
            if named is exc:
                raise
            raise named from exc


__all__ = ["MAX_SEARCH_RESULTS", "RegistryReader", "version_owner"]
