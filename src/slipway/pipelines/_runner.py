"""The orchestrator: walks one execution's DAG, running ready steps on an executor, up to a limit.

It keeps the DAG's progress in memory (a count of unfinished needs per step, a queue of ready
steps), so a thousand-step DAG costs no more per step than a three-step one. It works in rounds:
take in the results that arrived, start the steps that are ready, record every transition of the
round in one transaction (:meth:`ExecutionStore.batch`), and only then hand the started steps
out: to the executor, or, for light steps, to :func:`~slipway.pipelines._light.run_light` in this
thread. It decides control steps itself, serves cacheable steps from earlier results when their
inputs are unchanged, retries failed attempts by their policy, stops attempts that run past their
timeout, and every half second says it is alive, picks up stop requests and wait-step signals. On
a failure it starts nothing new, lets running steps finish and ends the execution Failed.
"""

from __future__ import annotations

import hashlib
import heapq
import pickle
import queue
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slipway._confinement import Confinement
from slipway._kinds import ObjectKind
from slipway._time import now_ms
from slipway.errors import InvalidInput, NotFound, SlipwayError
from slipway.pipelines import _queries as q
from slipway.pipelines._admission import check_arguments, check_light, check_path
from slipway.pipelines._artifacts import ArtifactRef, describe, read_json, store_path
from slipway.pipelines._cache import cache_key, cache_parts, definition_part
from slipway.pipelines._context import ServiceSpec, TaskInfo
from slipway.pipelines._definition import Pipeline
from slipway.pipelines._executors import Executor
from slipway.pipelines._expressions import JsonGet, OutputRef, resolve
from slipway.pipelines._jsonpath import json_get
from slipway.pipelines._leases import Lease, LeaseLost
from slipway.pipelines._light import run_light
from slipway.pipelines._records import ExecutionStatus, StepStatus
from slipway.pipelines._state import ExecutionStore, Finished
from slipway.pipelines._worker import Assignment, PackedStep, PackedSteps, Task, TaskResult
from slipway.pipelines.steps import TIMEOUT_ERROR, ConditionStep, FailStep, Step, WaitStep
from slipway.store import Database
from slipway.store.artifacts import ArtifactStore, Owner

POLL_S = 0.5
_NAME_WIDTH = 128  # pipeline_step_artifacts.name


@dataclass(frozen=True)
class Plan:
    """What one execution needs: the pipeline, its parameters and how to run it."""

    execution_id: str
    pipeline: Pipeline
    definition: dict[str, Any]
    parameters: dict[str, Any]
    max_parallel: int
    use_cache: bool
    environment_hash: str


@dataclass
class _Attempt:
    name: str
    attempt: int
    deadline: float | None
    inputs: dict[str, ArtifactRef]
    task_id: str


@dataclass
class _Start:
    """A step recorded Running in this round, to hand out once the round is committed."""

    step: Step
    assignment: Assignment


@dataclass
class _Resolution:
    """A step's arguments with values filled in, and what went into them (for the cache and lineage)."""

    args: dict[str, Any]
    artifacts: dict[str, ArtifactRef] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)  # label -> digest or JSON value
    parameters: dict[str, Any] = field(default_factory=dict)


class _Resolver:
    """Fills in one step's operands from the parameters and the finished steps' outputs."""

    def __init__(self, runner: Runner, resolution: _Resolution) -> None:
        self._runner = runner
        self._res = resolution

    def parameter(self, name: str) -> Any:
        value = self._runner.plan.parameters[name]
        self._res.parameters[name] = value
        return value

    def output(self, ref: OutputRef) -> ArtifactRef:
        base = self._runner.outputs[ref.step.name][ref.output]
        found = base
        if ref.path:
            try:
                found = describe(self._runner.artifacts, base.owner, f"{base.path}/{ref.path}")
            except NotFound:
                raise InvalidInput(
                    f"the output {ref.output!r} of step {ref.step.name!r} has no {ref.path!r}", field="inputs"
                ) from None
        self._note(repr(ref), found)
        return found

    def json_get(self, ref: JsonGet) -> Any:
        doc = self._runner.document(ref.step.name, ref.property_file)
        value = json_get(doc, ref.json_path)
        self._res.inputs[_label(repr(ref))] = value
        return value

    def file(self, path: str) -> ArtifactRef:
        found = self._runner.external_file(path)
        self._note(f"file:{Path(path).name}", found)
        return found

    def _note(self, label: str, ref: ArtifactRef) -> None:
        label = _label(label)
        self._res.artifacts[label] = ref
        self._res.inputs[label] = ref.digest


