"""The MLflow compatibility service over SQLite and PostgreSQL: logged models, run links, files, registering."""

from __future__ import annotations

import inspect
import io
from pathlib import Path

import pytest

from slipway._principal import Principal, acting_as
from slipway.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from slipway.lineage import LineageService
from slipway.mlflow_compat import Area, LinkKind, Location, LoggedModelStatus, MlflowCompatService, parse_location
from slipway.registry import ApprovalStatus, RegistryService
from slipway.security._permissions import PERMISSION_ATTRIBUTE
from slipway.store import Database
from slipway.store.artifacts import ArtifactStore, LocalStorage
from slipway.tracking import TrackingService


@pytest.fixture
def compat(db: Database, tmp_path: Path) -> MlflowCompatService:
    artifacts = ArtifactStore(db, LocalStorage(tmp_path / "artifacts"))
    tracking = TrackingService(db, artifacts)
    registry = RegistryService(db, artifacts, tracking, cache_dir=tmp_path / "cache")
    return MlflowCompatService(db, artifacts, tracking, registry)


@pytest.fixture
def run_id(compat: MlflowCompatService) -> str:
    return compat._tracking.create_run(name="fit").id


def test_every_public_method_declares_a_permission() -> None:
    unchecked = [
        name for name, member in inspect.getmembers(MlflowCompatService, inspect.isfunction)
        if not name.startswith("_") and not hasattr(member, PERMISSION_ATTRIBUTE)
    ]
    assert not unchecked


def test_a_viewer_may_read_but_not_log(compat: MlflowCompatService, run_id: str) -> None:
    experiment = compat._tracking.get_run(run_id).experiment_id
    with acting_as(Principal("vic", frozenset({"viewer"}))):
        with pytest.raises(PermissionDenied):
            compat.create_logged_model(experiment, "model")
        with pytest.raises(PermissionDenied):
            compat.put_file(Location(Area.RUN, run_id, "a.txt"), io.BytesIO(b"x"))
        assert compat.run_links([run_id]) == {}


def test_logged_model_lifecycle(compat: MlflowCompatService, run_id: str) -> None:
    experiment = compat._tracking.get_run(run_id).experiment_id
    model = compat.create_logged_model(
        experiment, "model", source_run_id=run_id, model_type="sklearn", params={"alpha": "0.1"}, tags={"a": "1"}
    )
    assert model.id.startswith("m-") and model.status is LoggedModelStatus.PENDING
    compat.set_logged_model_tags(model.id, {"b": "2"})
    compat.delete_logged_model_tag(model.id, "a")
    compat.log_logged_model_params(model.id, {"epochs": "3"})
    done = compat.finalize_logged_model(model.id, "LOGGED_MODEL_READY")
    assert done.status is LoggedModelStatus.READY
    assert done.tags == {"b": "2"} and done.params == {"alpha": "0.1", "epochs": "3"}
    found, more = compat.search_logged_models([experiment], name="model", source_run_id=run_id)
    assert [m.id for m in found] == [model.id] and not more
    assert compat.search_logged_models([experiment], name="other")[0] == []
    with pytest.raises(NotFound):
        compat.delete_logged_model_tag(model.id, "a")
    with pytest.raises(InvalidInput, match="LOGGED_MODEL_READY"):
        compat.finalize_logged_model(model.id, "DONE")
    compat.delete_logged_model(model.id)
    with pytest.raises(NotFound):
        compat.get_logged_model(model.id)


def test_run_links_replace_repeats_and_reach_lineage(compat: MlflowCompatService, run_id: str, db: Database) -> None:
    compat.link_run(run_id, LinkKind.MODEL_OUTPUT, [("m-1", {"model_id": "m-1", "step": 0})])
    compat.link_run(run_id, LinkKind.MODEL_OUTPUT, [("m-1", {"model_id": "m-1", "step": 3})])
    links = compat.run_links([run_id])[run_id]
    assert links[LinkKind.MODEL_OUTPUT] == [{"model_id": "m-1", "step": 3}]
    downstream = LineageService(db).downstream("run", run_id)
    assert "m-1" in {node.id for node in downstream.nodes}
    compat._tracking.delete_run(run_id)
    with pytest.raises(Conflict):
        compat.link_run(run_id, LinkKind.MODEL_INPUT, [("m-1", {"model_id": "m-1"})])


def test_files_by_location(compat: MlflowCompatService, run_id: str) -> None:
    compat.put_file(parse_location(f"runs/{run_id}/plots/a.csv"), io.BytesIO(b"x,y"))
    listed = compat.list_files(parse_location(f"runs/{run_id}"))
    assert [(i.path, i.is_dir) for i in listed] == [("plots", True)]
    with compat.open_file(parse_location(f"runs/{run_id}/plots/a.csv")) as f:
        assert f.read() == b"x,y"
    with pytest.raises(NotFound):
        compat.list_files(parse_location("logged-models/m-missing"))
    with pytest.raises(InvalidInput, match=r"\.\."):
        parse_location(f"runs/{run_id}/../x")


def test_register_version_copies_the_mlflow_folder(compat: MlflowCompatService, run_id: str) -> None:
    experiment = compat._tracking.get_run(run_id).experiment_id
    model = compat.create_logged_model(experiment, "model", source_run_id=run_id)
    folder = Location(Area.LOGGED_MODEL, model.id)
    for name, data in (("MLmodel", b"flavors: {}\n"), ("model.pkl", b"pickle bytes")):
        compat.put_file(Location(Area.LOGGED_MODEL, model.id, name), io.BytesIO(data))
    version = compat.register_version("churn", f"models:/{model.id}", tags={"team": "ads"})
    assert (version.flavor, version.status) == ("mlflow", ApprovalStatus.PENDING)
    assert (version.source_kind, version.source_id) == ("run", run_id)
    assert version.metadata["mlflow"] == {"source": f"models:/{model.id}", "model_id": model.id}
    with compat.open_file(Location(Area.MODEL_VERSION, version.id, "mlflow_model/model.pkl")) as f:
        assert f.read() == b"pickle bytes"
    with pytest.raises(PermissionDenied, match="cannot change"):
        compat.put_file(Location(Area.MODEL_VERSION, version.id, "x"), io.BytesIO(b""))
    assert compat.list_files(folder)  # the logged model keeps its own files
    with pytest.raises(InvalidInput, match="holds no files"):
        compat.register_version("churn", f"runs:/{run_id}/nothing")
    compat.put_file(Location(Area.RUN, run_id, "notes/readme.txt"), io.BytesIO(b"hi"))
    with pytest.raises(InvalidInput, match="no MLmodel file"):
        compat.register_version("churn", f"runs:/{run_id}/notes")
    with pytest.raises(InvalidInput, match="models:/<logged model id>"):
        compat.register_version("churn", "models:/churn/1")
