"""Groups and versions on SQLite and PostgreSQL: numbering, fetching, search, compare, files, lineage."""

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from slipway.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from slipway.events._tables import audit_events, events
from slipway.lineage import LineageService, NodeRef, record_edges
from slipway.registry import ApprovalStatus, MetricValue, RegistryService
from slipway.store import Database
from slipway.tracking import TrackingService


def test_versions_are_numbered_per_group_and_the_group_is_created(registry: RegistryService, package: Path) -> None:
    numbers = [registry.register_model("a", package).version for _ in range(3)]
    assert numbers == [1, 2, 3]
    assert registry.register_model("b", package).version == 1
    group = registry.get_group("a")
    assert group.latest_version == 3
    assert [g.name for g in registry.list_groups()] == ["a", "b"]
    assert [g.name for g in registry.list_groups(name_like="A%")] == ["a"]


def test_a_version_holds_what_it_was_registered_with(registry: RegistryService, package: Path) -> None:
    v = registry.register_model(
        "abalone",
        package,
        metrics={"mse": 4.5, "r2": MetricValue(value=0.5, std=0.02), "mae": {"value": 1.5}},
        description="ridge, alpha 0.5",
        metadata={"features": ["length", "height"], "n": 3},
        tags={"team": "shellfish"},
    )
    assert v.uri == "models:/abalone/1"
    assert v.flavor == "sklearn"
    assert v.signature is not None and v.signature["inputs"]
    assert v.metrics == {
        "mae": MetricValue(value=1.5),
        "mse": MetricValue(value=4.5),
        "r2": MetricValue(value=0.5, std=0.02),
    }
    assert v.metadata == {"features": ["length", "height"], "n": 3}
    assert v.tags == {"team": "shellfish"}
    assert v.status is ApprovalStatus.PENDING
    assert (v.archived, v.aliases, v.source_kind) == (False, [], None)
    assert v.registered_by == v.updated_by
    assert registry.get_version_by_id(v.id) == v == registry.get_version("abalone", 1)


def test_creating_a_group_twice_is_a_conflict(registry: RegistryService) -> None:
    registry.create_group("g", description="first", tags={"k": "v"})
    with pytest.raises(AlreadyExists):
        registry.create_group("g")
    updated = registry.update_group("g", description="second", tags={"k2": "v2"})
    assert (updated.description, updated.tags) == ("second", {"k": "v", "k2": "v2"})


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"metrics": {"mse": float("nan")}}, "metrics.mse"),
        ({"metrics": {"mse": "low"}}, "metrics.mse"),
        ({"metrics": {"mse": {"value": 1.0, "std": -1.0}}}, "metrics.mse.std"),
        ({"metrics": {"bad\nname": 1.0}}, "metric.key"),
        ({"metadata": {"x": object()}}, "metadata"),
        ({"metadata": ["not", "a", "mapping"]}, "metadata"),
        ({"source_run_id": "nope"}, "source_run_id"),
        ({"source_run_id": "a", "source_step_execution_id": "b"}, "source_run_id"),
        ({"flavor": "sklearn"}, "flavor"),  # the folder is already a package
    ],
)
def test_bad_registrations_name_the_field_and_store_nothing(
    registry: RegistryService, package: Path, kwargs: dict, field: str
) -> None:
    with pytest.raises((InvalidInput, NotFound)) as exc:
        registry.register_model("g", package, **kwargs)
    assert exc.value.field == field
    with pytest.raises(NotFound):
        registry.get_version("g", 1)


def test_a_folder_that_is_not_a_package_is_refused(registry: RegistryService, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput, match="not a Slipway model package"):
        registry.register_model("g", tmp_path / "empty")


def test_fetch_by_number_alias_latest_and_latest_approved(registry: RegistryService, package: Path) -> None:
    for _ in range(4):
        registry.register_model("g", package)
    with pytest.raises(NotFound, match="no approved version"):
        registry.resolve("models:/g@latest-approved")
    registry.approve("g", 2)
    registry.approve("g", 3)
    registry.set_alias("g", "prod", 2)
    assert registry.resolve("models:/g/1").version == 1
    assert registry.resolve("models:/g/latest").version == 4
    assert registry.resolve("models:/g@latest-approved").version == 3
    assert registry.resolve("models:/g@prod").version == 2
    with pytest.raises(NotFound, match="no alias 'staging'"):
        registry.resolve("models:/g@staging")
    with pytest.raises(NotFound, match="no version 9"):
        registry.resolve("models:/g/9")
    with pytest.raises(NotFound, match="model group 'nope' does not exist"):
        registry.resolve("models:/nope/1")


