"""Caching: a second run with unchanged inputs is served from the cache; any change is a miss, explained."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import _pipeline_steps as lib
import pytest
from _pipeline_modules import rewrite, write_module

from slipway.pipelines import (
    CachePolicy,
    ExecutionStatus,
    FileInput,
    Parameter,
    Pipeline,
    PipelineService,
    ProcessingStep,
    RegisterModelStep,
    StepStatus,
    _cache,
)


def _pipeline(counter: Path, *, data: Path | None = None, cache: bool | CachePolicy = True) -> Pipeline:
    n = Parameter("n", int, 5)
    make = ProcessingStep("Make", lib.numbers, inputs={"n": n, "counter": str(counter)}, outputs=["data"], cache=cache)
    inputs = {"data": FileInput(data)} if data else {"data": make.outputs["data"]}
    total = ProcessingStep("Total", lib.total, inputs={**inputs, "counter": str(counter)}, cache=cache)
    return Pipeline("cached", [make, total])


def test_a_second_run_with_unchanged_inputs_is_served_from_the_cache(service: PipelineService, counter: Path) -> None:
    first = service.run(_pipeline(counter))
    second = service.run(_pipeline(counter))
    assert [s.status for s in second.steps] == [StepStatus.CACHED, StepStatus.CACHED]
    assert lib.runs(counter) == ["numbers", "total"]  # nothing ran the second time
    assert second.step("Total").properties == first.step("Total").properties
    assert second.step("Make").cached_from == first.step("Make").id
    assert second.step("Make").outputs == first.step("Make").outputs  # the same artifacts, by reference
    explained = service.explain_cache(second.id, "Total")
    assert explained.hit and explained.compared_with == first.step("Total").id
    assert service.logs(second.id, "Make") == "writing 5 numbers\n"  # the logs of the run reused


def test_a_changed_parameter_misses_and_says_which(service: PipelineService, counter: Path) -> None:
    service.run(_pipeline(counter))
    changed = service.run(_pipeline(counter), parameters={"n": 6})
    assert [s.status for s in changed.steps] == [StepStatus.SUCCEEDED, StepStatus.SUCCEEDED]
    make = service.explain_cache(changed.id, "Make")
    assert not make.hit
    assert [(d.kind, d.name, d.before, d.after) for d in make.differences] == [("parameter", "n", 5, 6)]
    total = service.explain_cache(changed.id, "Total")
    [diff] = total.differences
    assert (diff.kind, diff.name) == ("input", "Make.outputs['data']")
    assert diff.before != diff.after


def test_changed_input_data_misses(service: PipelineService, counter: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "numbers.json").write_text(json.dumps([1, 2, 3]))
    first = service.run(_pipeline(counter, data=data))
    assert first.step("Total").properties == {"sum": 6.0}
    assert service.run(_pipeline(counter, data=data)).step("Total").status is StepStatus.CACHED
    (data / "numbers.json").write_text(json.dumps([1, 2, 3, 4]))
    third = service.run(_pipeline(counter, data=data))
    assert third.step("Total").properties == {"sum": 10.0}
    [diff] = service.explain_cache(third.id, "Total").differences
    assert (diff.kind, diff.name) == ("input", "file:data")


def test_changed_code_misses_and_shows_the_diff(
    service: PipelineService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = """
        def double(x: int) -> dict:
            return {"y": 2 * x}
    """
    module = write_module(tmp_path, source, monkeypatch)

    def build() -> Pipeline:
        return Pipeline("coded", [ProcessingStep("Double", importlib.reload(module).double, inputs={"x": 4})])

    assert service.run(build()).step("Double").properties == {"y": 8}
    rewrite(module, source.replace("2 * x", "3 * x"))
    changed = service.run(build())
    assert changed.step("Double").properties == {"y": 12}  # the worker ran the new code
    explained = service.explain_cache(changed.id, "Double")
    [diff] = explained.differences
    assert diff.kind == "code"
    assert '-    return {"y": 2 * x}' in (diff.detail or "")
    assert '+    return {"y": 3 * x}' in (diff.detail or "")
    assert [v.version for v in service.list_versions("coded")] == [1, 2]


def test_a_changed_environment_misses_and_names_the_package(
    service: PipelineService, counter: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.run(_pipeline(counter))
    installed = dict(_cache.environment())
    installed["numpy"] = "0.0.1-test"
    monkeypatch.setattr("slipway.pipelines._service.environment", lambda: installed)
    changed = service.run(_pipeline(counter))
    assert changed.step("Make").status is StepStatus.SUCCEEDED
    diffs = service.explain_cache(changed.id, "Make").differences
    assert [(d.kind, d.name, d.after) for d in diffs] == [("environment", "numpy", "0.0.1-test")]


def test_no_cache_opt_out_and_expiry(service: PipelineService, counter: Path) -> None:
    service.run(_pipeline(counter))
    forced = service.run(_pipeline(counter), cache=False)
    assert [s.status for s in forced.steps] == [StepStatus.SUCCEEDED, StepStatus.SUCCEEDED]
    assert "--no-cache" in service.explain_cache(forced.id, "Make").reason

    opted_out = service.run(_pipeline(counter, cache=False))
    assert opted_out.step("Make").status is StepStatus.SUCCEEDED
    assert service.explain_cache(opted_out.id, "Make").reason == "the step opts out of caching (cache=False)"

    expiring = _pipeline(counter, cache=CachePolicy(expire_after=0.001))
    service.run(expiring)
    again = service.run(expiring)
    assert again.step("Make").status is StepStatus.SUCCEEDED
    assert "expired" in service.explain_cache(again.id, "Make").reason


def test_registering_always_runs(service: PipelineService) -> None:
    assert not RegisterModelStep.cacheable
    execution = service.run(Pipeline("sq", [ProcessingStep("Sq", lib.square, inputs={"x": 3})]))
    assert execution.status is ExecutionStatus.SUCCEEDED
    assert "nothing to reuse" in service.explain_cache(execution.id, "Sq").reason