def _label(text: str) -> str:
    if len(text) <= _NAME_WIDTH:
        return text
    return f"{text[: _NAME_WIDTH - 13]}~{hashlib.sha256(text.encode()).hexdigest()[:12]}"


class Runner:
    """Runs one execution to its end in the calling thread; see the module's docstring."""

    def __init__(
        self,
        *,
        db: Database,
        artifacts: ArtifactStore,
        executor: Executor,
        services: ServiceSpec,
        plan: Plan,
        lease: Lease,
        confinement: Confinement | None = None,
        packs: PackedSteps | None = None,
    ) -> None:
        self.confinement = confinement or Confinement()
        self._packs = packs or PackedSteps()  # the service's: kept between its executions
        self.db = db
        self.artifacts = artifacts
        self.store = ExecutionStore(db, lease, hold=True)  # one connection for rounds in a row
        self.executor = executor
        self.services = services
        self.plan = plan
        self.steps = plan.pipeline.steps
        self.dag = plan.pipeline.dag
        self._step_json = {s["name"]: s for s in plan.definition["steps"]}
        self._packed: dict[str, PackedStep] = {}
        self._services_blob: bytes | None = None  # self.services pickled, for every task handed out
        self._definitions: dict[str, str] = {}  # step -> its definition's part of the cache key
        self._admitted: set[str] = set()  # light steps this process agreed to run
        self.outputs: dict[str, dict[str, ArtifactRef]] = {}
        self.properties: dict[str, dict[str, Any] | None] = {}
        self._documents: dict[tuple[str, str | None], Any] = {}
        self._files: dict[str, ArtifactRef] = {}
        self._status: dict[str, StepStatus] = {}
        self._rows: dict[str, q.StepState] = {}
        self._needs: dict[str, int] = {}
        self._ready: deque[str] = deque()
        self._attempts: dict[str, int] = {}  # step -> attempts made so far
        self._running: dict[str, _Attempt] = {}
        self._by_task: dict[str, str] = {}  # task id -> step, of the running attempts
        self._retries: list[tuple[float, str]] = []
        self._waiting: dict[str, float | None] = {}
        self._results: queue.SimpleQueue[TaskResult] = queue.SimpleQueue()  # from executors, any thread
        self._arrived: deque[TaskResult] = deque()  # results taken in by this thread, for the next round
        self._starts: deque[_Start] = deque()  # recorded Running, to hand out after the commit
        self._failure: str | None = None

    def _screen(self, reason: str) -> str:
        """A failure reason as stored for every reader: no path of a server's folders in it."""
        return self.confinement.paths.text(reason)

    # -- the loop ------------------------------------------------------------------------------------

    def run(self) -> ExecutionStatus | None:
        """Run the claimed execution to its end and record the end; return the final status.

        None if the lease was lost on the way (another process took the execution over): the
        steps this one started are killed and nothing more is written.
        """
        execution_id = self.plan.execution_id
        try:
            try:
                status = self._loop()
            except LeaseLost:
                raise
            except BaseException as exc:
                # The round that failed wrote nothing: every step the store has open ends Stopped,
                # on a fresh connection (the held one may be what failed).
                self.store.release()
                self._kill_running("Stopped", "the orchestrator failed")
                self.store.open_steps_ended(execution_id, StepStatus.STOPPED, "the orchestrator failed")
                self.store.finish(
                    execution_id, ExecutionStatus.FAILED,
                    self._screen(f"the orchestrator failed: {type(exc).__name__}: {exc}"),
                )
                raise
            self.store.finish(execution_id, status, self._failure if status is not ExecutionStatus.SUCCEEDED else None)
        except LeaseLost:
            self._abandon()
            return None
        finally:
            self.store.release()
        return status

    def _abandon(self) -> None:
        """Kill the attempts still running, recording nothing: the execution is someone else's now."""
        self._kill_running("Stopped", "the lease was lost")
        self._waiting.clear()

    def _loop(self) -> ExecutionStatus:
        self._restore()
        next_poll = 0.0
        while True:
            now = time.monotonic()
            if now >= next_poll:
                if self._poll():
                    return ExecutionStatus.STOPPED
                next_poll = now + POLL_S
            with self.store.batch():  # the round's transitions, in one transaction, before anything is handed out
                self._take_in()
                self._due_retries(now)
                self._start_ready()
                if self._failure is not None and not self._running:
                    self._retries.clear()
                    self._cancel_running("Stopped", "the execution failed")  # wait steps stop waiting
                self._expire(now)
            self._hand_out()
            if not (self._running or self._waiting or self._retries or (self._ready and self._failure is None)):
                break
            if self._arrived or (self._ready and self._failure is None and len(self._running) < self.plan.max_parallel):
                continue  # light steps ended, or cached ones made others ready: the next round at once
            timeout = (
                min(
                    [
                        next_poll,
                        *(a.deadline for a in self._running.values() if a.deadline),
                        *(t for t, _ in self._retries[:1]),
                    ]
                )
                - time.monotonic()
            )
            self.store.release()  # nothing to do until a result arrives: the connection goes back meanwhile
            try:
                self._arrived.append(self._results.get(timeout=max(timeout, 0.0)))
            except queue.Empty:
                continue
        if self._failure is not None:
            return ExecutionStatus.FAILED
        unfinished = [n for n, s in self._status.items() if not s.terminal]
        if unfinished:
            self._failure = f"steps could not run: {', '.join(unfinished)}"
            return ExecutionStatus.FAILED
        return ExecutionStatus.SUCCEEDED

    def _restore(self) -> None:
        """Load the steps' state: a new execution is all Pending; a resumed one keeps what finished."""
        with self.db.read() as conn:
            for record in q.step_states(conn, self.plan.execution_id):
                self._rows[record.step_name] = record
                self._attempts[record.step_name] = record.attempts
                self._status[record.step_name] = record.status
                if record.status.completed:
                    self.outputs[record.step_name] = record.outputs
                    self.properties[record.step_name] = record.properties
                elif record.status is StepStatus.FAILED:
                    self._failure = self._failure or f"step {record.step_name!r} failed: {record.error}"
        for name in self.dag.order:
            self._needs[name] = sum(not self._status[d].completed for d in self.dag.upstream[name])
            step = self.steps[name]
            if isinstance(step, ConditionStep) and self._status[name].completed:
                outcome = (self.properties.get(name) or {}).get("outcome")
                self._skip(
                    step.branch_names()[1] if outcome else step.branch_names()[0], f"condition {name!r} was {outcome}"
                )
        blocked = [
            n
            for n in self.dag.order
            if self._status[n] is StepStatus.PENDING
            and any(self._status[d] is StepStatus.SKIPPED for d in self.dag.upstream[n])
        ]
        self._skip(blocked, "a step it needs was skipped")
        self._ready.extend(n for n in self.dag.order if self._status[n] is StepStatus.PENDING and self._needs[n] == 0)

    def _poll(self) -> bool:
        """Heartbeat; True when a stop was requested (and everything has been stopped)."""
        control = self.store.heartbeat(self.plan.execution_id)
        if control.stop_requested:
            self._take_in()
            self._cancel_running("Stopped", "the execution was stopped")
            self._failure = "stopped on request"
            return True
        for name, payload in control.signals.items():
            if name in self._waiting:
                del self._waiting[name]
                self._decide(name, StepStatus.SUCCEEDED, properties=payload)
        return False

    def _take_in(self) -> None:
        """Finish the attempts whose results have arrived (all of them: a wide fan-out in one round)."""
        while True:
            while self._arrived:
                self._finish_attempt(self._arrived.popleft())
            try:
                self._arrived.append(self._results.get_nowait())
            except queue.Empty:
                return

    def _kill_running(self, error_type: str, reason: str) -> list[str]:
        """Cancel every running attempt and forget it; return the steps they were of."""
        names = list(self._running)
        for attempt in self._running.values():
            self.executor.cancel(attempt.task_id, error_type, reason)
        self._running.clear()
        self._by_task.clear()
        self._starts.clear()
        return names

    def _cancel_running(self, error_type: str, reason: str) -> None:
        stopped = [*self._kill_running(error_type, reason), *self._waiting]
        self.store.steps_ended([self._rows[n].id for n in stopped], StepStatus.STOPPED, reason)
        for name in stopped:
            self._status[name] = StepStatus.STOPPED
        self._waiting.clear()

    def _expire(self, now: float) -> None:
        for attempt in list(self._running.values()):
            if attempt.deadline is not None and now >= attempt.deadline:
                attempt.deadline = None  # cancel once; the failed result follows
                timeout = self.steps[attempt.name].timeout
                self.executor.cancel(
                    attempt.task_id, TIMEOUT_ERROR, f"the step ran longer than its timeout of {timeout:g}s"
                )
        wall = time.time()
        for name, deadline in list(self._waiting.items()):
            if deadline is not None and wall >= deadline:
                del self._waiting[name]
                self._decide(
                    name,
                    StepStatus.FAILED,
                    error_type=TIMEOUT_ERROR,
                    error=f"no signal arrived within {self.steps[name].timeout:g}s",
                )

    def _due_retries(self, now: float) -> None:
        while self._retries and self._retries[0][0] <= now:
            _, name = heapq.heappop(self._retries)
            if self._failure is None:
                self._ready.appendleft(name)

    # -- starting steps ------------------------------------------------------------------------------

    def _start_ready(self) -> None:
        while self._ready and self._failure is None and len(self._running) < self.plan.max_parallel:
            name = self._ready.popleft()
            step = self.steps[name]
            try:
                if isinstance(step, ConditionStep):
                    self._condition(step)
                elif isinstance(step, FailStep):
                    message = str(resolve(step.message, _Resolver(self, _Resolution({})))) or f"{name} failed"
                    self._decide(name, StepStatus.FAILED, error_type="PipelineFailed", error=message)
                elif isinstance(step, WaitStep):
                    self._wait(step)
                else:
                    self._launch(step)
            except SlipwayError as exc:  # its inputs could not be resolved: the step fails, named
                self._decide(name, StepStatus.FAILED, error_type=type(exc).__name__, error=exc.message)

    def _condition(self, step: ConditionStep) -> None:
        outcome = step.evaluate(_Resolver(self, _Resolution({})))
        taken, not_taken = step.branch_names() if outcome else reversed(step.branch_names())
        self._skip(not_taken, f"condition {step.name!r} was {outcome}")
        self._decide(
            step.name,
            StepStatus.SUCCEEDED,
            properties={"outcome": outcome, "branch": "if" if outcome else "else", "steps": taken},
        )

    def _wait(self, step: WaitStep) -> None:
        row = self._rows[step.name]
        if row.wait_deadline is not None:
            deadline: float | None = row.wait_deadline / 1000
        else:
            deadline = None if step.timeout is None else time.time() + step.timeout
        self._waiting[step.name] = deadline
        self._status[step.name] = StepStatus.WAITING
        self.store.step_waiting(row.id, None if deadline is None else int(deadline * 1000))

    def _launch(self, step: Step) -> None:
        """Resolve the step's inputs, and ask the store to serve it from the cache or mark it Running
        (:meth:`_begun` learns which once the round is written)."""
        name = step.name
        if step.light and name not in self._admitted:  # the server decides what runs in its process
            code = step.code()
            check_light(self.confinement, name, None if code is None else code.ref)
            self._admitted.add(name)
        resolution = _Resolution({})
        resolver = _Resolver(self, resolution)
        resolution.args = {k: resolve(v, resolver) for k, v in step.arguments().items()}
        settings = step.resolve_settings(resolver)  # parameters and properties given for literal arguments
        check_arguments(step, resolution.args, self.confinement)
        step_json = self._step_json[name]
        definition = self._definitions.get(name)
        if definition is None:
            definition = self._definitions[name] = definition_part(step_json)
        parts = cache_parts(
            step_json, resolution.inputs, resolution.parameters, self.plan.environment_hash, definition=definition
        )
        key = cache_key(parts)
        row = self._rows[name]
        attempt = self._attempts[name] + 1
        reuse_after = None
        if self.plan.use_cache and step.cacheable and step.cache.enabled:
            expire = step.cache.expire_after
            reuse_after = 0 if expire is None else now_ms() - int(expire * 1000)
        task_id = f"{row.id}:{attempt}"
        deadline = None if step.timeout is None else time.monotonic() + step.timeout
        self._running[name] = _Attempt(name, attempt, deadline, resolution.artifacts, task_id)  # counts as running
        assignment = Assignment(
            id=task_id,
            info=TaskInfo(self.plan.pipeline.name, self.plan.execution_id, name, row.id, attempt),
            args=resolution.args,
            services=self.services,
            screened=self.confinement.paths.active,
        )
        start = _Start(step.settled(settings), assignment)
        self.store.begin_step(
            row.id,
            attempt,
            cache_key=key,
            cache_parts=parts,
            inputs=resolution.artifacts,
            reuse_after=reuse_after,
            then=lambda reused: self._begun(start, reused),
        )

    def _begun(self, start: _Start, reused: Finished | None) -> None:
        """The round is written: a cached step is complete; a Running one is handed out next."""
        name = start.assignment.info.step_name
        if reused is not None:
            del self._running[name]
            self._complete(name, StepStatus.CACHED, reused.outputs, reused.properties)
            return
        self._attempts[name] = start.assignment.info.attempt
        self._status[name] = StepStatus.RUNNING
        self._by_task[start.assignment.id] = name
        self._starts.append(start)

    def _hand_out(self) -> None:
        """Start what the last round recorded Running: light steps here and now, the others on the executor."""
        while self._starts:
            start = self._starts.popleft()
            if start.step.light:
                self._arrived.append(run_light(start.assignment, start.step))
                continue
            name = start.step.name
            packed = self._packed.get(name)
            if packed is None:
                step = start.step
                packed = self._packed[name] = (
                    self._packs.get(step, self._step_json[name]) if step is self.steps[name]
                    else PackedStep.of(step)  # settings resolved for this execution: its own copy
                )
            if self._services_blob is None:
                self._services_blob = pickle.dumps(self.services)
            task = Task(**vars(start.assignment), step=packed, services_blob=self._services_blob)
            self.executor.submit(task, self._results.put)

    # -- finishing steps -----------------------------------------------------------------------------

    def _finish_attempt(self, result: TaskResult) -> None:
        name = self._by_task.pop(result.task_id, None)
        if name is None:
            return  # a late result of an attempt already given up on (stopped)
        attempt = self._running.pop(name)
        row = self._rows[name]
        if result.ok:
            finished = Finished(
                outputs=result.outputs, inputs=attempt.inputs, properties=result.properties, run_id=result.run_id
            )
            self.store.step_succeeded(row.id, attempt.attempt, finished, worker=result.worker)
            self._complete(name, StepStatus.SUCCEEDED, result.outputs, result.properties)
            return
        policy = self.steps[name].retry
        error = self._screen(result.error or "the step failed")
        error_type = result.error_type or "Exception"
        retrying = (
            policy is not None and self._failure is None and policy.should_retry(attempt.attempt, result.error_types)
        )
        self.store.step_failed(
            row.id, attempt.attempt, error_type=error_type, error=error, retrying=retrying, worker=result.worker
        )
        if retrying:
            assert policy is not None
            self._status[name] = StepStatus.PENDING
            heapq.heappush(self._retries, (time.monotonic() + policy.delay(attempt.attempt), name))
        else:
            self._status[name] = StepStatus.FAILED
            self._failure = self._failure or f"step {name!r} failed: {error}"

    def _decide(
        self,
        name: str,
        status: StepStatus,
        *,
        properties: dict[str, Any] | None = None,
        error: str | None = None,
        error_type: str | None = None,
    ) -> None:
        """End a step the orchestrator decides itself (control steps, unresolvable inputs)."""
        error = None if error is None else self._screen(error)
        self.store.step_decided(
            self._rows[name].id,
            status,
            properties=properties,
            error=error,
            error_type=error_type,
        )
        if status is StepStatus.FAILED:
            self._status[name] = status
            self._failure = self._failure or (
                error if error_type == "PipelineFailed" else f"step {name!r} failed: {error}"
            )
        else:
            self._complete(name, status, {}, properties)

    def _complete(
        self, name: str, status: StepStatus, outputs: Mapping[str, ArtifactRef], properties: dict[str, Any] | None
    ) -> None:
        self._status[name] = status
        self.outputs[name] = dict(outputs)
        self.properties[name] = properties
        for child in self.dag.downstream[name]:
            self._needs[child] -= 1
            if self._needs[child] == 0 and self._status[child] is StepStatus.PENDING:
                self._ready.append(child)

    def _skip(self, names: Any, reason: str) -> None:
        """Mark steps Skipped, and with them every pending step that needs one of them."""
        todo = [n for n in names if self._status[n] is StepStatus.PENDING]
        skipped: list[str] = []
        while todo:
            name = todo.pop()
            if self._status[name] is not StepStatus.PENDING:
                continue
            self._status[name] = StepStatus.SKIPPED
            skipped.append(name)
            todo.extend(c for c in self.dag.downstream[name] if self._status[c] is StepStatus.PENDING)
        self.store.steps_ended([self._rows[n].id for n in skipped], StepStatus.SKIPPED, reason)

    # -- values for the resolver ---------------------------------------------------------------------

    def document(self, step: str, property_file: str | None) -> Any:
        """A step's properties, or one of its property files read from its output (read once)."""
        if property_file is None:
            return self.properties.get(step) or {}
        key = (step, property_file)
        if key not in self._documents:
            declared = next(p for p in self.steps[step].property_files if p.name == property_file)
            base = self.outputs[step][declared.output]
            try:
                ref = describe(self.artifacts, base.owner, f"{base.path}/{declared.path}")
            except NotFound:
                raise InvalidInput(
                    f"step {step!r} wrote no property file {declared.path!r} in its output {declared.output!r}",
                    field="property_file",
                ) from None
            self._documents[key] = read_json(self.artifacts, ref)
        return self._documents[key]

    def external_file(self, path: str) -> ArtifactRef:
        """A local file or folder given to the pipeline, stored under the execution (once)."""
        if path not in self._files:
            check_path(self.confinement, path, field="inputs")
            local = Path(path)
            if not local.exists():
                raise InvalidInput(f"no file or folder at {path}", field="inputs")
            where = f"inputs/{hashlib.sha256(path.encode()).hexdigest()[:16]}/{local.name}"
            owner = Owner(ObjectKind.PIPELINE_EXECUTION, self.plan.execution_id)
            self._files[path] = store_path(self.artifacts, owner, where, local)
        return self._files[path]
