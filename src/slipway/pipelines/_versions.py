"""Pipelines and their versions: a changed definition is a new version, and versions can be diffed.

A version is identified by the sha256 of its canonical JSON definition, so registering the same
definition twice returns the existing version. The source of each step's code is stored with the
version (artifact owner ``pipeline_version``, path ``code/<step>``): definitions name code by
hash, and ``explain-cache`` shows what changed in it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from slipway._ids import new_id
from slipway._kinds import ObjectKind
from slipway._principal import current_principal
from slipway._time import ms_to_datetime, now_ms
from slipway.errors import InvalidInput, NotFound
from slipway.events import record_change
from slipway.pipelines._definition import Pipeline, canonical_json
from slipway.pipelines._records import DefinitionChange, DefinitionDiff, PipelineSummary, PipelineVersion
from slipway.pipelines._tables import pipeline_versions, pipelines
from slipway.store import Database
from slipway.store.artifacts import ArtifactStore, Owner

_REGISTER_ATTEMPTS = 3


class _Raced(Exception):
    """Another registration moved the pipeline's version counter first."""


class VersionStore:
    """Pipelines by name and their numbered definitions."""

    def __init__(self, db: Database, artifacts: ArtifactStore) -> None:
        self._db = db
        self._artifacts = artifacts

    def register(self, pipeline: Pipeline) -> PipelineVersion:
        """The version of ``pipeline``'s definition: the existing one, or a new one numbered next."""
        text = canonical_json(pipeline.definition())
        digest = hashlib.sha256(text.encode()).hexdigest()  # pipeline.digest(), without building the definition again
        for _ in range(_REGISTER_ATTEMPTS):
            found = self._by_digest(pipeline.name, digest)
            if found is not None:
                return found
            version_id = new_id()
            for step, code in pipeline.code().items():
                owner = Owner(ObjectKind.PIPELINE_VERSION, version_id)
                self._artifacts.put_bytes(owner, f"code/{step}", code.source.encode())
            try:
                with self._db.write() as conn:
                    self._insert(conn, pipeline, version_id, digest, text)
            except (IntegrityError, _Raced):  # another process registered this pipeline or definition meanwhile
                self._artifacts.delete(Owner(ObjectKind.PIPELINE_VERSION, version_id), "")
                continue
            return self.version_by_id(version_id)
        raise InvalidInput(f"pipeline {pipeline.name!r} kept changing while it was registered; try again")

    def _insert(self, conn: Connection, pipeline: Pipeline, version_id: str, digest: str, text: str) -> None:
        now = now_ms()
        who = current_principal().name
        p = pipelines.c
        row = conn.execute(select(p.id, p.latest_version).where(p.name == pipeline.name)).first()
        if row is None:
            pipeline_id, number = new_id(), 1
            conn.execute(
                insert(pipelines).values(
                    id=pipeline_id,
                    name=pipeline.name,
                    description=pipeline.description,
                    latest_version=1,
                    created_by=who,
                    created_at=now,
                    updated_at=now,
                )
            )
            record_change(
                conn,
                action="pipeline.create",
                object_kind=ObjectKind.PIPELINE,
                object_id=pipeline_id,
                details={"name": pipeline.name},
            )
        else:
            pipeline_id, number = row.id, row.latest_version + 1
            changed = conn.execute(
                update(pipelines)
                .where(p.id == pipeline_id, p.latest_version == row.latest_version)
                .values(latest_version=number, description=pipeline.description, updated_at=now)
            )
            if changed.rowcount != 1:
                raise _Raced
        conn.execute(
            insert(pipeline_versions).values(
                id=version_id,
                pipeline_id=pipeline_id,
                version=number,
                digest=digest,
                definition=text,
                created_by=who,
                created_at=now,
            )
        )
        record_change(
            conn,
            action="pipeline_version.create",
            object_kind=ObjectKind.PIPELINE_VERSION,
            object_id=version_id,
            details={"pipeline": pipeline.name, "version": number, "digest": digest},
        )

    # -- reading -------------------------------------------------------------------------------------

    def _by_digest(self, name: str, digest: str) -> PipelineVersion | None:
        with self._db.read() as conn:
            row = conn.execute(
                _versions().where(pipelines.c.name == name, pipeline_versions.c.digest == digest)
            ).first()
        return None if row is None else _version(row)

    def version_by_id(self, version_id: str) -> PipelineVersion:
        with self._db.read() as conn:
            row = conn.execute(_versions().where(pipeline_versions.c.id == version_id)).first()
        if row is None:
            raise NotFound(f"pipeline version {version_id!r} does not exist", field="version_id")
        return _version(row)

    def get_version(self, name: str, version: int | None = None) -> PipelineVersion:
        """Version ``version`` of the pipeline ``name``, or its newest.

        Raises:
            NotFound: naming the pipeline or the version.
        """
        summary = self.get_pipeline(name)
        number = summary.latest_version if version is None else version
        with self._db.read() as conn:
            row = conn.execute(
                _versions().where(pipelines.c.name == name, pipeline_versions.c.version == number)
            ).first()
        if row is None:
            raise NotFound(
                f"pipeline {name!r} has no version {number} (its newest is {summary.latest_version})", field="version"
            )
        return _version(row)

    def get_pipeline(self, name: str) -> PipelineSummary:
        with self._db.read() as conn:
            row = conn.execute(select(pipelines).where(pipelines.c.name == name)).first()
        if row is None:
            raise NotFound(f"pipeline {name!r} does not exist", field="pipeline")
        return _summary(row)

    def list_pipelines(self) -> list[PipelineSummary]:
        with self._db.read() as conn:
            rows = conn.execute(select(pipelines).order_by(pipelines.c.name)).all()
        return [_summary(r) for r in rows]

    def list_versions(self, name: str) -> list[PipelineVersion]:
        self.get_pipeline(name)
        with self._db.read() as conn:
            rows = conn.execute(_versions().where(pipelines.c.name == name).order_by(pipeline_versions.c.version)).all()
        return [_version(r) for r in rows]

    def code_source(self, version_id: str, step: str) -> str | None:
        """The source of a step's code as stored with a version (None for built-in step types)."""
        try:
            return self._artifacts.read_bytes(Owner(ObjectKind.PIPELINE_VERSION, version_id), f"code/{step}").decode()
        except NotFound:
            return None

    def diff(self, name: str, from_version: int, to_version: int) -> DefinitionDiff:
        """What changed between two versions: parameters and steps by name, fields by path."""
        before = self.get_version(name, from_version).definition
        after = self.get_version(name, to_version).definition
        changes: list[DefinitionChange] = []
        _diff_value(_keyed(before), _keyed(after), "", changes)
        return DefinitionDiff(pipeline=name, from_version=from_version, to_version=to_version, changes=changes)