def test_archived_versions_are_hidden_from_latest_but_kept(registry: RegistryService, package: Path) -> None:
    for _ in range(3):
        registry.register_model("g", package)
    registry.approve("g", 2)
    registry.approve("g", 3)
    archived = registry.archive_version("g", 3)
    assert archived.archived
    assert registry.resolve("models:/g/latest").version == 2
    assert registry.resolve("models:/g@latest-approved").version == 2
    assert registry.get_version("g", 3).archived  # still fetchable by number
    assert [v.version for v in registry.list_versions("g")] == [3, 2, 1]
    assert [v.version for v in registry.list_versions("g", include_archived=False)] == [2, 1]
    assert registry.unarchive_version("g", 3).archived is False
    assert registry.resolve("models:/g/latest").version == 3


def test_a_version_holding_an_alias_cannot_be_archived(registry: RegistryService, package: Path) -> None:
    registry.register_model("g", package)
    registry.set_alias("g", "staging", 1)
    with pytest.raises(Conflict, match="holds the alias"):
        registry.archive_version("g", 1)


def test_search_by_filter_and_structured_arguments(registry: RegistryService, package: Path) -> None:
    for mse, team in [(6.0, "a"), (4.0, "b"), (3.0, "a"), (2.0, "a")]:
        registry.register_model("g", package, metrics={"mse": mse, "val loss": mse / 10}, tags={"team": team})
    registry.register_model("other", package, metrics={"mse": 1.0}, tags={"team": "a"})
    registry.approve("g", 3)
    registry.set_alias("g", "prod", 3)
    registry.archive_version("g", 4)

    def found(**kwargs: object) -> list[tuple[str, int]]:
        return [(v.group, v.version) for v in registry.search_versions(**kwargs)]

    assert found(filter="metrics.mse < 5") == [("g", 3), ("g", 2), ("other", 1)]
    assert found(group="g", filter="metrics.mse < 5 and tags.team = 'a'") == [("g", 3)]
    assert found(filter="metrics.`val loss` >= 0.4 AND version > 1") == [("g", 2)]
    assert found(filter="status = 'approved'") == found(status="Approved") == [("g", 3)]
    assert found(filter="alias = 'prod'") == found(alias="prod") == [("g", 3)]
    assert found(tags={"team": "b"}) == [("g", 2)]
    assert found(group="g", filter="flavor = 'sklearn' and archived = false") == [("g", 3), ("g", 2), ("g", 1)]
    assert found(group="g", include_archived=True, filter="metrics.mse < 2.5") == [("g", 4)]
    assert found(group="g", max_results=1) == [("g", 3)]


