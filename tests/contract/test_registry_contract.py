"""The registry contract: identical assertions for the embedded and the remote SDK.

Each test runs twice through the ``client`` fixture (see conftest.py): against the local store,
and over HTTP against a real server shared by the session, so every test works in model groups
of its own. Whatever one mode does, the other must do too: the same records, the same
exceptions naming the same fields. Who acts differs (the local user, or the server's anonymous
principal), so tests compare principals with each other, never with a name.
"""

from __future__ import annotations

import datetime as dt
import inspect
import io
import uuid
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from slipway import Client, Conflict, InvalidInput, NotFound
from slipway.client._registry import RemoteRegistry
from slipway.models import save_model
from slipway.registry import ApprovalStatus, MetricValue, RegistryService

X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 2.0]])


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def model() -> LinearRegression:
    return LinearRegression().fit(X, X @ [2.0, -1.0] + 0.5)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory, model: LinearRegression) -> Path:
    folder = tmp_path_factory.mktemp("package") / "line"
    save_model(model, folder, input_example=X)
    return folder


@pytest.fixture
def group(client: Client, package: Path) -> str:
    """A fresh group with three versions."""
    name = unique("g")
    for n in range(3):
        client.registry.register_model(name, package, metrics={"mse": 5.0 - n}, tags={"n": str(n)})
    return name


def test_the_remote_registry_has_the_services_methods_and_signatures() -> None:
    public = {n for n, f in inspect.getmembers(RegistryService, inspect.isfunction) if not n.startswith("_")}
    for name in sorted(public):
        remote, embedded = (inspect.signature(getattr(cls, name)) for cls in (RemoteRegistry, RegistryService))
        assert remote == embedded, name


def test_register_and_read_back(client: Client, package: Path) -> None:
    r = client.registry
    name = unique("reg")
    created = r.create_group(name, "the first", {"team": "fish"})
    v = r.register_model(
        name,
        package,
        metrics={"mse": 4.0, "r2": MetricValue(value=0.8, std=0.05), "mae": {"value": 1.0}},
        description="line",
        metadata={"features": ["a", "b"]},
        tags={"n": 1},  # type: ignore[dict-item]
    )
    assert (v.group, v.version, v.flavor, v.status) == (name, 1, "sklearn", ApprovalStatus.PENDING)
    assert v.metrics == {
        "mse": MetricValue(value=4.0),
        "r2": MetricValue(value=0.8, std=0.05),
        "mae": MetricValue(value=1.0),
    }
    assert (v.metadata, v.tags, v.description) == ({"features": ["a", "b"]}, {"n": "1"}, "line")
    assert v.registered_by == v.updated_by
    assert r.get_version(name, 1) == v == r.get_version_by_id(v.id) == r.resolve(v.uri)
    assert r.register_model(name, package).version == 2
    group = r.get_group(name)
    assert (group.id, group.latest_version, group.tags) == (created.id, 2, {"team": "fish"})
    assert name in [g.name for g in r.list_groups(name_like=f"{name[:6]}%")]
    assert r.update_group(name, description="renamed", tags={"k": "v"}).tags == {"team": "fish", "k": "v"}
    assert r.update_version(name, 1, description="better", tags={"m": "x"}).tags == {"n": "1", "m": "x"}
    with pytest.raises(Conflict):
        r.create_group(name)


def test_registering_a_model_object_and_loading_it_by_uri(client: Client, model: LinearRegression) -> None:
    r = client.registry
    name = unique("load")
    run = client.tracking.create_run(name="train")
    v = r.register_model(name, model, input_example=X, source_run_id=run.id, model_card="# Line")
    assert (v.source_kind, v.source_id, v.signature is not None) == ("run", run.id, True)
    r.approve(name, 1, comment="ok")
    r.set_alias(name, "prod", 1)
    for uri in (
        f"models:/{name}@prod",
        f"models:/{name}/1",
        f"models:/{name}/latest",
        f"models:/{name}@latest-approved",
    ):
        loaded = r.load_model(uri)
        np.testing.assert_array_equal(np.asarray(loaded.predict(X)), model.predict(X))
    assert loaded.model_card is not None


def test_bad_registrations_fail_alike(client: Client, package: Path) -> None:
    r = client.registry
    cases = [
        ({"metrics": {"mse": float("nan")}}, InvalidInput, "metrics.mse"),
        ({"metrics": {"mse": "low"}}, InvalidInput, "metrics.mse"),
        ({"metrics": {"mse": {"value": 1.0, "std": float("inf")}}}, InvalidInput, "metrics.mse.std"),
        ({"metadata": {"x": float("nan")}}, InvalidInput, "metadata"),
        ({"source_run_id": "0" * 26}, NotFound, "source_run_id"),
    ]
    name = unique("bad")
    for kwargs, error, field in cases:
        with pytest.raises(error) as exc:
            r.register_model(name, package, **kwargs)  # type: ignore[arg-type]
        assert exc.value.field == field, kwargs
    with pytest.raises(InvalidInput) as exc:
        r.register_model("no/slash", package)
    assert exc.value.field == "group"


def test_status_changes_and_history(client: Client, group: str) -> None:
    r = client.registry
    approved = r.approve(group, 1, comment="beats baseline")
    assert approved.status is ApprovalStatus.APPROVED
    r.update_status(group, 1, "rejected", comment="leak")
    history = r.status_history(group, 1)
    assert [(h.from_status, h.to_status, h.comment) for h in history] == [
        (ApprovalStatus.PENDING, ApprovalStatus.APPROVED, "beats baseline"),
        (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED, "leak"),
    ]
    assert history[0].changed_by == approved.updated_by
    with pytest.raises(Conflict, match="not PendingManualApproval") as exc:
        r.update_status(group, 1, "Approved", expected_status="PendingManualApproval")
    assert exc.value.field == "status"
    with pytest.raises(InvalidInput) as exc:
        r.update_status(group, 1, "shipped")
    assert exc.value.field == "status"