def _keyed(definition: Mapping[str, Any]) -> dict[str, Any]:
    """A definition with its parameter and step lists keyed by name, so they diff by name, not position."""
    out = dict(definition)
    out["parameters"] = {p["name"]: p for p in definition.get("parameters", ())}
    out["steps"] = {s["name"]: s for s in definition.get("steps", ())}
    return out


def _diff_value(before: Any, after: Any, path: str, out: list[DefinitionChange]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in [*before, *(k for k in after if k not in before)]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in after:
                out.append(DefinitionChange(path=sub, change="removed", before=before[key]))
            elif key not in before:
                out.append(DefinitionChange(path=sub, change="added", after=after[key]))
            else:
                _diff_value(before[key], after[key], sub, out)
    elif before != after:
        out.append(DefinitionChange(path=path, change="changed", before=before, after=after))


def _versions() -> Any:
    return select(pipeline_versions, pipelines.c.name.label("pipeline_name")).join(
        pipelines, pipelines.c.id == pipeline_versions.c.pipeline_id
    )


def _version(row: Row[Any]) -> PipelineVersion:
    return PipelineVersion(
        id=row.id,
        pipeline=row.pipeline_name,
        version=row.version,
        digest=row.digest,
        definition=json.loads(row.definition),
        created_by=row.created_by,
        created_at=ms_to_datetime(row.created_at),
    )


def _summary(row: Row[Any]) -> PipelineSummary:
    return PipelineSummary(
        id=row.id,
        name=row.name,
        description=row.description,
        latest_version=row.latest_version,
        created_by=row.created_by,
        created_at=ms_to_datetime(row.created_at),
        updated_at=ms_to_datetime(row.updated_at),
    )
