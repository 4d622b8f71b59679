"""The pipelines service: every face (SDK, CLI, REST) starts, follows and steers executions through it.

An execution is orchestrated by a thread of a process holding its lease (:mod:`slipway.pipelines._leases`,
:class:`~slipway.pipelines._runner.Runner`) whose steps run on an executor: the local pool of warm
worker processes, or Ray. Embedded, the process that starts an execution holds it. A server's
service queues what it starts (``queue``): any server or worker with the same settings claims it
(:meth:`PipelineService.orchestrate_queued`), and when the holder dies another takes it over.
State lives in the metadata DB, so any process (a CLI, a server) can list, describe, stop,
resume, retry or signal an execution, whoever orchestrates it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, BinaryIO

from slipway._confinement import Confinement
from slipway._kinds import ObjectKind
from slipway._operations import Api, Wire, composed
from slipway._time import now_ms
from slipway.errors import Conflict, InvalidInput, NotFound, SlipwayError
from slipway.pipelines import _queries as q
from slipway.pipelines._admission import check_definition, check_parameters
from slipway.pipelines._artifacts import ArtifactRef
from slipway.pipelines._cache import digest, environment
from slipway.pipelines._context import ServiceSpec
from slipway.pipelines._definition import Pipeline
from slipway.pipelines._executors import Executor, RayExecutor
from slipway.pipelines._explain import explain
from slipway.pipelines._leases import DEFAULT_LEASE_SECONDS, LeaseKeeper, LeaseLost, claim, claimable
from slipway.pipelines._liveness import orchestrator_id
from slipway.pipelines._outputs import output_files, output_location
from slipway.pipelines._pool import LocalExecutor
from slipway.pipelines._records import (
    CacheExplanation,
    DefinitionDiff,
    ExecutionStatus,
    ExpiredExecution,
    OutputFile,
    PipelineExecution,
    PipelineSummary,
    PipelineVersion,
    StepExecution,
    StepStatus,
)
from slipway.pipelines._requests import ExecutionRequests
from slipway.pipelines._retention import delete_execution, existing_executions, expired_executions
from slipway.pipelines._runner import Plan, Runner
from slipway.pipelines._state import ExecutionStore, NewStep
from slipway.pipelines._studies import delete_study, execution_of, study_names
from slipway.pipelines._versions import VersionStore
from slipway.pipelines._worker import PackedSteps
from slipway.security import Permission, requires
from slipway.store import Database
from slipway.store.artifacts import ArtifactStore, Owner

EXECUTORS = ("local", "ray")
DEFAULT_MAX_EXECUTIONS = 16
_WAIT_POLL_S = 0.2
_STOP_GRACE_S = 10.0

PipelineName = Annotated[Pipeline | str, Wire(str, name="name")]  # over HTTP, a stored pipeline's name
PipelineDefinition = Annotated[  # over HTTP, the pipeline's JSON definition
    Pipeline | Mapping[str, Any],
    Wire(dict[str, Any], to_wire=lambda p: p.definition() if isinstance(p, Pipeline) else dict(p)),
]
api = Api("pipelines")  # the REST routes and remote methods derive from these declarations (slipway._operations)


class PipelineService:
    """Pipelines, their versions and executions.

    Args:
        db: the metadata database.
        artifacts: the artifact store (step outputs, logs, code sources).
        services: how worker processes build the store's services (``ServiceSpec(Backend, settings)``).
        local_executor: the pool of worker processes to run local steps on; by default one is made
            on first use and closed with the service. Pass one to share warm workers between services.
        confinement: the code, scripts and local paths definitions may name (embedded: any). A
            server sets its own (``Backend.confine``), from its ``pipeline_modules`` and
            ``dataset_roots``; it is checked whenever a definition is registered or loaded, when an
            execution starts, and as each step's inputs are resolved.
        queue: executions started here are queued: any server or worker on the same database may
            claim them, and take them over when their holder dies. ``Backend.confine`` turns it on.
        orchestrate: whether this process orchestrates what it starts or resumes (claiming it at
            once); False leaves them to workers (``slipway server`` with its worker processes).
        lease_seconds: how long an orchestrator's lease lasts unless renewed (it is renewed every
            half second while the execution runs): how soon another takes over a dead holder's work.
        max_executions: executions :meth:`orchestrate_queued` runs at once in this process at most.

    Example:
        >>> from slipway import Client
        >>> client = Client(home="/tmp/slipway-doc")
        >>> execution = client.pipelines.run(pipeline, parameters={"mse_threshold": 5.0})  # doctest: +SKIP
        >>> [(s.step_name, s.status.value) for s in execution.steps]  # doctest: +SKIP
        [('Preprocess', 'Succeeded'), ('Train', 'Succeeded'), ...]
    """

    def __init__(
        self,
        db: Database,
        artifacts: ArtifactStore,
        services: ServiceSpec,
        *,
        local_executor: LocalExecutor | None = None,
        confinement: Confinement | None = None,
        queue: bool = False,
        orchestrate: bool = True,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        max_executions: int = DEFAULT_MAX_EXECUTIONS,
    ) -> None:
        self.confinement = confinement or Confinement()
        self.queue = queue
        self.orchestrate = orchestrate
        self.max_executions = max_executions
        self._lease_ms = max(1, int(lease_seconds * 1000))
        self._db = db
        self._artifacts = artifacts
        self._services = services
        self._versions = VersionStore(db, artifacts)
        self._state = ExecutionStore(db)
        self._requests = ExecutionRequests(db)
        self._local = local_executor
        self._owns_local = local_executor is None
        self._ray: RayExecutor | None = None
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._packs = PackedSteps()  # steps pickled for workers, kept while their objects live
        self._closing = False

    # -- pipelines and versions -----------------------------------------------------------------------

    @requires(Permission.WRITE)
    def register(self, pipeline: Pipeline) -> PipelineVersion:
        """The version of ``pipeline``'s current definition, created if it is new."""
        return self._versions.register(pipeline)

    @api.post("/pipelines", status=201, name="register_pipeline")
    @requires(Permission.WRITE)
    def register_definition(self, definition: Mapping[str, Any]) -> PipelineVersion:
        """Register a pipeline sent as its JSON definition (:meth:`Pipeline.definition`).

        The definition is held to this service's confinement before any of its code is imported
        or any file it names is read: on a server, its steps may name code only from the server's
        ``pipeline_modules``.

        Args:
            definition: the pipeline's JSON definition (Pipeline.definition())

        Raises:
            InvalidInput: for a malformed definition, or code that cannot be imported here.
            PermissionDenied: for code, a script or a local path the confinement does not allow.
        """
        return self._versions.register(Pipeline.from_definition(definition, self.confinement))

    @api.get("/pipelines")
    @requires(Permission.READ)
    def list_pipelines(self) -> list[PipelineSummary]:
        return self._versions.list_pipelines()

    @api.get("/pipelines/{name}")
    @requires(Permission.READ)
    def get_pipeline(self, name: str) -> PipelineSummary:
        return self._versions.get_pipeline(name)

    @api.get("/pipelines/{name}/versions")
    @requires(Permission.READ)
    def list_versions(self, name: str) -> list[PipelineVersion]:
        return self._versions.list_versions(name)

    @api.get("/pipelines/{name}/versions/latest", fixed={"version": None}, name="get_latest_version")
    @api.get("/pipelines/{name}/versions/{version}")
    @requires(Permission.READ)
    def get_version(self, name: str, version: int | None = None) -> PipelineVersion:
        """A version of a pipeline (its newest when ``version`` is None)."""
        return self._versions.get_version(name, version)

    @api.get("/pipelines/{name}/diff", name="diff_versions")
    @requires(Permission.READ)
    def diff(self, name: str, from_version: int, to_version: int) -> DefinitionDiff:
        """What changed in the definition from one version to another."""
        return self._versions.diff(name, from_version, to_version)

    # -- starting ---------------------------------------------------------------------------------

    @api.post("/pipelines/{name}/executions", status=201, name="start_execution")
    @requires(Permission.WRITE)
    def start(
        self,
        pipeline: PipelineName,
        *,
        parameters: Mapping[str, Any] | None = None,
        version: int | None = None,
        executor: str = "local",
        max_parallel: int | None = None,
        cache: bool = True,
        steps: Sequence[str] | None = None,
        reference_execution: str | None = None,
    ) -> PipelineExecution:
        """Start an execution and return it at once, Running or Pending: orchestrated by this
        process, or queued until a worker claims it (a server's executions are queued).

        Args:
            pipeline: a pipeline object, or the name of a stored one (its code imported now).
            parameters: parameter name -> value, for its parameters; others keep their defaults.
            version: the version to run; the newest by default. With a name only: it must match
                the code as it is now.
            executor: local or ray (warm worker processes of this machine, or a Ray cluster).
            max_parallel: steps running at once at most (by default one per CPU).
            cache: false runs every step, reusing nothing, even when an earlier result could be reused.
            steps: run only these steps; the others' outputs come from ``reference_execution``.
            reference_execution: where the other steps' outputs come from: the execution to take the
                outputs of steps not run from.

        Raises:
            InvalidInput: for an invalid pipeline, parameter, option or selection (naming it).
            NotFound: for an unknown pipeline, version or reference execution.
            Conflict: if ``version`` no longer matches the code.
        """
        return self.get_execution(
            self._start(
                pipeline, parameters=parameters, version=version, executor=executor, max_parallel=max_parallel,
                cache=cache, steps=steps, reference_execution=reference_execution,
            )
        )

    def _start(
        self,
        pipeline: PipelineName,
        *,
        parameters: Mapping[str, Any] | None = None,
        version: int | None = None,
        executor: str = "local",
        max_parallel: int | None = None,
        cache: bool = True,
        steps: Sequence[str] | None = None,
        reference_execution: str | None = None,
    ) -> str:
        """:meth:`start` up to the execution's id (what :meth:`run` needs)."""
        if isinstance(pipeline, str):
            pipeline = self._load(pipeline, version)
        elif self.confinement.remote:  # an object built in this process: held to the same rules
            check_definition(pipeline.definition(), self.confinement)
        values = pipeline.resolve_parameters(parameters)
        check_parameters(pipeline.steps, values, self.confinement)
        if executor not in EXECUTORS:
            raise InvalidInput(f"executor must be one of {', '.join(EXECUTORS)}, not {executor!r}", field="executor")
        parallel = max_parallel if max_parallel is not None else (os.cpu_count() or 1)
        if not isinstance(parallel, int) or parallel < 1:
            raise InvalidInput("max_parallel must be a positive integer", field="max_parallel")
        new_steps = self._plan_steps(pipeline, steps, reference_execution)
        stored = self.register(pipeline)
        options = {
            "executor": executor,
            "max_parallel": parallel,
            "cache": bool(cache),
            "steps": None if steps is None else list(steps),
        }
        env = environment()
        execution_id = self._state.create(
            pipeline_id=self._versions.get_pipeline(pipeline.name).id,
            version_id=stored.id,
            parameters=values,
            options=options,
            environment=env,
            reference_id=reference_execution,
            steps=new_steps,
            queued=self.queue,
        )
        if self.orchestrate:
            self._claim_and_launch(execution_id, pipeline, stored.definition, values, options, digest(env))
        return execution_id

    @requires(Permission.WRITE)
    def run(
        self, pipeline: Pipeline | str, *, parameters: Mapping[str, Any] | None = None, **options: Any
    ) -> PipelineExecution:
        """Start an execution and wait for its end; return it with its steps (see :meth:`start`).

        The execution is read once, at its end: not also as it starts, as ``start`` returns it
        (for a chain of no-op steps that first read of every step was a tenth of the run). Over
        HTTP it is ``start``, then ``wait``.
        """
        return self.wait(self._start(pipeline, parameters=parameters, **options))

    @api.post("/pipeline-executions/{execution_id}/resume", body="pipeline", name="resume_execution")
    @requires(Permission.WRITE)
    def resume(self, execution_id: str, *, pipeline: PipelineDefinition | None = None) -> PipelineExecution:
        """Carry on an Interrupted or Stopped execution: finished steps are not run again.

        The pipeline is rebuilt from the execution's version, importing its code; pass
        ``pipeline`` when its functions cannot be imported by name (defined in ``__main__``).
        Over HTTP its JSON definition travels, and the server imports the code it names.

        Args:
            pipeline: the pipeline object, or its JSON definition (optional: the execution's own
                version by default).

        Raises:
            Conflict: if the execution is not Interrupted or Stopped, or the code changed since
                its version was made (``retry`` runs the code as it is now).
        """
        self._requests.mark_interrupted(now_ms())
        execution = self.get_execution(execution_id)
        stored = self._versions.version_by_id(execution.version_id)
        pipeline = self._pipeline(pipeline if pipeline is not None else stored.definition)
        if pipeline.digest() != stored.digest:
            raise Conflict(
                f"the pipeline's code or definition changed since version {stored.version} of "
                f"{stored.pipeline!r}; `retry` runs it as it is now",
                field="execution_id",
            )
        self._requests.prepare_resume(execution_id)
        if self.orchestrate or not execution.queued:
            env = digest(environment())
            self._claim_and_launch(execution_id, pipeline, stored.definition, execution.parameters, execution.options,
                                   env)
        return self.get_execution(execution_id)

    @api.post("/pipeline-executions/{execution_id}/retry", status=201, body="pipeline", name="retry_execution")
    @requires(Permission.WRITE)
    def retry(self, execution_id: str, *, pipeline: PipelineDefinition | None = None) -> PipelineExecution:
        """Run the steps of an ended execution that did not finish, and those after them, as a new
        execution with the code as it is now; the other steps' outputs are reused.

        Args:
            pipeline: the pipeline to run, as an object or its JSON definition (optional: by default
                the execution's version, its code imported as it is now).

        Raises:
            Conflict: if the execution succeeded or is still running.
        """
        self._requests.mark_interrupted(now_ms())
        old = self.get_execution(execution_id)
        if old.status in (ExecutionStatus.SUCCEEDED, ExecutionStatus.RUNNING, ExecutionStatus.PENDING):
            raise Conflict(
                f"pipeline execution {execution_id} is {old.status.value}; only one that failed, "
                "stopped or was interrupted can be retried",
                field="execution_id",
            )
        pipeline = self._pipeline(pipeline if pipeline is not None
                                  else self._versions.version_by_id(old.version_id).definition)
        done = {s.step_name for s in old.steps if s.status.completed}
        redo = pipeline.dag.descendants(n for n in pipeline.steps if n not in done)
        return self.start(
            pipeline,
            parameters=old.parameters,
            executor=old.options.get("executor", "local"),
            max_parallel=old.options.get("max_parallel"),
            cache=old.options.get("cache", True),
            steps=[n for n in pipeline.dag.order if n in redo],
            reference_execution=execution_id,
        )

    def _pipeline(self, given: Pipeline | Mapping[str, Any]) -> Pipeline:
        """A pipeline object as it is, a definition built (held to this service's confinement)."""
        return given if isinstance(given, Pipeline) else Pipeline.from_definition(given, self.confinement)

    def _load(self, name: str, version: int | None) -> Pipeline:
        stored = self._versions.get_version(name, version)
        pipeline = Pipeline.from_definition(stored.definition, self.confinement)
        if version is not None and pipeline.digest() != stored.digest:
            raise Conflict(
                f"the code of pipeline {name!r} changed since version {version}; start it without a "
                "version to run the code as it is now",
                field="version",
            )
        return pipeline

    def _plan_steps(self, pipeline: Pipeline, selected: Sequence[str] | None, reference: str | None) -> list[NewStep]:
        """The step rows of a new execution: all Pending, or for a selection, the rest taken from a reference.

        Steps not selected reuse the reference's outputs, unless they come after a selected step
        (their outputs were made from what is being redone): those are Skipped.
        """
        steps = pipeline.steps
        if selected is None:
            return [NewStep(n, steps[n].type_name) for n in pipeline.dag.order]
        unknown = sorted(set(selected) - set(steps))
        if unknown:
            raise InvalidInput(f"pipeline {pipeline.name!r} has no step {unknown[0]!r}", field="steps")
        earlier = {s.step_name: s for s in self.get_execution(reference).steps} if reference else {}
        needed = pipeline.dag.ancestors(selected) - set(selected)
        stale = pipeline.dag.descendants(selected)  # outputs made from the old ones: not reused
        out = []
        for name in pipeline.dag.order:
            before = earlier.get(name)
            if name in selected:
                out.append(NewStep(name, steps[name].type_name))
            elif name not in stale and before is not None and before.status.completed:
                out.append(
                    NewStep(
                        name,
                        steps[name].type_name,
                        StepStatus.CACHED,
                        cached_from=before.cached_from or before.id,
                        properties=before.properties,
                        run_id=before.run_id,
                        outputs={
                            o.name: ArtifactRef(o.owner_kind, o.owner_id, o.path, o.is_dir, o.digest)
                            for o in before.outputs
                        },
                    )
                )
            elif name in needed and not (before is not None and before.status is StepStatus.SKIPPED):
                where = f"execution {reference}" if reference else "a reference execution (none was given)"
                raise InvalidInput(
                    f"step {name!r} is not selected, and the selected steps need its outputs, "
                    f"which {where} does not have",
                    field="steps",
                )
            else:
                out.append(NewStep(name, steps[name].type_name, StepStatus.SKIPPED, error="not selected"))
        return out

    @requires(Permission.WRITE)
    def orchestrate_queued(self) -> list[str]:
        """Claim queued executions nobody holds and orchestrate them in threads of this process.

        New and resumed executions are started; those whose orchestrator's lease ran out are
        taken over, their finished steps kept. At most ``max_executions`` run here at once. A
        worker calls this in a loop; it returns the ids claimed.
        """
        with self._lock:
            room = self.max_executions - len(self._threads)
            if self._closing:
                return []
        claimed: list[str] = []
        if room <= 0:
            return claimed
        for execution_id in claimable(self._db, room):
            lease = claim(self._db, execution_id, orchestrator_id(), self._lease_ms)
            if lease is not None:
                self._adopt(LeaseKeeper(self._db, lease).start())
                claimed.append(execution_id)
        return claimed

    @requires(Permission.WRITE)
    def warm(self) -> None:
        """Start the local pool's worker processes now, so the first step claimed does not wait for them."""
        self._executor("local")

    def _adopt(self, keeper: LeaseKeeper) -> None:
        """Orchestrate a claimed execution, rebuilding its pipeline from its version's definition.

        If this process cannot (its code cannot be imported here, or differs from the version's),
        the execution fails, saying why: another worker would fail the same way.
        """
        lease = keeper.lease
        with self._db.read() as conn:
            execution = q.get_execution(conn, lease.execution_id)
        try:
            stored = self._versions.version_by_id(execution.version_id)
            pipeline = Pipeline.from_definition(stored.definition, self.confinement)
            if pipeline.digest() != stored.digest:
                raise Conflict(
                    f"the code of pipeline {stored.pipeline!r} in this worker differs from version "
                    f"{stored.version}'s: it cannot run it",
                    field="version",
                )
            self._launch(
                keeper, pipeline, stored.definition, execution.parameters, execution.options, digest(environment())
            )
        except Exception as exc:
            self._fail_claimed(keeper, exc)

    def _fail_claimed(self, keeper: LeaseKeeper, exc: Exception) -> None:
        """End an execution this process claimed and could not orchestrate: Failed, saying why."""
        keeper.stop()
        reason = exc.message if isinstance(exc, SlipwayError) else f"{type(exc).__name__}: {exc}"
        store = ExecutionStore(self._db, keeper.lease)
        with contextlib.suppress(LeaseLost):
            store.open_steps_ended(keeper.lease.execution_id, StepStatus.STOPPED, reason)
            store.finish(keeper.lease.execution_id, ExecutionStatus.FAILED, f"it could not be orchestrated: {reason}")

    def _claim_and_launch(
        self,
        execution_id: str,
        pipeline: Pipeline,
        definition: dict[str, Any],
        parameters: dict[str, Any],
        options: Mapping[str, Any],
        environment_hash: str,
    ) -> None:
        lease = claim(self._db, execution_id, orchestrator_id(), self._lease_ms)
        if lease is None:  # a worker claimed it first, or it was stopped meanwhile
            return
        keeper = LeaseKeeper(self._db, lease).start()
        try:
            self._launch(keeper, pipeline, definition, parameters, options, environment_hash)
        except Exception as exc:
            self._fail_claimed(keeper, exc)
            raise

    def _launch(
        self,
        keeper: LeaseKeeper,
        pipeline: Pipeline,
        definition: dict[str, Any],
        parameters: dict[str, Any],
        options: Mapping[str, Any],
        environment_hash: str,
    ) -> None:
        execution_id = keeper.lease.execution_id
        plan = Plan(
            execution_id=execution_id,
            pipeline=pipeline,
            definition=definition,
            parameters=dict(parameters),
            max_parallel=int(options.get("max_parallel") or 1),
            use_cache=bool(options.get("cache", True)),
            environment_hash=environment_hash,
        )
        runner = Runner(
            db=self._db,
            artifacts=self._artifacts,
            executor=self._executor(options.get("executor", "local")),
            services=self._services,
            plan=plan,
            lease=keeper.lease,
            confinement=self.confinement,
            packs=self._packs,
        )
        thread = threading.Thread(target=self._orchestrate, args=(runner, keeper),
                                  name=f"slipway-pipeline-{execution_id}")
        with self._lock:
            self._threads[execution_id] = thread
        thread.start()

    def _orchestrate(self, runner: Runner, keeper: LeaseKeeper) -> None:
        try:
            runner.run()
        finally:
            keeper.stop()
            with self._lock:
                self._threads.pop(runner.plan.execution_id, None)
                last = not self._threads
            if last and self._closing:
                self._close_executors()

    def _executor(self, name: str) -> Executor:
        with self._lock:
            if name == "ray":
                if self._ray is None:
                    self._ray = RayExecutor()
                return self._ray
            if self._local is None:
                self._local = LocalExecutor()
                self._local.warm()  # workers start while the first steps are being prepared
            return self._local

    # -- following and steering ---------------------------------------------------------------------

    @api.get("/pipeline-executions/{execution_id}")
    @requires(Permission.READ)
    def get_execution(self, execution_id: str) -> PipelineExecution:
        """An execution with its steps; one whose orchestrator died is reported Interrupted."""
        self._requests.mark_interrupted(now_ms())
        with self._db.read() as conn:
            return q.get_execution(conn, execution_id)

    @api.get("/pipeline-executions")
    @requires(Permission.READ)
    def list_executions(
        self, *, pipeline: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[PipelineExecution]:
        """The newest executions first (without their steps), of one pipeline or all."""
        self._requests.mark_interrupted(now_ms())
        with self._db.read() as conn:
            return q.list_executions(conn, pipeline=pipeline, status=status, limit=limit)

    @api.get("/pipeline-executions/{execution_id}/steps/{step}")
    @requires(Permission.READ)
    def get_step(self, execution_id: str, step: str) -> StepExecution:
        try:
            return self.get_execution(execution_id).step(step)
        except KeyError:
            raise NotFound(f"pipeline execution {execution_id} has no step {step!r}", field="step") from None

    @requires(Permission.READ)
    def wait(self, execution_id: str, timeout: float | None = None) -> PipelineExecution:
        """Block until the execution has ended (or is Interrupted) and return it.

        Raises:
            TimeoutError: if it has not ended after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            thread = self._threads.get(execution_id)
        if thread is not None:
            thread.join(timeout)
        while True:
            execution = self.get_execution(execution_id)
            if execution.status.terminal or execution.status is ExecutionStatus.INTERRUPTED:
                return execution
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"pipeline execution {execution_id} is still {execution.status.value}")
            time.sleep(_WAIT_POLL_S)

    @api.post("/pipeline-executions/{execution_id}/stop", name="stop_execution")
    @requires(Permission.WRITE)
    def stop(self, execution_id: str) -> PipelineExecution:
        """Stop an execution: running steps are killed and recorded Stopped, nothing new starts.

        Returns once the orchestrator has stopped it (or after a few seconds, with the request
        recorded, if it runs elsewhere and is slow to answer).

        Raises:
            Conflict: if the execution has already ended.
        """
        self._requests.mark_interrupted(now_ms())
        if self._requests.request_stop(execution_id):
            self._state.open_steps_ended(execution_id, StepStatus.STOPPED, "the execution was stopped")
            self._state.finish(execution_id, ExecutionStatus.STOPPED, "stopped on request")
            return self.get_execution(execution_id)
        try:
            return self.wait(execution_id, _STOP_GRACE_S)
        except TimeoutError:
            return self.get_execution(execution_id)

    @api.post("/pipeline-executions/{execution_id}/steps/{step}/signal", name="signal_step")
    @requires(Permission.WRITE)
    def signal(self, execution_id: str, step: str, payload: Mapping[str, Any] | None = None) -> StepExecution:
        """Release a Wait step (now, or as soon as it is reached); ``payload`` becomes its properties.

        Args:
            payload: becomes the wait step's properties (a JSON object).

        Raises:
            NotFound: for an unknown execution or step.
            Conflict: if the step is not a Wait step or has already finished.
            InvalidInput: if ``payload`` is not a JSON object.
        """
        if payload is not None and not isinstance(payload, Mapping):
            raise InvalidInput("a signal's payload must be a JSON object", field="payload")
        self._requests.signal(execution_id, step, dict(payload or {}))
        return self.get_step(execution_id, step)

    @requires(Permission.READ)
    def logs(self, execution_id: str, step: str, *, stream: str = "stdout", attempt: int | None = None) -> str:
        """What a step printed on ``stream`` (``stdout`` or ``stderr``) in an attempt (the latest by default).

        A step served from the cache shows the logs of the run it was served from.

        Raises:
            NotFound: for an unknown execution or step, or a step that never ran.
        """
        if stream not in ("stdout", "stderr"):
            raise InvalidInput("stream must be stdout or stderr", field="stream")
        record = self.get_step(execution_id, step)
        owner_id, count = record.id, record.attempts
        if record.cached_from is not None:
            with self._db.read() as conn:
                source = q.step_row(conn, record.cached_from)
            owner_id, count = source.id, source.attempts
        if count == 0:
            raise NotFound(f"step {step!r} of execution {execution_id} has not run", field="step")
        number = count if attempt is None else attempt
        try:
            data = self._artifacts.read_bytes(
                Owner(ObjectKind.STEP_EXECUTION, owner_id), f"logs/attempt-{number}/{stream}.txt"
            )
        except NotFound:
            return ""
        return data.decode("utf-8", errors="replace")

    @api.get("/pipeline-executions/{execution_id}/steps/{step}/cache")
    @requires(Permission.READ)
    def explain_cache(self, execution_id: str, step: str) -> CacheExplanation:
        """Why ``step`` was or was not served from the cache: which of code, inputs, parameters,
        environment or definition changed since the step last ran, and how."""
        record = self.get_step(execution_id, step)
        return explain(self._db, self._versions, self.get_execution(execution_id), record)

    # -- outputs ------------------------------------------------------------------------------------

    @api.get("/pipeline-executions/{execution_id}/steps/{step}/outputs")
    @requires(Permission.READ)
    def list_outputs(self, execution_id: str, step: str) -> list[OutputFile]:
        """The files of a step's outputs (the processed splits, ``evaluation.json``), by output then
        path; a cached step's are the files it reused.

        Raises:
            NotFound: for an unknown execution or step.
        """
        return output_files(self._artifacts, self.get_step(execution_id, step))

    @api.get("/pipeline-executions/{execution_id}/steps/{step}/outputs/{output}/{path:path}")
    @requires(Permission.READ)
    def open_output(self, execution_id: str, step: str, output: str, path: str) -> BinaryIO:
        """A stream over one file of a step's output; close it.

        Args:
            output: the output's name.
            path: the file's path within the output, as :meth:`list_outputs` gives it.

        Raises:
            NotFound: for an unknown execution, step, output or file.
        """
        owner, stored = output_location(self.get_step(execution_id, step), output, path)
        return self._artifacts.open(owner, stored)

    @composed
    @requires(Permission.READ)
    def download_outputs(
        self, execution_id: str, step: str, dst: str | Path, *, output: str | None = None
    ) -> list[Path]:
        """Copy a step's output files (of ``output`` only, when given) to ``dst/<output>/<path>``.

        Returns:
            the local files, by output then path.
        """
        written = []
        for file in self.list_outputs(execution_id, step):
            if output is not None and file.output != output:
                continue
            local = Path(dst, file.output, *file.path.split("/"))
            local.parent.mkdir(parents=True, exist_ok=True)
            with self.open_output(execution_id, step, file.output, file.path) as stream, local.open("wb") as out:
                while chunk := stream.read(1 << 20):
                    out.write(chunk)
            written.append(local)
        return written

    # -- retention ----------------------------------------------------------------------------------

    @requires(Permission.ADMIN)
    def expired_executions(self, keep: int) -> list[ExpiredExecution]:
        """The finished executions beyond the newest ``keep`` of each pipeline, oldest rule first.

        An execution whose step results a kept execution reuses from the cache is not listed:
        deleting it would take files the kept one stands on. The garbage collector asks this when
        a retention limit is set (``slipway gc``).
        """
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise InvalidInput(f"keep must be a whole number of at least 0, not {keep!r}", field="keep")
        return expired_executions(self._db, keep)

    @requires(Permission.ADMIN)
    def delete_execution(self, execution_id: str, *, reason: str = "retention") -> None:
        """Delete a finished execution: its records, its steps' and its own files (the blobs stay
        until garbage collection frees them). The audit entry says ``reason``.

        Raises:
            NotFound: for an unknown execution.
            Conflict: for one that has not finished.
        """
        gone = delete_execution(self._db, execution_id, reason)
        for kind, owner_id in gone.owners:
            with contextlib.suppress(NotFound):  # an owner that kept no files
                self._artifacts.delete(Owner(kind, owner_id), "")

    @requires(Permission.ADMIN)
    def stale_studies(self, expiring: Sequence[str] = ()) -> list[str]:
        """The shared Optuna studies (of Tuning steps whose trials ran beyond threads) retention lets go.

        A study goes with its execution: it is listed once the execution is deleted, or when the
        execution is one of ``expiring`` (what :meth:`expired_executions` listed, about to be
        deleted). The studies of kept executions, of running ones, and any study not named for an
        execution of this runner (an exported pipeline's, one made by hand) are never listed. The
        garbage collector asks this, then :meth:`delete_study` (``slipway gc``).

        Args:
            expiring: ids of executions about to be deleted.
        """
        named = {name: execution_of(name) for name in study_names(self._services.settings.db_url)}
        ours = {name: execution for name, execution in named.items() if execution is not None}
        alive = existing_executions(self._db, set(ours.values())) - set(expiring)
        return sorted(name for name, execution in ours.items() if execution not in alive)

    @requires(Permission.ADMIN)
    def delete_study(self, name: str) -> None:
        """Delete a shared Optuna study and its trials (the trials' runs stay in tracking).

        Raises:
            NotFound: if there is no study ``name``.
        """
        if not delete_study(self._services.settings.db_url, name):
            raise NotFound(f"Optuna study {name!r} does not exist", field="name")

    def close(self) -> None:
        """Release the executors once every execution orchestrated here has ended.

        Executions still running keep going (their threads keep the process alive); the last
        one to end releases the workers.
        """
        with self._lock:
            self._closing = True
            idle = not self._threads
        if idle:
            self._close_executors()

    def _close_executors(self) -> None:
        if self._local is not None and self._owns_local:
            self._local.close()
            self._local = None
        if self._ray is not None:
            self._ray.close()
            self._ray = None
