"""Explaining a cache decision: hit (from where), or miss (what changed since the step last ran)."""

from __future__ import annotations

import json
from typing import Any

from slipway._time import datetime_to_ms
from slipway.pipelines import _queries as q
from slipway.pipelines._cache import differences
from slipway.pipelines._records import CacheExplanation, PipelineExecution, StepExecution, StepStatus
from slipway.pipelines._versions import VersionStore
from slipway.pipelines.steps import STEP_TYPES
from slipway.store import Database


def explain(
    db: Database, versions: VersionStore, execution: PipelineExecution, step: StepExecution
) -> CacheExplanation:
    """Why ``step`` of ``execution`` was, or was not, served from the cache."""

    def answer(hit: bool, reason: str, compared_with: str | None = None, found: list | None = None) -> CacheExplanation:
        return CacheExplanation(
            execution_id=execution.id,
            step_name=step.step_name,
            status=step.status,
            hit=hit,
            reason=reason,
            compared_with=compared_with,
            differences=found or [],
        )

    if step.status is StepStatus.CACHED:
        with db.read() as conn:
            source = q.step_row(conn, step.cached_from) if step.cached_from else None
        where = f" (execution {source.execution_id})" if source is not None else ""
        how = "the reference execution" if step.cache_key is None else "an earlier run with the same cache key"
        return answer(
            True,
            f"served from the cache: the outputs of step execution {step.cached_from}{where}, {how}",
            step.cached_from,
        )
    with db.read() as conn:
        row = q.step_row(conn, step.id)
        if row.cache_parts is None:
            return answer(False, f"the step did not run in this execution (it is {step.status.value})")
        current = q.execution_row(conn, execution.id)
        previous = q.previous_run(conn, current.pipeline_id, step.step_name, step.id)
    step_type = STEP_TYPES.get(step.step_type)
    if step_type is not None and not step_type.cacheable:
        return answer(False, f"{step.step_type} steps always run: their effect is wanted every time")
    definition = versions.version_by_id(execution.version_id).definition
    step_json: dict[str, Any] = next((s for s in definition["steps"] if s["name"] == step.step_name), {})
    policy = step_json.get("cache") or {}
    if not policy.get("enabled", True):
        return answer(False, "the step opts out of caching (cache=False)")
    no_cache = not execution.options.get("cache", True)
    off = "; caching was off for this execution (--no-cache)" if no_cache else ""
    if previous is None:
        return answer(False, f"no earlier execution of this step ran: there was nothing to reuse{off}")
    before, after = json.loads(previous.cache_parts), json.loads(row.cache_parts)
    old_definition = versions.version_by_id(previous.version_id).definition
    old_step = next((s for s in old_definition["steps"] if s["name"] == step.step_name), None)
    found = differences(
        before,
        after,
        code_sources=(
            versions.code_source(previous.version_id, step.step_name),
            versions.code_source(execution.version_id, step.step_name),
        ),
        environments=(json.loads(previous.environment), json.loads(current.environment)),
        definitions=(old_step, step_json),
    )
    if found:
        kinds = ", ".join(dict.fromkeys(d.kind for d in found))
        return answer(False, f"changed since step execution {previous.id}: {kinds}{off}", previous.id, found)
    if no_cache:
        return answer(
            False,
            f"nothing changed since step execution {previous.id}, but caching was off for this execution (--no-cache)",
            previous.id,
        )
    if previous.status == StepStatus.FAILED.value:
        return answer(False, f"the earlier run with the same inputs (step execution {previous.id}) failed", previous.id)
    expire = policy.get("expire_after")
    if (
        expire is not None
        and step.started_at is not None
        and previous.ended_at is not None
        and datetime_to_ms(step.started_at, "started_at") - previous.ended_at > expire * 1000
    ):
        return answer(
            False, f"the earlier result (step execution {previous.id}) had expired: older than {expire:g}s", previous.id
        )
    return answer(
        False,
        f"the earlier result (step execution {previous.id}) is no longer stored, or was still "
        "running when this step started",
        previous.id,
    )
