"""Where a tuning job's trials run: threads of the step's process, local processes, or Ray tasks.

The tuning step is the one place that asks the study for trials and tells it their results, so
``max_parallel_trials`` holds wherever the trials run: it never has more trials out than that.
A trial is a :class:`TrialJob` (its sampled parameters, its child run, what it needs to train);
a :class:`TrialRunner` runs it somewhere and gives back a :class:`TrialReport`.

Out of the step's process (``processes``, ``ray``), a trial opens the job's study on the shared
storage (:mod:`slipway.pipelines._studies`) to report intermediate values and ask the pruner, so
pruning compares trials wherever they run; it rebuilds the store's services from the step's
:class:`~slipway.pipelines.ServiceSpec`, copies the inputs in, and logs its model on its run.
"""

from __future__ import annotations

import abc
import concurrent.futures as cf
import multiprocessing
import pickle
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from slipway._ray import connect_ray
from slipway.errors import InvalidInput
from slipway.pipelines._context import ServiceSpec, TaskInfo, WorkContext
from slipway.pipelines._studies import open_storage
from slipway.pipelines._worker import worker_name
from slipway.pipelines.steps._fitting import train_into
from slipway.pipelines.steps._function import UserFunction
from slipway.pipelines.steps._remote import pack, remote_context, unpack

TRIAL_EXECUTORS = ("threads", "processes", "ray")
STATE_TAG = "slipway.tuning.state"
WORKER_TAG = "slipway.tuning.worker"


@dataclass(frozen=True)
class StudyRef:
    """How a trial in another process opens the job's study: the metadata database's URL (the
    storage lives beside it), the study's name, and the job's pruner (the sampler stays with the step)."""

    db_url: str
    name: str
    pruner: Any
    timeout: float = 30.0

    def load(self) -> Any:
        import optuna

        storage = open_storage(self.db_url, self.timeout)
        return optuna.load_study(
            study_name=self.name, storage=storage, pruner=self.pruner, sampler=optuna.samplers.RandomSampler()
        )


@dataclass(frozen=True)
class TrialJob:
    """One trial, as sent to where it runs."""

    number: int
    trial_id: int
    run_id: str
    params: dict[str, Any]
    fixed: dict[str, Any]
    inputs: dict[str, Any]
    objective: str
    flavor: str | None
    function: UserFunction
    info: TaskInfo
    study: StudyRef | None = None
    services: ServiceSpec | None = None


@dataclass(frozen=True)
class TrialReport:
    """How a trial ended: ``COMPLETE`` (with its value), ``PRUNED`` or ``FAIL`` (with the error).

    ``package`` is the model's folder when the trial ran in the step's process; elsewhere the model
    is only on the trial's run (logged under ``model/``).
    """

    number: int
    state: str
    value: float | None = None
    error: str | None = None
    package: Path | None = None


def run_trial(ctx: WorkContext, job: TrialJob, study: Any, inputs: dict[str, Any], package: Path) -> TrialReport:
    """Train one trial in its run; intermediate reports of the objective go to the study's pruner."""
    import optuna

    tracking = ctx.services.tracking
    trial = optuna.trial.Trial(study, job.trial_id)
    tracking.set_tag(job.run_id, WORKER_TAG, worker_name())

    def on_report(key: str, value: float, step: int) -> None:
        if key == job.objective:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {step} with {key}={value:.6g}")

    try:
        trained = train_into(
            ctx,
            job.function,
            inputs,
            {**job.fixed, **job.params},
            run_id=job.run_id,
            package=package,
            flavor=job.flavor,
            on_report=on_report,
        )
    except optuna.TrialPruned:
        tracking.set_tag(job.run_id, STATE_TAG, "PRUNED")
        return TrialReport(job.number, "PRUNED")
    except Exception as exc:
        tracking.set_tag(job.run_id, STATE_TAG, "FAIL")
        return TrialReport(job.number, "FAIL", error=f"{type(exc).__name__}: {exc}")
    if job.objective not in trained.metrics:
        tracking.set_tag(job.run_id, STATE_TAG, "FAIL")
        return TrialReport(job.number, "FAIL", error=f"trial {job.number} logged no metric {job.objective!r}")
    tracking.set_tag(job.run_id, STATE_TAG, "COMPLETE")
    return TrialReport(job.number, "COMPLETE", value=trained.metrics[job.objective], package=package)


def run_packed(payload: bytes) -> bytes:
    """Run a packed job in this process (a pool process or a Ray worker); the report as bytes."""
    job: TrialJob = unpack(payload)
    assert job.study is not None and job.services is not None
    with remote_context(job.info, job.services, "slipway-trial-") as ctx:
        try:
            inputs = ctx.localize(job.inputs)
            study = job.study.load()
        except Exception as exc:
            ctx.services.tracking.set_tag(job.run_id, STATE_TAG, "FAIL")
            report = TrialReport(job.number, "FAIL", error=f"{type(exc).__name__}: {exc}")
        else:
            report = run_trial(ctx, job, study, inputs, ctx.work_dir / "model")
    return pickle.dumps(TrialReport(report.number, report.state, report.value, report.error))


