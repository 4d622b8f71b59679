"""Where a tuning job's trials run: threads of the step's process, local processes, or Ray tasks.

The tuning step is the one place that asks the study for trials and tells it their results, so
``max_parallel_trials`` holds wherever the trials run: it never has more trials out than that.
A trial is a :class:`TrialJob` (its sampled parameters, its child run, and the job's
:class:`TrialSearch`: what every trial needs to train); a :class:`TrialRunner` runs it somewhere
and gives back a :class:`TrialReport`. Out of the step's process the search is packed once a job
and unpacked once a job by each process that runs its trials; a trial travels as its own fields.

Out of the step's process (``processes``, ``ray``), a trial opens the job's study on the shared
storage (:mod:`slipway.pipelines._studies`) to report intermediate values and ask the pruner, so
pruning compares trials wherever they run; it rebuilds the store's services from the step's
:class:`~slipway.pipelines.ServiceSpec` and copies the inputs in.

Tracking costs a trial two writes: its run is created with its params and tags (its id becomes the
Optuna trial's user attribute ``run_id``), and ended with its returned metrics, its state, its
worker and the time it ended in one ``log_batch``. One at a time in the step's process, the trial
makes its run itself and that end waits for the next trial: its start and the last trial's end
are one transaction. Elsewhere the step makes each trial's run before sending it, in one
transaction with the ends of the trials that came back since (a trial hands its run's end back
with its report; a failed trial's run ends where it ran, at once). The ``run_id`` attribute is
written while the trial runs: by the step, once the trial is out, when trials run one at a time;
by the trial, where it runs, when more are out (the step's loop carries every trial's ask and tell).
Only the job's best model is stored: in the step's process the best trial's model is kept in
memory and stored once, at the end; elsewhere a trial stores its model on its run when it is at
least as good as the best the job knew when the trial was asked (so the best one always has, and
few others do).
"""

from __future__ import annotations

import abc
import concurrent.futures as cf
import multiprocessing
import pickle
import sys
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from slipway._ray import connect_ray
from slipway._time import now_ms
from slipway.errors import InvalidInput
from slipway.pipelines._context import ServiceSpec, TaskInfo, WorkContext
from slipway.pipelines._studies import open_storage
from slipway.pipelines._worker import worker_name
from slipway.pipelines.steps._fitting import Fitted, fit_in_run, store_model
from slipway.pipelines.steps._function import UserFunction
from slipway.pipelines.steps._remote import pack, remote_context, unpack
from slipway.tracking import RunStatus

TRIAL_EXECUTORS = ("threads", "processes", "ray")
STATE_TAG = "slipway.tuning.state"
WORKER_TAG = "slipway.tuning.worker"
_Handle = TypeVar("_Handle", bound=Hashable)


@dataclass(frozen=True)
class StudyRef:
    """How a trial in another process opens the job's study: the metadata database's URL (the
    storage lives beside it), the study's name, and the job's pruner (the sampler stays with the step)."""

    db_url: str
    name: str
    pruner: Any
    timeout: float = 30.0

    def load(self) -> Any:
        """The study, loaded once per process for the job's trials that run there in turn: the next
        trial finds it with Optuna's cache of finished trials warm (a pruner reads them all)."""
        import optuna

        key = (self.db_url, self.name)
        study = _LOADED.get(key)
        if study is None:
            storage = open_storage(self.db_url, self.timeout)
            study = optuna.load_study(
                study_name=self.name, storage=storage, pruner=self.pruner, sampler=optuna.samplers.RandomSampler()
            )
            _LOADED.clear()  # one job's study at a time: a worker moving on to another job lets the last go
            _LOADED[key] = study
        return study


_LOADED: dict[tuple[str, str], Any] = {}  # the study of the job whose trials this process ran last


@dataclass(frozen=True)
class TrialSearch:
    """What every trial of a job shares: packed once per job by the step, unpacked once per job by
    each process its trials run in (:func:`run_packed`).

    ``sign`` times the objective is smaller for better trials. ``study`` and ``services`` are
    None where the trials run in the step's process.
    """

    fixed: dict[str, Any]
    inputs: dict[str, Any]
    objective: str
    flavor: str | None
    function: UserFunction
    info: TaskInfo
    study: StudyRef | None = None
    services: ServiceSpec | None = None
    sign: float = 1.0


@dataclass(frozen=True)
class TrialJob:
    """One trial of the job ``search``.

    ``bar`` is the best value (times the sign: smaller is better) of the job's trials finished when
    this one was asked, None before the first: out of the step's process the trial stores its model
    when it does at least as well.
    """

    number: int
    trial_id: int
    run: dict[str, Any]  # the run's experiment_id, name, tags and parent_run_id
    params: dict[str, Any]
    search: TrialSearch
    bar: float | None = None

    def may_be_best(self, value: float) -> bool:
        return self.bar is None or self.search.sign * value <= self.bar


