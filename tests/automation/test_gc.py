"""Retention and garbage collection: dry run against real run, and nothing a live object refers to goes."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import _pipeline_steps as lib
import pytest

from slipway._backend import Backend
from slipway._ids import new_id
from slipway._operations import MONITOR_RUN
from slipway._principal import Principal, acting_as
from slipway._time import now_ms
from slipway.automation import CollectGarbage, RunStatus
from slipway.errors import InvalidInput, NotFound
from slipway.pipelines import (
    LocalExecutor,
    Parameter,
    Pipeline,
    PipelineService,
    ProcessingStep,
    ServiceSpec,
)
from slipway.pipelines._studies import open_storage, study_name, study_names
from slipway.store import JobQueue
from slipway.store.artifacts import Owner, blob_key


def test_dry_run_lists_then_a_real_run_frees_only_unreferenced_blobs(any_backend: Backend, tmp_path: Path) -> None:
    store, auto = any_backend.artifacts, any_backend.automation
    live = store.put_bytes(Owner("run", "r1"), "model.bin", b"live bytes")
    store.put_bytes(Owner("scratch", "s1"), "copy.bin", b"live bytes")  # the same blob, twice referenced
    gone = store.put_bytes(Owner("scratch", "s1"), "old.bin", b"x" * 1000)
    store.delete(Owner("scratch", "s1"), "")  # "live bytes" is still the run's; the 1000 x's are no one's
    stray = tmp_path / "stray"
    stray.write_bytes(b"an upload whose record never came")
    store.storage.put_file("blobs/ff/ff/" + "f" * 64, stray)

    stray_key = "blobs/ff/ff/" + "f" * 64
    # Too young to go; the collection notes the stray object, which goes once seen again past the grace period.
    assert auto.collect_garbage(grace_seconds=3600).items == []
    dry = auto.collect_garbage(dry_run=True, grace_seconds=0)
    assert dry.dry_run
    assert [(i.kind, i.name, i.size) for i in dry.items] == [("blob", gone.sha256, 1000), ("stray_blob", stray_key, 33)]
    assert store.storage.exists(blob_key(gone.sha256 or "")) and store.storage.exists(stray_key)  # dry: nothing goes

    real = auto.collect_garbage(grace_seconds=0)
    assert [(i.kind, i.name) for i in real.items] == [("blob", gone.sha256), ("stray_blob", stray_key)]
    assert real.freed_bytes == 1033
    assert not store.storage.exists(blob_key(gone.sha256 or "")) and not store.storage.exists(stray_key)
    assert store.read_bytes(Owner("run", "r1"), "model.bin") == b"live bytes"
    assert store.storage.exists(blob_key(live.sha256 or ""))
    assert auto.collect_garbage(grace_seconds=0).items == []


def test_a_stray_object_goes_only_when_seen_again_after_the_grace_period(backend: Backend, tmp_path: Path) -> None:
    store = backend.artifacts
    stray = tmp_path / "stray"
    stray.write_bytes(b"in flight")
    store.storage.put_file("blobs/ee/ee/" + "e" * 64, stray)
    assert backend.automation.collect_garbage(grace_seconds=0).items == []  # first sighting: maybe an upload in flight
    assert [i.kind for i in backend.automation.collect_garbage(grace_seconds=0).items] == ["stray_blob"]


def test_captures_older_than_the_policy_are_deleted(backend: Backend) -> None:
    store, auto = backend.artifacts, backend.automation
    endpoint = Owner("endpoint", "ep1")
    now = dt.datetime.now(dt.UTC)
    recent = f"capture/{now:%Y/%m/%d/%H}/b.jsonl"
    store.put_bytes(endpoint, "capture/2020/01/01/00/a.jsonl", b'{"old": 1}\n')
    store.put_bytes(endpoint, recent, b'{"new": 1}\n')
    assert auto.collect_garbage(dry_run=True, grace_seconds=0).items == []  # no policy: everything stays
    with pytest.raises(InvalidInput, match="capture_days"):
        auto.set_retention(capture_days=-1)
    with pytest.raises(InvalidInput, match="keep_executions must be a whole number from 0 to"):
        auto.set_retention(keep_executions=10**30)  # must not reach the database as an overflow
    assert auto.set_retention(capture_days=7).capture_days == 7
    report = auto.collect_garbage(grace_seconds=0)
    assert [(i.kind, i.name) for i in report.items][:1] == [("capture", "endpoint ep1: capture/2020/01/01/00")]
    assert [i.path for i in store.list(endpoint, "capture", recursive=True)] == [recent]
    assert auto.set_retention(capture_days=0).capture_days is None


@pytest.fixture(scope="module")
def pool() -> Iterator[LocalExecutor]:
    executor = LocalExecutor(max_workers=1)
    yield executor
    executor.close()


def test_old_pipeline_executions_go_unless_a_kept_one_reuses_them(backend: Backend, pool: LocalExecutor) -> None:
    pipelines = PipelineService(backend.db, backend.artifacts, ServiceSpec(Backend, backend.settings),
                                local_executor=pool)
    backend.__dict__["pipelines"] = pipelines
    pipeline = Pipeline("sums", [ProcessingStep("Make", lib.numbers, inputs={"n": Parameter("n", int, 3)},
                                                outputs=["data"])])
    first = pipelines.run(pipeline)
    second = pipelines.run(pipeline)  # a cache hit: its step reuses the first one's output
    third = pipelines.run(pipeline, parameters={"n": 5}, cache=False)
    assert second.step("Make").cached_from is not None

    backend.automation.set_retention(keep_executions=2)
    report = backend.automation.collect_garbage(grace_seconds=0)
    assert [i.kind for i in report.items if i.kind == "pipeline_execution"] == []  # the first is reused by the second

    backend.automation.set_retention(keep_executions=1)
    dry = backend.automation.collect_garbage(dry_run=True, grace_seconds=0)
    assert sorted(i.name for i in dry.items if i.kind == "pipeline_execution") == sorted(
        [f"sums/{first.id}", f"sums/{second.id}"])
    backend.automation.collect_garbage(grace_seconds=0)
    assert [e.id for e in pipelines.list_executions(pipeline="sums")] == [third.id]
    with pytest.raises(NotFound):
        pipelines.get_execution(first.id)
    outputs = backend.artifacts.list(Owner("step_execution", third.step("Make").id), recursive=True)
    assert outputs and all(backend.artifacts.storage.exists(blob_key(o.sha256 or "")) for o in outputs)
    # The rule and the deletion are the pipelines service's own: the collector only asks.
    assert pipelines.expired_executions(1) == []
    with pytest.raises(NotFound):
        pipelines.delete_execution(first.id)
    with pytest.raises(InvalidInput):
        pipelines.expired_executions(-1)


def test_a_tuning_steps_shared_study_goes_with_its_execution(backend: Backend, pool: LocalExecutor) -> None:
    import optuna

    pipelines = PipelineService(backend.db, backend.artifacts, ServiceSpec(Backend, backend.settings),
                                local_executor=pool)
    backend.__dict__["pipelines"] = pipelines
    pipeline = Pipeline("tuned", [ProcessingStep("Make", lib.numbers, inputs={"n": Parameter("n", int, 3)},
                                                 outputs=["data"])])
    first = pipelines.run(pipeline)
    # The study a Tuning step of ``first`` shares with its trials in other processes (named as the step
    # names it: tests/pipelines/test_tuning_distributed.py), and one that is no execution's.
    url = backend.settings.db_url
    study = study_name(new_id(), first.id)
    for name in (study, "made-by-hand"):
        optuna.create_study(storage=open_storage(url), study_name=name).add_trial(
            optuna.trial.create_trial(value=1.0))
    auto = backend.automation
    assert [i for i in auto.collect_garbage(dry_run=True, grace_seconds=0).items if i.kind == "optuna_study"] == []

    second = pipelines.run(pipeline, cache=False)
    auto.set_retention(keep_executions=1)
    dry = auto.collect_garbage(dry_run=True, grace_seconds=0)
    assert [(i.kind, i.name) for i in dry.items if i.kind in ("pipeline_execution", "optuna_study")] == [
        ("pipeline_execution", f"tuned/{first.id}"), ("optuna_study", study)]
    assert sorted(study_names(url)) == sorted([study, "made-by-hand"])  # dry: nothing goes
    real = auto.collect_garbage(grace_seconds=0)
    assert [i.name for i in real.items if i.kind == "optuna_study"] == [study]
    assert study_names(url) == ["made-by-hand"]
    assert [e.id for e in pipelines.list_executions(pipeline="tuned")] == [second.id]
    with pytest.raises(NotFound):  # the deletion is the pipelines service's own
        pipelines.delete_study(study)


def test_a_writer_reusing_a_blob_the_collector_takes_meanwhile_uploads_it_again(backend: Backend) -> None:
    store = backend.artifacts
    store.put_bytes(Owner("scratch", "s"), "a.bin", b"shared content")
    store.delete(Owner("scratch", "s"), "")
    # A writer hashes the same bytes and finds the blob already stored, so it uploads nothing...
    blob = store._ingest(io.BytesIO(b"shared content"))  # noqa: SLF001 -- the two halves of a write, apart
    # ... the collector deletes the unreferenced blob before the writer records its path ...
    assert [i.kind for i in backend.automation.collect_garbage(grace_seconds=0).items] == ["blob"]
    assert not store.storage.exists(blob_key(blob.sha256))
    # ... and recording the path brings the content back from the writer's spool.
    store._record(Owner("run", "r"), [("a.bin", blob)])  # noqa: SLF001
    assert store.read_bytes(Owner("run", "r"), "a.bin") == b"shared content"
    assert backend.automation.collect_garbage(grace_seconds=0).items == []


def test_a_nightly_schedule_collects_garbage_as_its_admin_creator(backend: Backend) -> None:
    store = backend.artifacts
    store.put_bytes(Owner("scratch", "s"), "a.bin", b"litter")
    store.delete(Owner("scratch", "s"), "")
    auto = backend.automation
    made = auto.create_schedule("nightly-gc", "0 3 * * *", CollectGarbage(grace_seconds=0))
    [run] = auto.run_due_schedules(now=made.next_run_at)
    assert run.result == {"deleted": 1, "freed_bytes": 6}


def test_a_scientists_schedule_cannot_collect_garbage(backend: Backend) -> None:
    with acting_as(Principal("sam", frozenset({"scientist"}), source="test")):
        made = backend.automation.create_schedule("gc-by-sam", "0 3 * * *", CollectGarbage())
    [run] = backend.automation.run_due_schedules(now=made.next_run_at)
    assert run.status is RunStatus.FAILED
    assert run.error is not None and "sam may not" in run.error and "admin" in run.error


def test_a_staged_job_input_goes_once_no_job_still_to_run_names_it(backend: Backend) -> None:
    """The API staged an input and died before queuing its job: the input is litter past the grace
    period; one a pending job names stays for the worker."""
    inputs, queue = backend.job_inputs, JobQueue(backend.db, 30_000)
    orphan = inputs.stage(io.BytesIO(b"records of a request whose job never came"))
    kept = inputs.stage(io.BytesIO(b"records a queued job will read"))
    queue.submit(MONITOR_RUN, {"name": "mq", "input": kept}, actor="someone", roles=["scientist"])
    assert backend.automation.collect_garbage(grace_seconds=3600).items == []  # too young to go

    dry = backend.automation.collect_garbage(dry_run=True, grace_seconds=0)
    assert [(i.kind, i.name, i.size) for i in dry.items if i.kind == "job_input"] == [("job_input", orphan, 41)]
    real = backend.automation.collect_garbage(grace_seconds=0)
    assert [i.kind for i in real.items] == ["job_input", "blob"] and real.freed_bytes == 41
    assert inputs.staged_before(now_ms() + 1) == [kept]
    with inputs.taken(kept) as src:  # the queued job's input is whole
        assert src.read() == b"records a queued job will read"