class TrialRunner(abc.ABC):
    """Runs trials somewhere; :meth:`wait` gives back the reports of those that ended."""

    remote: ClassVar[bool] = True  # trials run outside the step's process: the study must be shared

    @abc.abstractmethod
    def submit(self, job: TrialJob) -> Hashable:
        """Start a trial; returns a handle that :meth:`wait` names it by."""

    @abc.abstractmethod
    def wait(self, handles: list[Hashable]) -> list[tuple[Hashable, TrialReport]]:
        """Block until at least one of ``handles`` ended; their reports (a lost worker is a FAIL)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop what still runs and release the workers."""


class _FutureRunner(TrialRunner):
    """Trials as ``concurrent.futures`` (threads or processes)."""

    def __init__(self, pool: cf.Executor) -> None:
        self._pool = pool
        self._jobs: dict[cf.Future[Any], TrialJob] = {}

    def wait(self, handles: list[Hashable]) -> list[tuple[Hashable, TrialReport]]:
        futures: list[cf.Future[Any]] = handles  # type: ignore[assignment]
        done, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
        return [(future, self._report(future)) for future in done]

    def _report(self, future: cf.Future[Any]) -> TrialReport:
        job = self._jobs.pop(future)
        try:
            result = future.result()
        except Exception as exc:  # the process running it died
            return TrialReport(job.number, "FAIL", error=f"the trial's worker was lost: {type(exc).__name__}: {exc}")
        return result if isinstance(result, TrialReport) else pickle.loads(result)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class ThreadTrials(_FutureRunner):
    """Trials as threads of the step's process, on the step's own (in-memory) study."""

    remote = False

    def __init__(self, ctx: WorkContext, study: Any, inputs: dict[str, Any], max_parallel: int) -> None:
        super().__init__(cf.ThreadPoolExecutor(max_parallel, thread_name_prefix="slipway-trial"))
        self._ctx, self._study, self._inputs = ctx, study, inputs

    def submit(self, job: TrialJob) -> Hashable:
        package = self._ctx.scratch("trials") / str(job.number)
        future = self._pool.submit(run_trial, self._ctx, job, self._study, self._inputs, package)
        self._jobs[future] = job
        return future


class ProcessTrials(_FutureRunner):
    """Trials in fresh local processes (spawned, so nothing of the step's process is inherited)."""

    def __init__(self, max_parallel: int) -> None:
        super().__init__(cf.ProcessPoolExecutor(max_parallel, mp_context=multiprocessing.get_context("spawn")))

    def submit(self, job: TrialJob) -> Hashable:
        future = self._pool.submit(run_packed, pack(job, job.function))
        self._jobs[future] = job
        return future


class RayTrials(TrialRunner):
    """Each trial a Ray task reserving ``cpus``, ``gpus`` and ``memory_mb`` (the step's resources).

    The step's process connects to the cluster it runs in (a Ray task of ``executor="ray"``), or to
    ``RAY_ADDRESS``. While it waits for trials it is blocked in ``ray.wait``, which gives its own CPUs
    back to the cluster, so trials may use them.
    """

    def __init__(self, cpus: float, gpus: float, memory_mb: int | None) -> None:
        self._ray = connect_ray()
        options: dict[str, Any] = {"num_cpus": cpus, "num_gpus": gpus, "max_retries": 0}
        if memory_mb:
            options["memory"] = memory_mb * 2**20
        self._remote = self._ray.remote(run_packed).options(**options)
        self._jobs: dict[Any, TrialJob] = {}

    def submit(self, job: TrialJob) -> Hashable:
        ref = self._remote.remote(pack(job, job.function))
        self._jobs[ref] = job
        return ref  # type: ignore[no-any-return]

    def wait(self, handles: list[Hashable]) -> list[tuple[Hashable, TrialReport]]:
        ready, _ = self._ray.wait(handles, num_returns=1)
        out: list[tuple[Hashable, TrialReport]] = []
        for ref in ready:
            job = self._jobs.pop(ref)
            try:
                report: TrialReport = pickle.loads(self._ray.get(ref))
            except Exception as exc:  # the worker died or Ray refused the task
                report = TrialReport(job.number, "FAIL", error=f"the Ray task failed: {type(exc).__name__}: {exc}")
            out.append((ref, report))
        return out

    def close(self) -> None:
        for ref in list(self._jobs):
            self._ray.cancel(ref, force=True)
        self._jobs.clear()


def check_executor(executor: str, ctx: WorkContext, step: str) -> ServiceSpec | None:
    """The services' recipe other processes need, for an executor other than ``threads``.

    Raises:
        InvalidInput: where the step runs without one (an exported pipeline's container).
    """
    if executor == "threads":
        return None
    if ctx.spec is None:
        raise InvalidInput(
            f"step {step!r}: trials run by {executor!r} need Slipway's runner; use max_parallel_trials "
            "with executor='threads' here",
            field=f"steps.{step}.executor",
        )
    return ctx.spec