@dataclass(frozen=True)
class RunEnd:
    """A trial run's last write, not made yet: its returned metrics, its tags, its final status
    and when it ended (made later, with the next trial's start: one transaction for both)."""

    run_id: str
    metrics: list[dict[str, Any]]
    tags: dict[str, str]
    status: RunStatus
    at_ms: int

    def write(self, tracking: Any) -> None:
        tracking.log_batch(
            self.run_id, metrics=self.metrics, tags=self.tags, end_status=self.status, end_time=self.at_ms
        )


@dataclass(frozen=True)
class TrialReport:
    """How a trial ended: ``COMPLETE`` (with its value), ``PRUNED`` or ``FAIL`` (with the error).

    ``fitted`` is the trial's model, not stored, when the trial ran in the step's process; elsewhere
    the model is on the trial's run (logged under ``model/``) if the trial stored it.
    """

    number: int
    state: str
    value: float | None = None
    error: str | None = None
    fitted: Fitted | None = None
    end: RunEnd | None = None  # the run's end, when the trial was asked to leave it to the caller


def start_trial_run(tracking: Any, job: TrialJob) -> str:
    """The trial's run, created with its params: a child of the job's run."""
    return tracking.create_run(**job.run, params={**job.search.fixed, **job.params}).id


def run_trial(
    ctx: WorkContext,
    job: TrialJob,
    run_id: str,
    trial: Any,
    inputs: dict[str, Any],
    package: Path | None,
    defer_end: bool = False,
) -> TrialReport:
    """Train one trial in its run ``run_id`` (the caller made it); intermediate reports of the
    objective go to the study's pruner.

    ``package``: where to store the model if the trial may be the job's best; None keeps it in the
    report (the step's process). The run ends in one write with the returned metrics and the state;
    with ``defer_end`` a trial that completed or was pruned leaves that write to the caller (the
    report's ``end``), which makes it with the next trial's start. A failed trial's run ends at once.
    """
    import optuna

    tracking = ctx.services.tracking
    ended: list[RunEnd] = []

    def on_report(key: str, value: float, step: int) -> None:
        if key == job.search.objective:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {step} with {key}={value:.6g}")

    def end(state: str, status: RunStatus, fitted: Fitted | None = None) -> None:
        tags = {STATE_TAG: state, WORKER_TAG: worker_name()}
        last = RunEnd(run_id, fitted.points() if fitted is not None else [], tags, status, now_ms())
        if defer_end and state != "FAIL":
            ended.append(last)
        else:
            last.write(tracking)

    try:
        hyperparameters = {**job.search.fixed, **job.params}
        fitted = fit_in_run(ctx, job.search.function, inputs, hyperparameters, run_id=run_id, on_report=on_report)
        value = fitted.finite_metrics().get(job.search.objective)
        if value is not None and package is not None and job.may_be_best(value):
            store_model(ctx, fitted, run_id=run_id, package=package, flavor=job.search.flavor)
    except optuna.TrialPruned:
        end("PRUNED", RunStatus.KILLED)
        return TrialReport(job.number, "PRUNED", end=ended[0] if ended else None)
    except Exception as exc:
        end("FAIL", RunStatus.FAILED)
        return TrialReport(job.number, "FAIL", error=f"{type(exc).__name__}: {exc}")
    if value is None:
        end("FAIL", RunStatus.FAILED, fitted)
        return TrialReport(job.number, "FAIL", error=f"trial {job.number} logged no metric {job.search.objective!r}")
    end("COMPLETE", RunStatus.FINISHED, fitted)
    return TrialReport(
        job.number,
        "COMPLETE",
        value=value,
        fitted=None if package is not None else fitted,
        end=ended[0] if ended else None,
    )


class _SharedTrial:
    """The job's trial on the shared study, as a trial run elsewhere uses it: the Optuna trial
    (whose making reads the trial back) made only if the trial reports an intermediate value."""

    def __init__(self, study: Any, trial_id: int) -> None:
        self._study, self._trial_id = study, trial_id
        self._trial: Any = None

    def report(self, value: float, step: int) -> None:
        self._optuna_trial().report(value, step)

    def should_prune(self) -> bool:
        return bool(self._optuna_trial().should_prune())

    def _optuna_trial(self) -> Any:
        if self._trial is None:
            import optuna

            self._trial = optuna.trial.Trial(self._study, self._trial_id)
        return self._trial