def test_aliases_history_and_alias_at(client: Client, group: str) -> None:
    r = client.registry
    with pytest.raises(Conflict, match="only at Approved versions"):
        r.set_alias(group, "prod", 1)  # a protected alias
    r.approve(group, 1)
    r.approve(group, 2)
    r.set_alias(group, "prod", 1)
    moved = r.set_alias(group, "prod", 2, comment="v2")
    assert moved.aliases == ["prod"] and r.get_version(group, 1).aliases == []
    assert r.get_version_by_alias(group, "prod").version == 2
    assert r.get_group(group).aliases == {"prod": 2}
    r.remove_alias(group, "prod", comment="incident")
    history = r.alias_history(group, "prod")
    assert [(h.version, h.previous_version, h.comment) for h in history] == [
        (1, None, None),
        (2, 1, "v2"),
        (None, 2, "incident"),
    ]
    assert r.alias_at(group, "prod", history[0].changed_at - dt.timedelta(milliseconds=1)) is None
    assert r.alias_at(group, "prod", dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)) is None
    last_set = int(history[1].changed_at.timestamp() * 1000)
    if history[2].changed_at > history[1].changed_at:
        assert r.alias_at(group, "prod", last_set).version == 2  # type: ignore[union-attr]
    with pytest.raises(NotFound) as exc:
        r.get_version_by_alias(group, "prod")
    assert exc.value.field == "alias"
    with pytest.raises(InvalidInput) as exc:
        r.set_alias(group, "Prod", 1)
    assert exc.value.field == "alias"


def test_uris_and_latest(client: Client, group: str) -> None:
    r = client.registry
    r.approve(group, 2)
    assert r.resolve(f"models:/{group}@latest-approved").version == 2
    assert r.get_latest_version(group).version == 3
    assert r.get_latest_version(group, approved=True).version == 2
    r.archive_version(group, 3)
    assert r.resolve(f"models:/{group}/latest").version == 2
    assert [v.version for v in r.list_versions(group)] == [3, 2, 1]
    assert [v.version for v in r.list_versions(group, include_archived=False)] == [2, 1]
    assert r.unarchive_version(group, 3).archived is False
    with pytest.raises(InvalidInput) as exc:
        r.resolve(f"models:/{group}/v3")
    assert exc.value.field == "uri"
    with pytest.raises(NotFound):
        r.resolve(f"models:/{group}/99")
    with pytest.raises(NotFound) as exc:
        r.get_group(unique("missing"))
    assert exc.value.field == "group"


def test_archiving_an_aliased_version_is_a_conflict(client: Client, group: str) -> None:
    client.registry.set_alias(group, "staging", 1)
    with pytest.raises(Conflict, match="holds the alias"):
        client.registry.archive_version(group, 1)


def test_search_and_compare(client: Client, group: str) -> None:
    r = client.registry
    r.approve(group, 3)
    assert [v.version for v in r.search_versions(group, filter="metrics.mse < 4.5")] == [3, 2]
    assert [v.version for v in r.search_versions(group, status="Approved")] == [3]
    assert [v.version for v in r.search_versions(group, tags={"n": "0"})] == [1]
    assert [v.version for v in r.search_versions(group, filter="version >= 2", max_results=1)] == [3]
    with pytest.raises(InvalidInput) as exc:
        r.search_versions(group, filter="colour = 'red'")
    assert exc.value.field == "filter"
    with pytest.raises(InvalidInput) as exc:
        r.search_versions(group, max_results=0)
    assert exc.value.field == "max_results"
    comparison = r.compare_versions(group, [1, 3])
    assert comparison.metrics == {"mse": [MetricValue(value=5.0), MetricValue(value=3.0)]}
    assert comparison.statuses == [ApprovalStatus.PENDING, ApprovalStatus.APPROVED]
    with pytest.raises(InvalidInput) as exc:
        r.compare_versions(group, [1])
    assert exc.value.field == "versions"


def test_files_download_and_immutability(client: Client, group: str, package: Path, tmp_path: Path) -> None:
    r = client.registry
    v = r.get_version(group, 1)
    expected = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    assert {f.path for f in r.list_files(v.id)} == expected
    out = r.download_version(group, 1, tmp_path / "out")
    for path in expected:
        assert (out / path).read_bytes() == (package / path).read_bytes()
    with r.open_file(v.id, "slipway-model.json") as fh:
        assert b'"flavor"' in fh.read()
    with pytest.raises(NotFound):
        r.open_file(v.id, "nope.bin")
    with pytest.raises(Conflict, match="cannot change"):
        r.stage_file(v.id, "extra.txt", io.BytesIO(b"x"))
    with pytest.raises(InvalidInput) as exc:
        r.create_version(group, "0" * 26)
    assert exc.value.field == "version_id"
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InvalidInput) as exc:
        r.download_version(group, 1, tmp_path / "a-file")
    assert exc.value.field == "dst"


def test_tags_of_groups_and_versions_can_be_deleted(client: Client, package: Path) -> None:
    r = client.registry
    name = unique("tags")
    r.create_group(name, tags={"team": "ads", "tier/1": "x"})
    v = r.register_model(name, package, tags={"n": "1", "keep": "y"})
    assert r.delete_group_tag(name, "tier/1").tags == {"team": "ads"}
    assert r.delete_version_tag(name, v.version, "n").tags == {"keep": "y"}
    with pytest.raises(NotFound, match="no tag 'n'"):
        r.delete_version_tag(name, v.version, "n")
    with pytest.raises(NotFound):
        r.delete_group_tag(name, "missing")
