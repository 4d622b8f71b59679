"""Renaming and deleting groups and versions, on SQLite and PostgreSQL: what goes, what stays, who may."""

from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import select

from slipway._principal import Principal, acting_as
from slipway.errors import AlreadyExists, Conflict, NotFound, PermissionDenied
from slipway.events._tables import audit_events, events
from slipway.registry import RegistryService
from slipway.store import Database
from slipway.store.artifacts import ArtifactStore, LocalStorage


def _changes(db: Database, prefix: str) -> tuple[list[str], list[str]]:
    """The event types and audit actions written so far that start with ``prefix``."""
    with db.read() as conn:
        published = conn.execute(select(events.c.type).where(events.c.type.like(f"{prefix}%")).order_by(events.c.seq))
        audited = conn.execute(
            select(audit_events.c.action).where(audit_events.c.action.like(f"{prefix}%")).order_by(audit_events.c.seq)
        )
        return list(published.scalars()), list(audited.scalars())


def test_a_renamed_group_keeps_its_versions_and_aliases(registry: RegistryService, package: Path, db: Database) -> None:
    v1 = registry.register_model("old", package)
    registry.set_alias("old", "staging", 1)
    registry.create_group("taken")
    with pytest.raises(AlreadyExists) as taken:
        registry.rename_group("old", "taken")
    assert taken.value.field == "new_name"
    renamed = registry.rename_group("old", "new")
    assert renamed.name == "new" and renamed.aliases == {"staging": 1}
    assert registry.get_version("new", 1).id == v1.id
    assert registry.resolve("models:/new@staging").id == v1.id
    with pytest.raises(NotFound):
        registry.get_group("old")
    assert registry.register_model("new", package).version == 2  # numbering goes on
    assert _changes(db, "model_group.rename") == (["model_group.renamed"], ["model_group.rename"])


def test_deleting_a_version_takes_its_aliases_and_files_and_never_reuses_its_number(
    registry: RegistryService, package: Path, db: Database
) -> None:
    registry.register_model("g", package)
    v2 = registry.register_model("g", package, tags={"k": "v"}, metrics={"mse": 1.0})
    registry.set_alias("g", "staging", 2)
    assert registry.list_files(v2.id)
    registry.delete_version("g", 2)
    with pytest.raises(NotFound):
        registry.get_version("g", 2)
    with pytest.raises(NotFound):
        registry.get_version_by_alias("g", "staging")
    assert len(registry.alias_history("g", "staging")) == 2  # the removal is kept
    assert registry._artifacts.list(("model_version", v2.id), recursive=True) == []  # released to GC
    assert registry.register_model("g", package).version == 3
    assert registry.get_latest_version("g").version == 3
    published, audited = _changes(db, "model_version.delete")
    assert (published, audited) == (["model_version.deleted"], ["model_version.delete"])


def test_deleting_a_group_deletes_every_version_and_frees_the_name(
    registry: RegistryService, package: Path, db: Database
) -> None:
    registry.register_model("g", package)
    registry.register_model("g", package)
    registry.update_group("g", tags={"team": "ads"})
    registry.delete_group("g")
    with pytest.raises(NotFound):
        registry.get_group("g")
    assert registry.search_versions(include_archived=True) == []
    assert _changes(db, "model_group.delete") == (["model_group.deleted"], ["model_group.delete"])
    assert _changes(db, "model_version.delete")[0] == ["model_version.deleted"] * 2
    again = registry.register_model("g", package)  # the name is free; the new group starts at 1
    assert again.version == 1 and registry.get_group("g").tags == {}


def test_nothing_in_use_is_deleted(db: Database, package: Path, tmp_path: Path) -> None:
    from slipway.tracking import TrackingService

    served: set[str] = set()

    def in_use(version_ids: Sequence[str]) -> dict[str, list[str]]:
        return {v: ["endpoint 'front'"] for v in version_ids if v in served}

    artifacts = ArtifactStore(db, LocalStorage(tmp_path / "artifacts"))
    registry = RegistryService(db, artifacts, TrackingService(db, artifacts), cache_dir=tmp_path / "c", in_use=in_use)
    registry.register_model("g", package)
    served.add(registry.register_model("g", package).id)
    with pytest.raises(Conflict, match="g version 2 is served by endpoint 'front'") as refused:
        registry.delete_group("g")
    assert refused.value.details == {"version": 2, "used_by": ["endpoint 'front'"]}
    with pytest.raises(Conflict, match="endpoint 'front'"):
        registry.delete_version("g", 2)
    registry.delete_version("g", 1)  # not served
    assert [v.version for v in registry.list_versions("g")] == [2]


def test_undoing_an_approval_needs_an_approver(registry: RegistryService, package: Path) -> None:
    registry.register_model("g", package)
    registry.register_model("g", package)
    registry.approve("g", 1)
    registry.set_alias("g", "prod", 1)
    with acting_as(Principal("sam", roles=frozenset({"scientist"}))):
        registry.delete_version("g", 2)  # pending: the scientist's to delete
        with pytest.raises(PermissionDenied, match="delete the Approved version g/1"):
            registry.delete_version("g", 1)
        with pytest.raises(PermissionDenied):
            registry.delete_group("g")
        registry.rename_group("g", "h")  # renaming changes no decision
    with acting_as(Principal("alex", roles=frozenset({"scientist", "approver"}))):
        registry.delete_group("h")
