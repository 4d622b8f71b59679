"""The tracking contract: identical assertions for the embedded and the remote SDK.

Each test runs twice through the ``client`` fixture (see conftest.py): against the local store,
and over HTTP against a real server. Whatever one mode does, the other must do too: the same
records, the same exceptions naming the same fields.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import io
import math
import os
import uuid
from pathlib import Path

import pytest

from slipway import AlreadyExists, Client, Conflict, InvalidInput, NotFound
from slipway.client import RemoteTracking
from slipway.tracking import Experiment, LifecycleStage, Metric, Run, RunStatus, TrackingService


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def exp(client: Client) -> Experiment:
    return client.tracking.create_experiment(unique("contract"))


def search_ids(client: Client, exp: Experiment, filter: str | None = None, **kwargs: object) -> set[str]:
    page = client.tracking.search_runs([exp.id], filter, **kwargs)  # type: ignore[arg-type]
    return {r.id for r in page.runs}


# ---------------------------------------------------------------------------------- experiments


def test_experiment_crud(client: Client) -> None:
    t = client.tracking
    name = unique("crud")
    created = t.create_experiment(name, "first try", {"team": "search"})
    assert (created.name, created.description, created.tags) == (name, "first try", {"team": "search"})
    assert created.lifecycle_stage is LifecycleStage.ACTIVE
    assert t.get_experiment(created.id) == created
    assert t.get_experiment_by_name(name) == created
    assert t.get_or_create_experiment(name).id == created.id
    assert created.id in {e.id for e in t.list_experiments(name_like=f"{name[:8]}%")}

    renamed = t.update_experiment(created.id, name=name + "-v2", description="second try")
    assert (renamed.name, renamed.description) == (name + "-v2", "second try")
    t.set_experiment_tag(created.id, "owner", "ana")
    assert t.get_experiment(created.id).tags == {"team": "search", "owner": "ana"}

    t.delete_experiment(created.id)
    assert t.get_experiment(created.id).lifecycle_stage is LifecycleStage.DELETED
    assert created.id not in {e.id for e in t.list_experiments()}
    assert created.id in {e.id for e in t.list_experiments(include_deleted=True)}
    with pytest.raises(Conflict) as err:
        t.create_run(created.id)
    assert err.value.field == "experiment_id"
    t.restore_experiment(created.id)
    assert t.get_experiment(created.id).lifecycle_stage is LifecycleStage.ACTIVE


def test_get_or_create_experiment_creates_once(client: Client) -> None:
    name = unique("goc")
    first = client.tracking.get_or_create_experiment(name)
    assert client.tracking.get_or_create_experiment(name) == first


def test_duplicate_experiment_name(client: Client, exp: Experiment) -> None:
    with pytest.raises(AlreadyExists) as err:
        client.tracking.create_experiment(exp.name)
    assert err.value.field == "name"
    other = client.tracking.create_experiment(unique("other"))
    with pytest.raises(AlreadyExists):
        client.tracking.update_experiment(other.id, name=exp.name)


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.get_experiment("no-such-id"),
        lambda t: t.get_experiment_by_name("no such experiment " + uuid.uuid4().hex),
        lambda t: t.update_experiment("no-such-id", description="x"),
        lambda t: t.delete_experiment("no-such-id"),
        lambda t: t.set_experiment_tag("no-such-id", "k", "v"),
        lambda t: t.create_run("no-such-id"),
        lambda t: t.get_run("no-such-id"),
        lambda t: t.update_run("no-such-id", name="x"),
        lambda t: t.end_run("no-such-id"),
        lambda t: t.delete_run("no-such-id"),
        lambda t: t.log_metric("no-such-id", "loss", 1.0),
        lambda t: t.log_param("no-such-id", "lr", 1),
        lambda t: t.log_batch("no-such-id", params={"a": 1}),
        lambda t: t.get_metric_history("no-such-id", "loss"),
        lambda t: t.compare_runs(["no-such-id"]),
        lambda t: t.list_artifacts("no-such-id"),
        lambda t: t.log_bytes("no-such-id", b"x", "a.txt"),
    ],
)
def test_unknown_ids_are_not_found(client: Client, call: object) -> None:
    with pytest.raises(NotFound):
        call(client.tracking)  # type: ignore[operator]


def test_unicode_names_and_keys(client: Client) -> None:
    t = client.tracking
    name = unique("实验 ✓ éxpérience")
    exp = t.create_experiment(name)
    assert t.get_experiment_by_name(name).id == exp.id
    run = t.create_run(exp.id, name="прогон 🚀", tags={"équipe": "données ✓"})
    t.log_metric(run.id, "损失", 0.5)
    t.log_param(run.id, "α", "β")
    got = t.get_run(run.id)
    assert got.name == "прогон 🚀"
    assert got.tags == {"équipe": "données ✓"}
    assert got.params == {"α": "β"}
    assert got.metrics["损失"].value == 0.5
    assert [m.value for m in t.get_metric_history(run.id, "损失")] == [0.5]
    assert search_ids(client, exp, "params.α = 'β' and metrics.`损失` < 1") == {run.id}


# ------------------------------------------------------------------------------------------ runs


def test_run_lifecycle(client: Client, exp: Experiment) -> None:
    t = client.tracking
    run = t.create_run(exp.id, name="baseline", tags={"stage": "dev"})
    assert isinstance(run, Run)
    assert (run.experiment_id, run.name, run.status, run.end_time) == (exp.id, "baseline", RunStatus.RUNNING, None)
    assert run.user and run.tags == {"stage": "dev"}
    assert t.get_run(run.id) == run

    child = t.create_run(exp.id, name="fold-1", parent_run_id=run.id)
    assert child.parent_run_id == run.id
    assert search_ids(client, exp, f"attributes.parent_run_id = '{run.id}'") == {child.id}

    assert t.update_run(run.id, name="baseline-2").name == "baseline-2"
    ended = t.end_run(run.id, "failed")
    assert ended.status is RunStatus.FAILED
    assert ended.end_time is not None and ended.end_time >= ended.start_time
    assert t.end_run(child.id).status is RunStatus.FINISHED

    t.delete_run(run.id)
    assert t.get_run(run.id).lifecycle_stage is LifecycleStage.DELETED
    assert search_ids(client, exp) == {child.id}
    assert search_ids(client, exp, include_deleted=True) == {run.id, child.id}
    with pytest.raises(Conflict):
        t.log_metric(run.id, "loss", 1.0)
    t.restore_run(run.id)
    assert search_ids(client, exp) == {run.id, child.id}


def test_run_in_default_experiment(client: Client) -> None:
    run = client.tracking.create_run(name=unique("default"))
    assert client.tracking.get_experiment(run.experiment_id).name == "Default"


def test_run_with_explicit_start_time(client: Client, exp: Experiment) -> None:
    run = client.tracking.create_run(exp.id, start_time=1_700_000_000_000)
    assert run.start_time.timestamp() == 1_700_000_000


@pytest.mark.parametrize("status", ["RUNNING", "BOGUS"])
def test_end_run_needs_a_final_status(client: Client, exp: Experiment, status: str) -> None:
    run = client.tracking.create_run(exp.id)
    with pytest.raises(InvalidInput) as err:
        client.tracking.end_run(run.id, status)
    assert err.value.field == "status"


def test_a_run_starts_with_its_params_and_ends_with_its_last_values_in_one_call(
    client: Client, exp: Experiment
) -> None:
    t = client.tracking
    run = t.create_run(exp.id, params={"lr": 0.1, "depth": 4}, tags={"kind": "trial"})
    assert run.params == {"lr": "0.1", "depth": "4"}
    t.log_batch(run.id, metrics=[{"key": "loss", "value": 0.5}], tags={"state": "COMPLETE"}, end_status="FINISHED")
    done = t.get_run(run.id)
    assert (done.status, done.params, done.tags["state"]) == (RunStatus.FINISHED, run.params, "COMPLETE")
    assert done.metrics["loss"].value == 0.5 and done.end_time is not None
    with pytest.raises(InvalidInput) as err:
        t.log_batch(run.id, tags={"state": "again"}, end_status="RUNNING")
    assert err.value.field == "end_status"
    assert t.get_run(run.id).tags["state"] == "COMPLETE"


# ----------------------------------------------------------------------------- params and tags


def test_params_are_written_once(client: Client, exp: Experiment) -> None:
    t = client.tracking
    run = t.create_run(exp.id)
    t.log_param(run.id, "lr", 0.1)
    t.log_param(run.id, "lr", "0.1")  # the same value again is fine
    with pytest.raises(Conflict) as err:
        t.log_param(run.id, "lr", 0.2)
    assert err.value.field == "param.lr"
    with pytest.raises(Conflict):  # a batch is all or nothing
        t.log_batch(run.id, metrics=[{"key": "loss", "value": 1.0}], params={"lr": 0.3, "depth": 4})
    got = t.get_run(run.id)
    assert got.params == {"lr": "0.1"}
    assert got.metrics == {}


def test_tags(client: Client, exp: Experiment) -> None:
    t = client.tracking
    run = t.create_run(exp.id)
    t.set_tag(run.id, "team", "search")
    t.set_tag(run.id, "team", "ads")
    t.log_batch(run.id, tags={"owner": "ana", "note": 42})
    assert t.get_run(run.id).tags == {"team": "ads", "owner": "ana", "note": "42"}
    t.delete_tag(run.id, "team")
    assert "team" not in t.get_run(run.id).tags
    with pytest.raises(NotFound) as err:
        t.delete_tag(run.id, "team")
    assert err.value.field == "key"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda t, r: t.log_metric(r, "k" * 251, 1.0), "metric.key"),
        (lambda t, r: t.log_metric(r, "bad*key", 1.0), "metric.key"),
        (lambda t, r: t.log_metric(r, "loss", 1.0, step=2**63), "metric.loss.step"),
        (lambda t, r: t.log_param(r, "p", "v" * 8001), "param.p"),
        (lambda t, r: t.log_param(r, "../p", "v"), "param.key"),
        (lambda t, r: t.set_tag(r, "t", "v" * 8001), "tag.t"),
        (lambda t, r: t.set_tag(r, "", "v"), "tag.key"),
        (lambda t, r: t.log_batch(r, params={f"p{i}": i for i in range(1001)}), "params"),
        (lambda t, r: t.create_run(name="n" * 257), "name"),
        (lambda t, r: t.create_experiment("e" * 257), "name"),
        (lambda t, r: t.create_experiment("   "), "name"),
        (lambda t, r: t.update_run(r, status="NOPE"), "status"),
        (lambda t, r: t.log_metric(r, "loss", 1.0, timestamp=10**30), "metric.loss.timestamp"),
        (lambda t, r: t.log_batch(r, metrics=[{"key": "loss", "value": 1, "timestamp": -(10**30)}]),
         "metric.loss.timestamp"),
        (lambda t, r: t.create_run(start_time=10**30), "start_time"),
        (lambda t, r: t.update_run(r, end_time=dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=14)))),
         "end_time"),
    ],
)
def test_limits_name_the_field(client: Client, exp: Experiment, call: object, field: str) -> None:
    run = client.tracking.create_run(exp.id)
    with pytest.raises(InvalidInput) as err:
        call(client.tracking, run.id)  # type: ignore[operator]
    assert err.value.field == field
    assert client.tracking.get_run(run.id).params == {}


# --------------------------------------------------------------------------------------- metrics


def test_metric_steps_and_history(client: Client, exp: Experiment) -> None:
    t = client.tracking
    run = t.create_run(exp.id)
    t.log_metric(run.id, "loss", 0.9, step=0, timestamp=1000)
    t.log_metric(run.id, "loss", 0.5, step=2, timestamp=1002)
    t.log_metric(run.id, "loss", 0.7, step=1, timestamp=1001)
    t.log_batch(run.id, metrics=[Metric(key="loss", value=0.3, step=3, timestamp=1003), {"key": "acc", "value": 1}])
    history = t.get_metric_history(run.id, "loss")
    assert [(m.step, m.value, m.timestamp) for m in history] == [
        (0, 0.9, 1000), (1, 0.7, 1001), (2, 0.5, 1002), (3, 0.3, 1003)
    ]
    assert all(m.key == "loss" for m in history)
    latest = t.get_run(run.id).metrics
    assert (latest["loss"].value, latest["loss"].step) == (0.3, 3)
    assert latest["acc"].value == 1.0
    assert t.get_metric_history(run.id, "never logged") == []


def test_negative_steps(client: Client, exp: Experiment) -> None:
    t = client.tracking
    run = t.create_run(exp.id)
    t.log_metric(run.id, "warmup", 1.0, step=-5)
    t.log_metric(run.id, "warmup", 2.0, step=-(2**63) + 1)
    assert [m.step for m in t.get_metric_history(run.id, "warmup")] == [-(2**63) + 1, -5]
    assert t.get_run(run.id).metrics["warmup"].step == -5


def test_nan_and_infinities_are_stored(client: Client, exp: Experiment) -> None:
    t = client.tracking
    run = t.create_run(exp.id)
    t.log_metric(run.id, "nan", float("nan"))
    t.log_metric(run.id, "inf", float("inf"))
    t.log_batch(run.id, metrics=[{"key": "ninf", "value": float("-inf")}, Metric(key="nan2", value=math.nan)])
    got = t.get_run(run.id).metrics
    assert math.isnan(got["nan"].value) and math.isnan(got["nan2"].value)
    assert got["inf"].value == math.inf and got["ninf"].value == -math.inf
    assert math.isnan(t.get_metric_history(run.id, "nan")[0].value)
    assert [m.value for m in t.get_metric_history(run.id, "ninf")] == [-math.inf]
    assert search_ids(client, exp, "metrics.inf > 1e308") == {run.id}
    assert search_ids(client, exp, "metrics.nan > 0 or metrics.nan <= 0") == set()


# ---------------------------------------------------------------------------------------- search


@pytest.fixture
def zoo(client: Client, exp: Experiment) -> dict[str, str]:
    """Four runs to search: name -> id."""
    t = client.tracking
    specs = {
        "rf-a": ({"model": "rf", "depth": "8"}, {"acc": 0.91, "loss": 0.2}, {"team": "a"}, "FINISHED"),
        "rf-b": ({"model": "rf", "depth": "4"}, {"acc": 0.85}, {"team": "b"}, "FAILED"),
        "svm": ({"model": "svm"}, {"acc": 0.70, "loss": 0.4}, {"team": "a"}, "FINISHED"),
        "lin": ({"model": "linear"}, {}, {"team": "c"}, "RUNNING"),
    }
    ids = {}
    for name, (params, metrics, tags, status) in specs.items():
        run = t.create_run(exp.id, name=name, tags=tags)
        t.log_batch(run.id, metrics=[{"key": k, "value": v} for k, v in metrics.items()], params=params)
        if status != "RUNNING":
            t.end_run(run.id, status)
        ids[name] = run.id
    return ids


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ("metrics.acc > 0.8", {"rf-a", "rf-b"}),
        ("metrics.acc >= 0.7 and metrics.loss < 0.3", {"rf-a"}),
        ("params.model = 'rf' and tags.team = 'b'", {"rf-b"}),
        ("params.model = 'svm' or tags.team = 'c'", {"svm", "lin"}),
        ("(params.model = 'rf' or params.model = 'svm') and tags.team = 'a'", {"rf-a", "svm"}),
        ("params.model = 'rf' or params.model = 'svm' and tags.team = 'a'", {"rf-a", "rf-b", "svm"}),
        ("params.model IN ('svm', 'linear')", {"svm", "lin"}),
        ("params.model NOT IN ('rf')", {"svm", "lin"}),
        ("params.model LIKE 'r%'", {"rf-a", "rf-b"}),
        ("tags.team != 'a'", {"rf-b", "lin"}),
        ("attributes.status = 'FINISHED'", {"rf-a", "svm"}),
        ("status IN ('failed', 'running')", {"rf-b", "lin"}),
        ("attributes.run_name LIKE 'rf-%' and not (params.depth = '4')", {"rf-a"}),
        ("metrics.loss IS NULL", {"rf-b", "lin"}),
        ("params.depth IS NOT NULL", {"rf-a", "rf-b"}),
        ("start_time > '2000-01-01T00:00:00'", {"rf-a", "rf-b", "svm", "lin"}),
        ("", {"rf-a", "rf-b", "svm", "lin"}),
    ],
)
def test_search_filters(
    client: Client, exp: Experiment, zoo: dict[str, str], filter: str, expected: set[str]
) -> None:
    assert search_ids(client, exp, filter) == {zoo[name] for name in expected}


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("metrics.acc DESC", ["rf-a", "rf-b", "svm", "lin"]),
        ("metrics.acc ASC", ["svm", "rf-b", "rf-a", "lin"]),
        ("metrics.loss", ["rf-a", "svm"]),  # then the two without loss, in any order
        ("params.model DESC", ["svm", "rf"]),
    ],
)
def test_search_order_puts_missing_last(
    client: Client, exp: Experiment, zoo: dict[str, str], order: str, expected: list[str]
) -> None:
    runs = client.tracking.search_runs([exp.id], order_by=[order]).runs
    names = [r.name for r in runs]
    assert len(names) == 4
    assert [n.split("-")[0] if order.startswith("params") else n for n in names[: len(expected)]] == expected


def test_search_pages_through_every_run_once(client: Client, exp: Experiment) -> None:
    t = client.tracking
    made = set()
    for i in range(25):
        run = t.create_run(exp.id, name=f"r{i:02d}")
        t.log_metric(run.id, "score", i % 7)
        made.add(run.id)
    seen: list[str] = []
    sizes = []
    token = None
    while True:
        page = t.search_runs([exp.id], order_by=["metrics.score DESC"], max_results=10, page_token=token)
        sizes.append(len(page.runs))
        seen += [r.id for r in page.runs]
        token = page.next_page_token
        if token is None:
            break
    assert sizes == [10, 10, 5]
    assert len(seen) == len(set(seen)) == 25
    assert set(seen) == made


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"filter": "metrics.acc >"}, "filter"),
        ({"filter": "metrics.acc > 'high'"}, "filter"),
        ({"filter": "params.model < 'x'"}, "filter"),
        ({"filter": "banana.split = 1"}, "filter"),
        ({"filter": "((metrics.acc > 1)"}, "filter"),
        ({"filter": "no_such_attribute = 1"}, "filter"),
        ({"order_by": ["metrics.acc SIDEWAYS"]}, "order_by"),
        ({"page_token": "not-a-token"}, "page_token"),
        ({"max_results": 0}, "max_results"),
        ({"filter": "(" * 100 + "metrics.acc > 1" + ")" * 100}, "filter"),
        ({"filter": " or ".join(["metrics.acc > 1"] * 101)}, "filter"),
        ({"filter": "start_time > 1e30"}, "filter"),
        ({"order_by": ["metrics.acc"] * 11}, "order_by"),
    ],
)
def test_bad_search_is_invalid_input(client: Client, exp: Experiment, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        client.tracking.search_runs([exp.id], **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_compare_runs(client: Client, exp: Experiment, zoo: dict[str, str]) -> None:
    ids = [zoo["rf-a"], zoo["svm"], zoo["lin"]]
    table = client.tracking.compare_runs(ids)
    assert table.run_ids == ids
    assert table.run_names == ["rf-a", "svm", "lin"]
    assert table.params == {"depth": ["8", None, None], "model": ["rf", "svm", "linear"]}
    assert sorted(table.differing_params) == ["depth", "model"]
    acc = table.metrics["acc"]
    assert [m.value if m else None for m in acc] == [0.91, 0.70, None]
    with pytest.raises(InvalidInput) as err:
        client.tracking.compare_runs([])
    assert err.value.field == "run_ids"


# ------------------------------------------------------------------------------------- artifacts


@pytest.fixture
def local_tree(tmp_path: Path) -> Path:
    """report/summary.txt, report/plots/loss.png, report/plots/deep/acc.csv"""
    root = tmp_path / "report"
    (root / "plots" / "deep").mkdir(parents=True)
    (root / "summary.txt").write_text("all good\n")
    (root / "plots" / "loss.png").write_bytes(bytes(range(256)) * 10)
    (root / "plots" / "deep" / "acc.csv").write_text("step,acc\n0,0.5\n")
    return root


def test_artifact_file_folder_and_bytes(client: Client, exp: Experiment, local_tree: Path) -> None:
    t = client.tracking
    run = t.create_run(exp.id)
    [single] = t.log_artifact(run.id, local_tree / "summary.txt")
    assert (single.path, single.is_dir, single.size) == ("summary.txt", False, 9)
    assert single.sha256 == hashlib.sha256(b"all good\n").hexdigest()
    assert [i.path for i in t.log_artifact(run.id, local_tree / "summary.txt", "docs/")] == ["docs/summary.txt"]

    folder = t.log_artifact(run.id, local_tree, "out")
    assert [i.path for i in folder] == ["out/plots/deep/acc.csv", "out/plots/loss.png", "out/summary.txt"]
    assert t.log_bytes(run.id, b"\x00\x01binary", "raw/blob.bin").size == 8
    streamed = t.log_bytes(run.id, io.BytesIO(b"streamed"), "raw/stream.txt")
    assert streamed.sha256 == hashlib.sha256(b"streamed").hexdigest()

    top = t.list_artifacts(run.id)
    assert [(i.path, i.is_dir) for i in top] == [("docs", True), ("out", True), ("raw", True), ("summary.txt", False)]
    assert [i.path for i in t.list_artifacts(run.id, "out")] == ["out/plots", "out/summary.txt"]
    assert [i.path for i in t.list_artifacts(run.id, "out", recursive=True)] == [i.path for i in folder]
    assert t.list_artifacts(run.id, "nothing/here") == []

    with t.open_artifact(run.id, "out/plots/loss.png") as stream:
        assert stream.read() == (local_tree / "plots" / "loss.png").read_bytes()
    with t.open_artifact(run.id, "raw/stream.txt") as stream:
        assert stream.read(3) == b"str"
        assert stream.read() == b"eamed"


def test_large_artifact_round_trip(client: Client, exp: Experiment, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # several chunks each way, past the server's spool-in-memory size
    run = client.tracking.create_run(exp.id)
    info = client.tracking.log_bytes(run.id, io.BytesIO(data), "big/blob.bin")
    assert (info.size, info.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    dst = client.tracking.download_artifacts(run.id, "big/blob.bin", tmp_path / "blob.bin")
    assert dst.read_bytes() == data


def test_download_folder_and_file(client: Client, exp: Experiment, local_tree: Path, tmp_path: Path) -> None:
    t = client.tracking
    run = t.create_run(exp.id)
    t.log_artifact(run.id, local_tree, "report")
    dst = t.download_artifacts(run.id, "report/plots", tmp_path / "got")
    assert dst == tmp_path / "got"
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file()) == ["deep/acc.csv", "loss.png"]
    assert (dst / "deep" / "acc.csv").read_text() == "step,acc\n0,0.5\n"
    whole = t.download_artifacts(run.id, "", tmp_path / "all")
    assert (whole / "report" / "summary.txt").read_text() == "all good\n"
    single = t.download_artifacts(run.id, "report/summary.txt", tmp_path / "one.txt")
    assert single.read_text() == "all good\n"
    with pytest.raises(InvalidInput) as err:
        t.download_artifacts(run.id, "report/summary.txt", tmp_path / "got")
    assert err.value.field == "dst"
    with pytest.raises(NotFound):
        t.download_artifacts(run.id, "report/missing.txt", tmp_path / "missing.txt")


@pytest.mark.parametrize("path", ["../escape.txt", "a/../../escape.txt", "/etc/passwd", "a//b", "a\\b", "./..", ""])
def test_artifact_paths_cannot_escape(client: Client, exp: Experiment, path: str) -> None:
    run = client.tracking.create_run(exp.id)
    with pytest.raises(InvalidInput) as err:
        client.tracking.log_bytes(run.id, b"x", path)
    assert err.value.field == "path"
    with pytest.raises(InvalidInput):
        client.tracking.open_artifact(run.id, path or "..")
    assert client.tracking.list_artifacts(run.id, recursive=True) == []


def test_artifact_errors(client: Client, exp: Experiment, tmp_path: Path) -> None:
    t = client.tracking
    run = t.create_run(exp.id)
    with pytest.raises(NotFound):
        t.open_artifact(run.id, "missing.txt")
    t.log_bytes(run.id, b"x", "dir/file.txt")
    with pytest.raises(InvalidInput):
        t.open_artifact(run.id, "dir")
    with pytest.raises(Conflict):
        t.log_bytes(run.id, b"y", "dir/file.txt/below")
    with pytest.raises(InvalidInput) as err:
        t.log_artifact(run.id, tmp_path / "does-not-exist")
    assert err.value.field == "local_path"
    t.delete_run(run.id)
    with pytest.raises(Conflict):
        t.log_bytes(run.id, b"x", "late.txt")


# ---------------------------------------------------------------------------------------- surface


def test_remote_tracking_mirrors_the_service() -> None:
    """Every public method of the service exists remotely with the same parameters and return type."""
    public = {n for n in dir(TrackingService) if not n.startswith("_")}
    assert public <= {n for n in dir(RemoteTracking) if not n.startswith("_")}
    for name in public:
        remote, embedded = (inspect.signature(getattr(cls, name)) for cls in (RemoteTracking, TrackingService))
        assert remote == embedded, name