def run_packed(search: bytes, one: bytes) -> bytes:
    """Run a trial, in its run made by the step, in this process (a pool process or a Ray worker):
    ``search`` is its job's :class:`TrialSearch` packed (unpacked here once per job), ``one`` the
    trial's own fields, its run's id and whether to set that on the study's trial, pickled. The
    report as bytes, with the run's end for the step to write (unless the trial failed: then it is
    written here)."""
    fields, run_id, sets_run_id = pickle.loads(one)
    job = TrialJob(**fields, search=_unpacked(search))
    assert job.search.study is not None and job.search.services is not None
    with remote_context(job.search.info, job.search.services, "slipway-trial-") as ctx:
        try:
            inputs = ctx.localize(job.search.inputs)
            study = job.search.study.load()
            if sets_run_id:
                study._storage.set_trial_user_attr(job.trial_id, "run_id", run_id)
            trial = _SharedTrial(study, job.trial_id)
        except Exception as exc:
            ctx.services.tracking.log_batch(run_id, tags={STATE_TAG: "FAIL"}, end_status=RunStatus.FAILED)
            report = TrialReport(job.number, "FAIL", error=f"{type(exc).__name__}: {exc}")
        else:
            report = run_trial(ctx, job, run_id, trial, inputs, ctx.work_dir / "model", defer_end=True)
    return pickle.dumps(report)


def _unpacked(search: bytes) -> TrialSearch:
    """The job's search, unpacked by the first of its trials this process runs."""
    unpacked = _SEARCH.get(search)
    if unpacked is None:
        unpacked = unpack(search)
        _SEARCH.clear()  # one job at a time, as the study (StudyRef.load)
        _SEARCH[search] = unpacked
    return unpacked


_SEARCH: dict[bytes, TrialSearch] = {}  # the search of the job whose trials this process ran last


class TrialRunner(abc.ABC):
    """Runs trials somewhere; :meth:`wait` gives back the reports of those that ended."""

    remote: ClassVar[bool] = True  # trials run outside the step's process: the study must be shared

    @abc.abstractmethod
    def submit(self, job: TrialJob, trial: Any) -> Hashable:
        """Start a trial (``trial``: the study's, asked in the step's process); returns a handle that
        :meth:`wait` names it by."""

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
    """Trials as threads of the step's process, on the step's own (in-memory) study; one at a time,
    in the step's own thread (a hand-over to another thread per trial would only add its latency).

    One at a time, a trial's run costs one write transaction: the run's end (metrics, state, end
    time) waits for the next trial and is written with that one's start; the last is written when
    the runner closes. Each run still ends with the time its trial ended.
    """

    remote = False

    def __init__(self, ctx: WorkContext, inputs: dict[str, Any], max_parallel: int) -> None:
        super().__init__(cf.ThreadPoolExecutor(max_parallel, thread_name_prefix="slipway-trial"))
        self._ctx, self._inputs, self._inline = ctx, inputs, max_parallel == 1
        self._ends = _Ends(ctx.services.tracking)  # the last inline trial's run end, not written yet

    def submit(self, job: TrialJob, trial: Any) -> Hashable:
        if self._inline:
            future: cf.Future[Any] = cf.Future()
            try:
                report = self._run_inline(job, trial)
                future.set_result(report)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # as a thread's would be: the trial fails, the search goes on
                future.set_exception(exc)
        else:
            future = self._pool.submit(self._run, job, trial)
        self._jobs[future] = job
        return future

    def _run(self, job: TrialJob, trial: Any) -> TrialReport:
        run_id = start_trial_run(self._ctx.services.tracking, job)
        trial.set_user_attr("run_id", run_id)
        return run_trial(self._ctx, job, run_id, trial, self._inputs, None)

    def _run_inline(self, job: TrialJob, trial: Any) -> TrialReport:
        run_id = self._ends.start(job)
        trial.set_user_attr("run_id", run_id)
        report = run_trial(self._ctx, job, run_id, trial, self._inputs, None, defer_end=True)
        self._ends.keep([(None, report)])
        return report

    def close(self) -> None:
        self._ends.write()
        super().close()


class _Ends:
    """The run ends that trials handed back, not written yet: written with the next trial's run
    start (one transaction), or when the step next waits and has started none."""

    def __init__(self, tracking: Any) -> None:
        self._tracking = tracking
        self._ends: list[RunEnd] = []

    def keep(self, reports: list[tuple[Hashable, TrialReport]]) -> list[tuple[Hashable, TrialReport]]:
        self._ends.extend(r.end for _, r in reports if r.end is not None)
        return reports

    def start(self, job: TrialJob) -> str:
        """Make ``job``'s run, in one transaction with the ends kept; its id."""
        ends, self._ends = self._ends, []
        try:
            with self._tracking.batch():
                for end in ends:
                    end.write(self._tracking)
                return start_trial_run(self._tracking, job)
        except Exception:
            if not ends:
                raise
            self._write_each(ends)  # on their own: this trial's start failing costs the others nothing
            return start_trial_run(self._tracking, job)

    def fail(self, run_id: str) -> None:
        """End the run of a trial that could not be sent: FAIL."""
        self._tracking.log_batch(run_id, tags={STATE_TAG: "FAIL"}, end_status=RunStatus.FAILED)

    def write(self) -> None:
        ends, self._ends = self._ends, []
        if not ends:
            return
        try:
            with self._tracking.batch():
                for end in ends:
                    end.write(self._tracking)
        except Exception:  # one at a time, so one bad run costs the others nothing
            self._write_each(ends)

    def _write_each(self, ends: list[RunEnd]) -> None:
        for end in ends:
            try:
                end.write(self._tracking)
            except Exception as exc:  # its trial is told already: the run stays RUNNING, as a lost worker's
                print(f"the run {end.run_id} of a finished trial could not be ended: {exc}", file=sys.stderr)


