"""The registry search filters read as MLflow 3.17's own parser reads them (mlflow/utils/search_utils.py).

Each filter is given to MLflow's ``SearchModelVersionUtils`` / ``SearchModelUtils`` and to ours
over the same models: both keep the same ones, or both refuse, with the same message (MLflow
prints its sets in hash order; the comparison sorts them).
"""

from __future__ import annotations

import re
from types import ModuleType

import pytest

from slipway._principal import Principal, acting_as
from slipway.errors import InvalidInput, PermissionDenied
from slipway.server.mlflow import _filters as f


# MLflow is imported when these tests run, not when the suite is collected (it takes a second).
@pytest.fixture(scope="module")
def entities() -> ModuleType:
    return pytest.importorskip("mlflow.entities.model_registry", reason="MLflow is in the bench extra")


@pytest.fixture(scope="module")
def search_utils() -> ModuleType:
    return pytest.importorskip("mlflow.utils.search_utils", reason="MLflow is in the bench extra")

ADMIN = Principal("admin", roles=frozenset({"admin"}))
VERSIONS = [
    # (name, version, source, run id, tags)
    ("abalone", 1, "models:/m-1", "r1", {"team": "ads"}),
    ("abalone", 3, "runs:/r2/model", "r2", {"team": "Search"}),
    ("rings", 2, "models:/m-9", "r3", {"mlflow.prompt.is_prompt": "true"}),
    ("Rings_2", 10, "mlflow-artifacts:/x", None, {}),
]
GROUPS = [("abalone", {"team": "ads"}), ("rings", {}), ("prompt-1", {"mlflow.prompt.is_prompt": "true"})]

VERSION_FILTERS = [
    "name = 'abalone'", "name != 'abalone'", "name LIKE 'ab%'", "name ILIKE 'RINGS%'", "name LIKE 'rings'",
    "name IN ('rings', 'abalone')", "name NOT IN ('rings')", "run_id IN ('r1','r3')", "run_id = 'r2'",
    "source_path LIKE 'models:/%'", "version_number > 2", "version_number = 3", "version_number >= '2'",
    "tags.team = 'ads'", "tag.team ILIKE 'search'", "tags.`team` != 'ads'", 'tags."team" LIKE \'S%\'',
    "tag.`mlflow.prompt.is_prompt` != 'true'", "tags.mlflow.prompt.is_prompt = 'false'",
    "tags.mlflow.prompt.is_prompt = 'true'", "attribute.name = 'rings'", 'name = "rings"',
    "name = 'abalone' and tags.team = 'ads'", "name = 'abalone' AND version_number < 3", "name = 'abalone' and",
    # refused
    "foo = 'x'", "metrics.x > 1", "tags.team IN ('a')", "tags.team > 'a'", "name > 'a'", "tags.team = 3",
    "name = 3", "version_number IN ('1')", "source_path IN ('x')", "name IN ()", "name IN (1, 2)",
    "name = 'a' OR name = 'b'", "name", "name = ", "tags.x = x",
]
GROUP_FILTERS = [
    "tag.`mlflow.prompt.is_prompt` != 'true'", "name LIKE 'a%' AND tags.`mlflow.prompt.is_prompt` != 'true'",
    "tags.team = 'ads'", "name IN ('rings','x')", "name NOT IN ('rings')", "tags.team != 'ads'",
    "name ILIKE '%ING%'", "attribute.name = 'rings'",
    "run_id = 'x'", "version_number = 1", "params.x = 'y'",
]


def _normal(message: str) -> str:
    """MLflow's message with each printed set's items sorted."""
    return re.sub(r"\{([^{}]*)\}", lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", message)


def _outcome(run: object) -> list[str] | str:
    try:
        return sorted(run())  # type: ignore[operator]
    except Exception as exc:  # MlflowException on their side, InvalidInput on ours
        return "refused: " + _normal(str(getattr(exc, "message", exc)))


@pytest.mark.parametrize("text", VERSION_FILTERS)
def test_model_version_filters_read_as_mlflow_reads_them(
    text: str, entities: ModuleType, search_utils: ModuleType
) -> None:
    theirs = [
        entities.ModelVersion(name, version, 0, source=source, run_id=run,
                              tags=[entities.ModelVersionTag(k, v) for k, v in tags.items()])
        for name, version, source, run, tags in VERSIONS
    ]

    def ours() -> list[str]:
        with acting_as(ADMIN):
            conditions = f.parse(text, f.MODEL_VERSIONS)
        return [f"{name}/{version}" for name, version, source, run, tags in VERSIONS if f.matching(
            conditions, {"name": name, "version_number": version, "run_id": run, "source_path": source}, tags)]

    mlflow = search_utils.SearchModelVersionUtils
    assert _outcome(ours) == _outcome(lambda: [f"{m.name}/{m.version}" for m in mlflow.filter(theirs, text)])


@pytest.mark.parametrize("text", GROUP_FILTERS)
def test_registered_model_filters_read_as_mlflow_reads_them(
    text: str, entities: ModuleType, search_utils: ModuleType
) -> None:
    theirs = [entities.RegisteredModel(name, tags=[entities.RegisteredModelTag(k, v) for k, v in tags.items()])
              for name, tags in GROUPS]

    def ours() -> list[str]:
        with acting_as(ADMIN):
            conditions = f.parse(text, f.REGISTERED_MODELS)
        return [name for name, tags in GROUPS if f.matching(conditions, {"name": name}, tags)]

    assert _outcome(ours) == _outcome(lambda: [m.name for m in search_utils.SearchModelUtils.filter(theirs, text)])


def test_where_slipway_is_stricter_than_mlflows_in_memory_filter() -> None:
    # MLflow's SQL store refuses these too; its in-memory filter crashes or truncates 2.5 to 2.
    for text in ("version_number = 2.5", "version_number = 'x'"):
        with pytest.raises(InvalidInput, match="Invalid value for numeric attribute 'version_number'"):
            f.parse(text, f.MODEL_VERSIONS)


def test_a_secret_looking_tag_is_not_searchable_by_value_but_by_an_admin() -> None:
    with acting_as(Principal("sam", roles=frozenset({"scientist"}))), pytest.raises(PermissionDenied, match="secret"):
        f.parse("tags.db_password LIKE 'a%'", f.MODEL_VERSIONS)
    with acting_as(ADMIN):
        assert f.parse("tags.db_password LIKE 'a%'", f.MODEL_VERSIONS)[0].key == "db_password"


def test_order_by_reads_mlflows_keys_and_refuses_others() -> None:
    key = f.sort_key(["version_number DESC"], {"name", "version_number"})
    rows = [{"name": "b", "version_number": 1}, {"name": "a", "version_number": 2}, {"name": "a", "version_number": 1}]
    assert sorted(rows, key=key) == [rows[1], rows[2], rows[0]]  # ties: by name
    by_name = f.sort_key([], {"name", "version_number"}, default=("name ASC",))
    assert sorted(rows, key=by_name) == [rows[1], rows[2], rows[0]]  # ties: newest version first
    with pytest.raises(InvalidInput, match="Invalid order by key 'run_id' specified"):
        f.sort_key(["run_id"], {"name"})
    with pytest.raises(InvalidInput, match="Invalid ordering key in order_by clause 'name UP'"):
        f.sort_key(["name UP"], {"name"})
    with pytest.raises(InvalidInput, match="duplicate fields"):
        f.sort_key(["name", "name DESC"], {"name"})