@pytest.mark.parametrize(
    "bad",
    [
        "metrics.mse <",
        "metrics.mse < 'x'",
        "tags.t > 'a'",
        "colour = 'red'",
        "status = 'maybe'",
        "metrics.mse < 1 or version = 2",
        "version = 1 and",
        "archived = 'yes'",
    ],
)
def test_bad_filters_are_refused(registry: RegistryService, bad: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        registry.search_versions(filter=bad)
    assert exc.value.field in ("filter", "status")


def test_compare_lines_up_metrics_with_their_spread(registry: RegistryService, package: Path) -> None:
    registry.register_model("g", package, metrics={"mse": {"value": 4.0, "std": 0.3}, "r2": 0.8})
    registry.register_model("g", package, metrics={"mse": {"value": 3.9, "std": 0.3}})
    registry.approve("g", 1)
    comparison = registry.compare_versions("g", [2, 1])
    assert comparison.versions == [2, 1]
    assert comparison.statuses == [ApprovalStatus.PENDING, ApprovalStatus.APPROVED]
    assert comparison.metrics == {
        "mse": [MetricValue(value=3.9, std=0.3), MetricValue(value=4.0, std=0.3)],
        "r2": [None, MetricValue(value=0.8)],
    }
    with pytest.raises(InvalidInput, match="at least two"):
        registry.compare_versions("g", [1, 1])


def test_update_version_description_and_tags(registry: RegistryService, package: Path) -> None:
    registry.register_model("g", package, tags={"a": "1"})
    v = registry.update_version("g", 1, description="better", tags={"b": "2"})
    assert (v.description, v.tags) == ("better", {"a": "1", "b": "2"})


def test_files_are_listed_and_downloaded_as_registered(
    registry: RegistryService, package: Path, tmp_path: Path
) -> None:
    v = registry.register_model("g", package)
    stored = {f.path for f in registry.list_files(v.id)}
    assert stored == {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    out = registry.download_version("g", 1, tmp_path / "out")
    for path in stored:
        assert (out / path).read_bytes() == (package / path).read_bytes()
    with registry.open_file(v.id, "slipway-model.json") as fh:
        assert json.load(fh)["flavor"] == "sklearn"


def test_files_of_a_registered_version_cannot_change(registry: RegistryService, package: Path) -> None:
    v = registry.register_model("g", package)
    with pytest.raises(Conflict, match="cannot change"):
        registry.stage_file(v.id, "extra.txt", io.BytesIO(b"x"))
    with pytest.raises(InvalidInput, match="not a model version id"):
        registry.stage_file("../../etc", "x", io.BytesIO(b"x"))
    with pytest.raises(InvalidInput, match="no model package is stored"):
        registry.create_version("g", "0" * 26)


def test_every_change_writes_its_event_and_audit_entry(registry: RegistryService, package: Path, db: Database) -> None:
    v1 = registry.register_model("g", package)
    registry.register_model("g", package)
    registry.approve("g", 1, comment="ok")
    registry.set_alias("g", "staging", 1)
    registry.set_alias("g", "staging", 2)
    registry.remove_alias("g", "staging")
    registry.archive_version("g", 1)
    with db.read() as conn:
        found = [
            (r.type, r.object_id, json.loads(r.payload))
            for r in conn.execute(select(events).where(events.c.type.like("model_%")).order_by(events.c.seq))
        ]
        audited = [
            r.action
            for r in conn.execute(
                select(audit_events).where(audit_events.c.action.like("model_%")).order_by(audit_events.c.seq)
            )
        ]
    assert [t for t, _, _ in found] == [
        "model_group.created",
        "model_version.registered",
        "model_version.registered",
        "model_version.status_changed",
        "model_version.alias_moved",
        "model_version.alias_moved",
        "model_version.alias_moved",
        "model_version.archived",
    ]
    assert found[3][1:] == (
        v1.id,
        {"group": "g", "version": 1, "from": "PendingManualApproval", "to": "Approved", "comment": "ok",
         "content_hash": v1.content_hash},
    )
    assert [p["version"] for t, _, p in found if t == "model_version.alias_moved"] == [1, 2, None]
    assert [p["previous_version"] for t, _, p in found if t == "model_version.alias_moved"] == [None, 1, 2]
    assert audited == [
        "model_group.create",
        "model_version.register",
        "model_version.register",
        "model_version.status",
        "model_version.alias",
        "model_version.alias",
        "model_version.alias",
        "model_version.archive",
    ]


def test_lineage_links_version_to_run_and_the_runs_datasets(
    registry: RegistryService, tracking: TrackingService, package: Path, db: Database
) -> None:
    run = tracking.create_run(name="train")
    with db.write() as conn:  # what the datasets domain records when a run reads a dataset
        record_edges(conn, [(NodeRef("dataset_version", "ds1", "abalone@1"), NodeRef("run", run.id), "consumed")])
    v = registry.register_model("abalone", package, source_run_id=run.id)
    assert (v.source_kind, v.source_id) == ("run", run.id)
    up = LineageService(db).upstream("model_version", v.id, depth=2)
    group_id = registry.get_group("abalone").id
    assert {n.key for n in up.nodes} >= {("run", run.id), ("dataset_version", "ds1"), ("model_group", group_id)}
    assert any(e.src == ("run", run.id) and e.relation == "registered_as" for e in up.edges)
    step = registry.register_model("abalone", package, source_step_execution_id="step-1")
    up = LineageService(db).upstream("model_version", step.id, depth=1)
    assert ("step_execution", "step-1") in {n.key for n in up.nodes}