class _Sender:
    """How the step sends trials to other processes: each trial's run made first (with the ends
    kept), the job's search packed once (each trial of a job has the same).

    The run's id goes on the study's trial (user attribute ``run_id``, a commit to the study's
    storage) while the trial runs: one trial at a time, the step writes it (it has nothing else to
    do then); with more out, the trial writes it where it runs, so the step's loop, which every
    trial's ask and tell go through, does not carry it.
    """

    def __init__(self, tracking: Any, max_parallel: int) -> None:
        self.ends = _Ends(tracking)
        self._alone = max_parallel == 1
        self._search: TrialSearch | None = None
        self._packed = b""

    def send(self, job: TrialJob, trial: Any, send: Callable[[bytes, bytes], _Handle]) -> _Handle:
        if job.search is not self._search:
            self._search, self._packed = job.search, pack(job.search, job.search.function)
        run_id = self.ends.start(job)
        fields = {"number": job.number, "trial_id": job.trial_id, "run": job.run, "params": job.params, "bar": job.bar}
        try:
            handle = send(self._packed, pickle.dumps((fields, run_id, not self._alone)))
        except BaseException:
            self.ends.fail(run_id)
            raise
        if self._alone:
            trial.set_user_attr("run_id", run_id)
        return handle


class ProcessTrials(_FutureRunner):
    """Trials in fresh local processes (spawned, so nothing of the step's process is inherited)."""

    def __init__(self, tracking: Any, max_parallel: int) -> None:
        super().__init__(cf.ProcessPoolExecutor(max_parallel, mp_context=multiprocessing.get_context("spawn")))
        self._sender = _Sender(tracking, max_parallel)
        self._ends = self._sender.ends

    def submit(self, job: TrialJob, trial: Any) -> Hashable:
        future = self._sender.send(job, trial, lambda *payload: self._pool.submit(run_packed, *payload))
        self._jobs[future] = job
        return future

    def wait(self, handles: list[Hashable]) -> list[tuple[Hashable, TrialReport]]:
        self._ends.write()
        return self._ends.keep(super().wait(handles))

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._ends.write()


class RayTrials(TrialRunner):
    """Each trial a Ray task reserving ``cpus``, ``gpus`` and ``memory_mb`` (the step's resources).

    The step's process connects to the cluster it runs in (a Ray task of ``executor="ray"``), or to
    ``RAY_ADDRESS``. While it waits for trials it is blocked in ``ray.wait``, which gives its own CPUs
    back to the cluster, so trials may use them.
    """

    def __init__(self, tracking: Any, max_parallel: int, cpus: float, gpus: float, memory_mb: int | None) -> None:
        self._sender = _Sender(tracking, max_parallel)
        self._ends = self._sender.ends
        self._ray = connect_ray()
        options: dict[str, Any] = {"num_cpus": cpus, "num_gpus": gpus, "max_retries": 0}
        if memory_mb:
            options["memory"] = memory_mb * 2**20
        self._remote = self._ray.remote(run_packed).options(**options)
        self._jobs: dict[Any, TrialJob] = {}

    def submit(self, job: TrialJob, trial: Any) -> Hashable:
        ref = self._sender.send(job, trial, self._remote.remote)
        self._jobs[ref] = job
        return ref

    def wait(self, handles: list[Hashable]) -> list[tuple[Hashable, TrialReport]]:
        self._ends.write()
        ready, _ = self._ray.wait(handles, num_returns=1)
        out: list[tuple[Hashable, TrialReport]] = []
        for ref in ready:
            job = self._jobs.pop(ref)
            try:
                report: TrialReport = pickle.loads(self._ray.get(ref))
            except Exception as exc:  # the worker died or Ray refused the task
                report = TrialReport(job.number, "FAIL", error=f"the Ray task failed: {type(exc).__name__}: {exc}")
            out.append((ref, report))
        return self._ends.keep(out)

    def close(self) -> None:
        for ref in list(self._jobs):
            self._ray.cancel(ref, force=True)
        self._jobs.clear()
        self._ends.write()


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
