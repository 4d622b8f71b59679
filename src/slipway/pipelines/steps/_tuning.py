"""Tuning: an Optuna study over a training function; every trial is a tracked run, the best model the output.

The tuning job is the step's tracked run; each trial is a child run holding the trial's
hyperparameters and metrics (intermediate reports included), tagged with its number, state,
parameters and worker; the best trial's run also holds its model (the step's output). An earlier
job is warm-started from by its run id: its finished trials are told to the new study before it
samples, so the search starts where the last one stopped.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from slipway.errors import InvalidInput
from slipway.pipelines._code import Code
from slipway.pipelines._context import ServiceSpec, StepOutcome, WorkContext
from slipway.pipelines._expressions import decode, encode
from slipway.pipelines._studies import open_storage, study_name
from slipway.pipelines.steps._base import Step
from slipway.pipelines.steps._fitting import MODEL_OUTPUT, Fitted, run_tags, start_run, store_model
from slipway.pipelines.steps._function import UserFunction
from slipway.pipelines.steps._settings import Setting
from slipway.pipelines.steps._trials import (
    STATE_TAG,
    TRIAL_EXECUTORS,
    ProcessTrials,
    RayTrials,
    StudyRef,
    ThreadTrials,
    TrialJob,
    TrialReport,
    TrialRunner,
    TrialSearch,
    check_executor,
)
from slipway.tracking import RunStatus

SAMPLERS = ("tpe", "random", "grid")
DIRECTIONS = ("minimize", "maximize")
_TRIAL_TAG = "slipway.tuning.trial"
_STATE_TAG = STATE_TAG
_PARAMS_TAG = "slipway.tuning.params"


@dataclass(frozen=True)
class IntRange:
    """Integers from ``low`` to ``high`` (both included), every ``step``, or on a log scale."""

    low: int
    high: int
    step: int = 1
    log: bool = False


@dataclass(frozen=True)
class FloatRange:
    """Floats from ``low`` to ``high``; ``step`` makes them discrete (and griddable); ``log`` samples
    on a log scale (for learning rates, regularisation strengths)."""

    low: float
    high: float
    step: float | None = None
    log: bool = False


@dataclass(frozen=True)
class Categorical:
    """One of a few values (strings, numbers, booleans, None)."""

    choices: tuple[Any, ...]

    def __init__(self, choices: Sequence[Any]) -> None:
        object.__setattr__(self, "choices", tuple(choices))


SearchSpace = Mapping[str, IntRange | FloatRange | Categorical]
_SPACE_TYPES: dict[str, type] = {"int": IntRange, "float": FloatRange, "categorical": Categorical}


@dataclass(frozen=True)
class MedianPruning:
    """Stop a trial whose intermediate objective is worse than the median of earlier trials at that step."""

    startup_trials: int = 5
    warmup_steps: int = 0


@dataclass(frozen=True)
class HyperbandPruning:
    """Hyperband: successive halving over brackets of trials, by intermediate objective."""

    min_resource: int = 1
    max_resource: int | str = "auto"
    reduction_factor: int = 3


Pruning = MedianPruning | HyperbandPruning
_PRUNERS: dict[str, type] = {"median": MedianPruning, "hyperband": HyperbandPruning}


def _space_to_json(space: SearchSpace) -> dict[str, Any]:
    kinds = {IntRange: "int", FloatRange: "float", Categorical: "categorical"}
    out = {}
    for name, dist in space.items():
        data = asdict(dist)
        if isinstance(dist, Categorical):
            data["choices"] = list(dist.choices)
        out[name] = {"type": kinds[type(dist)], **data}
    return out


def _space_from_json(data: Mapping[str, Any]) -> dict[str, IntRange | FloatRange | Categorical]:
    out = {}
    for name, spec in data.items():
        fields = {k: v for k, v in spec.items() if k != "type"}
        out[name] = _SPACE_TYPES[spec["type"]](**fields)
    return out


class TuningStep(Step):
    """Search hyperparameters of a training function with Optuna; output the best trial's model.

    Each trial calls ``fn`` as a :class:`~slipway.pipelines.TrainingStep` would, with the
    sampled hyperparameters (plus the fixed ``hyperparameters``) and ``inputs``, in a tracked run
    that is a child of the tuning run. The objective is the final value of the metric named
    ``objective`` (returned in a ``TrainingResult`` or logged with ``ctx.log_metric``);
    ``ctx.report(objective, value, step)`` feeds intermediate values to the pruner.

    Args:
        name: the step's name.
        fn: the training function.
        search_space: hyperparameter -> :class:`IntRange`, :class:`FloatRange` or :class:`Categorical`.
        objective: the metric to optimise.
        direction: ``minimize`` or ``maximize``.
        inputs: data inputs, as for a training step.
        hyperparameters: fixed hyperparameters given to every trial.
        sampler: ``tpe``, ``random`` or ``grid`` (every range must then be discrete).
        pruner: ``median``, ``hyperband``, a :class:`MedianPruning` or :class:`HyperbandPruning`, or None.
        max_trials: how many trials to run (fewer if a grid is smaller).
        max_parallel_trials: trials run at once, wherever they run: the step asks the study for a
            trial only while fewer are out, so the bound holds across a cluster.
        executor: where trials run: ``threads`` of the step's process (the study in memory),
            ``processes`` (fresh local ones) or ``ray`` (a Ray task each, reserving the step's
            ``resources``; the step's own task gives its CPUs back while it waits). Beyond threads the
            study is one Optuna study on Optuna's RDB storage beside the metadata database (see
            :mod:`slipway.pipelines._studies`), which every trial opens to report and be pruned; its
            name is the step's property ``study``. Every trial is a child run wherever it ran, tagged
            with the worker (``slipway.tuning.worker``).
        warm_start_from: the run id of an earlier tuning job (a parameter, so callers can choose);
            empty or None starts cold.
        seed: seeds the sampler, for a reproducible search.
        flavor, experiment, **common: as for :class:`~slipway.pipelines.TrainingStep`.

    Example:
        >>> tune = TuningStep(
        ...     "Tune", fit_ridge, inputs={"train": split.outputs["train"]},
        ...     search_space={"alpha": FloatRange(1e-3, 10.0, log=True)},
        ...     objective="val_mse", max_trials=8, pruner="median",
        ... )  # doctest: +SKIP
    """

    type_name = "Tuning"
    settings = {
        "objective": Setting(str),
        "direction": Setting(str, choices=DIRECTIONS),
        "sampler": Setting(str, choices=SAMPLERS),
        "max_trials": Setting(int, minimum=1),
        "max_parallel_trials": Setting(int, minimum=1),
        "executor": Setting(str, choices=TRIAL_EXECUTORS),
        "seed": Setting(int, optional=True),
        "flavor": Setting(str, optional=True),
        "experiment": Setting(str, optional=True),
    }

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        search_space: SearchSpace,
        objective: Any,
        direction: Any = "minimize",
        inputs: Mapping[str, Any] | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        sampler: Any = "tpe",
        pruner: str | Pruning | None = None,
        max_trials: Any = 10,
        max_parallel_trials: Any = 1,
        executor: Any = "threads",
        warm_start_from: Any = None,
        seed: Any = None,
        flavor: Any = None,
        experiment: Any = None,
        **common: Any,
    ) -> None:
        super().__init__(name, **common)
        self.function = UserFunction(fn, name)
        self.search_space = dict(search_space)
        self.objective = objective
        self.direction = direction
        self.inputs = dict(inputs or {})
        self.hyperparameters = dict(hyperparameters or {})
        self.sampler = sampler
        self.pruner = _pruning(pruner, name)
        self.max_trials = max_trials
        self.max_parallel_trials = max_parallel_trials
        self.executor = executor
        self.warm_start_from = warm_start_from
        self.seed = seed
        self.flavor = flavor
        self.experiment = experiment

    @property
    def output_names(self) -> tuple[str, ...]:
        return (MODEL_OUTPUT,)

    def arguments(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "hyperparameters": self.hyperparameters, "warm_start_from": self.warm_start_from}

    def code(self) -> Code:
        return self.function.code()

    def check(self) -> None:
        super().check()
        field = f"steps.{self.name}"
        if not self.search_space:
            raise InvalidInput(f"step {self.name!r}: the search space is empty", field=f"{field}.search_space")
        if self.sampler == "grid":  # a sampler given as a parameter is checked for a grid when the step runs
            _grid(self.search_space, self.name)
        overlap = (set(self.inputs) | set(self.hyperparameters)) & set(self.search_space)
        if overlap:
            raise InvalidInput(
                f"step {self.name!r}: {sorted(overlap)[0]!r} is both searched and given", field=f"{field}.search_space"
            )
        self.function.check(set(self.inputs) | set(self.hyperparameters) | set(self.search_space))

    def spec(self) -> dict[str, Any]:
        pruner = (
            None
            if self.pruner is None
            else {"type": next(k for k, v in _PRUNERS.items() if isinstance(self.pruner, v)), **asdict(self.pruner)}
        )
        return {
            "inputs": {k: encode(v) for k, v in self.inputs.items()},
            "hyperparameters": {k: encode(v) for k, v in self.hyperparameters.items()},
            "search_space": _space_to_json(self.search_space),
            "pruner": pruner,
            "warm_start_from": encode(self.warm_start_from),
            **self.settings_spec(),
        }

    @classmethod
    def from_spec(cls, name: str, spec: Mapping[str, Any], common: dict[str, Any]) -> TuningStep:
        pruner_data = dict(spec["pruner"]) if spec.get("pruner") else None
        pruner = _PRUNERS[pruner_data.pop("type")](**pruner_data) if pruner_data else None
        return cls(
            name,
            UserFunction.load(spec).fn,
            search_space=_space_from_json(spec["search_space"]),
            inputs={k: decode(v) for k, v in spec.get("inputs", {}).items()},
            hyperparameters={k: decode(v) for k, v in spec.get("hyperparameters", {}).items()},
            pruner=pruner,
            warm_start_from=decode(spec["warm_start_from"]),
            **cls.settings_from_spec(spec),
            **common,
        )

    def run(self, ctx: WorkContext) -> StepOutcome:
        import optuna  # optional until a tuning step runs: keeps `import slipway.pipelines` light

        spec = check_executor(self.executor, ctx, self.name)
        job_run = start_run(
            ctx, self.name, experiment=self.experiment, tags={"slipway.tuning.objective": self.objective}
        )
        tracking = ctx.services.tracking
        tracking.log_batch(
            job_run,
            params={
                "objective": self.objective,
                "direction": self.direction,
                "sampler": self.sampler,
                "max_trials": self.max_trials,
                "max_parallel_trials": self.max_parallel_trials,
                "executor": self.executor,
                "search_space": json.dumps(_space_to_json(self.search_space)),
            },
        )
        try:
            study, study_ref = self._study(ctx, optuna, spec, job_run)
            warm = ctx.args["warm_start_from"]
            warmed = self._warm_start(ctx, study, optuna, warm) if warm else 0
            reports = self._search(ctx, study, optuna, study_ref, job_run)
            if not reports:
                raise InvalidInput(f"step {self.name!r}: no trial finished; see the trial runs' logs and the step's")
            best = study.trials[min(reports, key=lambda number: (self._sign * reports[number][0], number))]
            fitted = reports[best.number][1]
            if fitted is not None:  # the trial ran here: its model is stored now, on its run and as the output
                store_model(
                    ctx,
                    fitted,
                    run_id=best.user_attrs["run_id"],
                    package=ctx.outputs_dir / MODEL_OUTPUT,
                    flavor=self.flavor,
                )
            else:  # the trial ran elsewhere: its model is on its run
                tracking.download_artifacts(best.user_attrs["run_id"], "model", ctx.outputs_dir / MODEL_OUTPUT)
            assert best.value is not None  # a complete trial has its value
        except BaseException:
            tracking.end_run(job_run, RunStatus.FAILED)
            raise
        tracking.log_batch(
            job_run,
            metrics=[{"key": f"best_{self.objective}", "value": best.value}],
            tags={"slipway.tuning.best_run_id": best.user_attrs["run_id"]},
            end_status=RunStatus.FINISHED,
        )
        trials = [
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "params": t.params,
                "run_id": t.user_attrs.get("run_id"),
            }
            for t in study.trials
        ]
        properties = {
            "run_id": job_run,
            "objective": self.objective,
            "direction": self.direction,
            "best_trial": best.number,
            "best_value": best.value,
            "best_params": best.params,
            "best_run_id": best.user_attrs["run_id"],
            "warm_started_trials": warmed,
            "trials": trials,
        }
        if study_ref is not None:
            properties["study"] = study_ref.name
        return StepOutcome(properties=properties, run_id=job_run)

    def _study(
        self, ctx: WorkContext, optuna: Any, spec: ServiceSpec | None, job_run: str
    ) -> tuple[Any, StudyRef | None]:
        """The job's study: in memory for threads, else on the storage beside the metadata database."""
        direction = optuna.study.StudyDirection[self.direction.upper()]
        pruner = self._optuna_pruner(optuna)
        if spec is None:
            return optuna.create_study(direction=direction, sampler=self._sampler(optuna), pruner=pruner), None
        execution = ctx.info.execution_id if ctx.info.orchestrator == "slipway" else None  # whose, for gc
        ref = StudyRef(spec.settings.db_url, study_name(job_run, execution), pruner, spec.settings.db_timeout)
        try:
            storage = open_storage(ref.db_url, ref.timeout)
        except ValueError as exc:
            raise InvalidInput(f"step {self.name!r}: {exc}", field=f"steps.{self.name}.executor") from None
        study = optuna.create_study(
            storage=storage, study_name=ref.name, direction=direction, sampler=self._sampler(optuna), pruner=pruner
        )
        return study, ref

    @property
    def _sign(self) -> float:
        """The objective times this is smaller for better trials."""
        return 1.0 if self.direction == "minimize" else -1.0

    def _runner(self, ctx: WorkContext, inputs: dict[str, Any]) -> TrialRunner:
        tracking = ctx.services.tracking
        if self.executor == "ray":
            res = self.resources
            return RayTrials(tracking, self.max_parallel_trials, res.cpus, res.gpus, res.memory_mb)
        if self.executor == "processes":
            return ProcessTrials(tracking, self.max_parallel_trials)
        return ThreadTrials(ctx, ctx.localize(inputs), self.max_parallel_trials)

    def _search(
        self, ctx: WorkContext, study: Any, optuna: Any, study_ref: StudyRef | None, job_run: str
    ) -> dict[int, tuple[float, Fitted | None]]:
        """Ask the study for trials, at most ``max_parallel_trials`` out at once, and tell it how each
        ended; the value of each trial the study holds complete, by number, with the model of the
        best kept in memory (trials in this process) or None (stored on its run, if at all)."""
        tracking = ctx.services.tracking
        experiment_id = tracking.get_or_create_experiment(self.experiment or ctx.info.pipeline).id
        fixed = dict(ctx.args["hyperparameters"])
        distributions = {name: _distribution(optuna, dist) for name, dist in self.search_space.items()}
        runner = self._runner(ctx, ctx.args["inputs"])
        search = TrialSearch(
            fixed,
            {} if not runner.remote else ctx.args["inputs"],
            self.objective,
            self.flavor,
            self.function,
            ctx.info,
            study_ref,
            ctx.spec if runner.remote else None,
            self._sign,
        )
        out: dict[Hashable, Any] = {}
        finished: dict[int, tuple[float, Fitted | None]] = {}
        bar: tuple[float, int] | None = None  # (sign * value, number) of the best so far
        asked, total = 0, self._trial_count()
        try:
            while asked < total or out:
                while asked < total and len(out) < self.max_parallel_trials:
                    trial = study.ask(distributions)
                    asked += 1
                    params = dict(trial.params)
                    run = {
                        "experiment_id": experiment_id,
                        "name": f"{self.name}-trial-{trial.number}",
                        "tags": run_tags(ctx, {_TRIAL_TAG: str(trial.number), _PARAMS_TAG: json.dumps(params)}),
                        "parent_run_id": job_run,
                    }
                    job = TrialJob(trial.number, trial._trial_id, run, params, search, None if bar is None else bar[0])
                    out[runner.submit(job, trial)] = trial
                for handle, report in runner.wait(list(out)):
                    trial = out.pop(handle)
                    state, exhausted = self._tell(tracking, study, optuna, trial, report)
                    if exhausted:
                        total = asked  # a grid with no point left: ask no more
                    if state != optuna.trial.TrialState.COMPLETE or report.value is None:
                        continue
                    key = (self._sign * report.value, report.number)
                    if bar is None or key < bar:
                        if bar is not None:  # the model it beats is no longer kept
                            finished[bar[1]] = (finished[bar[1]][0], None)
                        bar = key
                        finished[report.number] = (report.value, report.fitted)
                    else:
                        finished[report.number] = (report.value, None)
        finally:
            runner.close()
        return finished

    def _tell(self, tracking: Any, study: Any, optuna: Any, trial: Any, report: TrialReport) -> tuple[Any, bool]:
        """Tell the study how ``trial`` ended; the state it stored (a value Optuna refuses, NaN, is
        a FAIL), and True when the sampler has nothing left to try.

        Optuna's grid sampler says so by calling ``study.stop()``, which only works inside
        ``study.optimize``; the trial is stored either way (Optuna stores it in a ``finally``).
        """
        from optuna.study._tell import _tell_with_warning  # Study.tell, less the trial read back to return it

        states = optuna.trial.TrialState
        try:
            if report.state == "COMPLETE":
                state = _tell_with_warning(study, trial, report.value)[0]
            elif report.state == "PRUNED":
                state = _tell_with_warning(study, trial, state=states.PRUNED)[0]
            else:
                state = _tell_with_warning(study, trial, state=states.FAIL)[0]
        except RuntimeError as exc:
            if "Study.stop" not in str(exc):
                raise
            exhausted = True
            state = study.get_trials(deepcopy=False)[trial.number].state
        else:
            exhausted = False
        if report.state not in ("COMPLETE", "PRUNED"):
            run_id = trial.user_attrs.get("run_id")  # None: its worker died before making the run
            if run_id is not None and tracking.get_run(run_id).status is RunStatus.RUNNING:  # or before ending it
                tracking.set_tag(run_id, _STATE_TAG, "FAIL")
                tracking.end_run(run_id, RunStatus.FAILED)
            print(f"trial {report.number} failed: {report.error}", file=sys.stderr)
        return state, exhausted

    def _trial_count(self) -> int:
        if self.sampler == "grid":
            size = 1
            for values in _grid(self.search_space, self.name).values():
                size *= len(values)
            return min(self.max_trials, size)
        return self.max_trials

    def _sampler(self, optuna: Any) -> Any:
        if self.sampler == "grid":
            return optuna.samplers.GridSampler(_grid(self.search_space, self.name), seed=self.seed)
        if self.sampler == "random":
            return optuna.samplers.RandomSampler(seed=self.seed)
        return optuna.samplers.TPESampler(seed=self.seed)

    def _optuna_pruner(self, optuna: Any) -> Any:
        if isinstance(self.pruner, MedianPruning):
            return optuna.pruners.MedianPruner(
                n_startup_trials=self.pruner.startup_trials, n_warmup_steps=self.pruner.warmup_steps
            )
        if isinstance(self.pruner, HyperbandPruning):
            return optuna.pruners.HyperbandPruner(
                min_resource=self.pruner.min_resource,
                max_resource=self.pruner.max_resource,
                reduction_factor=self.pruner.reduction_factor,
            )
        return optuna.pruners.NopPruner()

    def _warm_start(self, ctx: WorkContext, study: Any, optuna: Any, job_run_id: str) -> int:
        """Tell the study the finished trials of the earlier job ``job_run_id``; return how many."""
        tracking = ctx.services.tracking
        tracking.get_run(job_run_id)  # NotFound names the run when the id is wrong
        earlier = tracking.search_runs(filter=f"parent_run_id = '{job_run_id}'", max_results=10_000).runs
        distributions = {name: _distribution(optuna, dist) for name, dist in self.search_space.items()}
        told = []
        for run in earlier:
            metric = run.metrics.get(self.objective)
            if run.tags.get(_STATE_TAG) != "COMPLETE" or metric is None:
                continue
            params = json.loads(run.tags.get(_PARAMS_TAG, "{}"))
            if set(params) != set(distributions) or not all(
                distributions[k]._contains(distributions[k].to_internal_repr(v)) for k, v in params.items()
            ):
                continue  # sampled from another search space: it says nothing about this one
            told.append(
                optuna.trial.create_trial(
                    params=params,
                    distributions=distributions,
                    value=metric.value,
                    user_attrs={"run_id": run.id, "warm_start": True},
                )
            )
        study.add_trials(told)
        return len(told)


def _pruning(pruner: str | Pruning | None, step: str) -> Pruning | None:
    if pruner is None or isinstance(pruner, MedianPruning | HyperbandPruning):
        return pruner
    if isinstance(pruner, str) and pruner in _PRUNERS:
        made: Pruning = _PRUNERS[pruner]()
        return made
    raise InvalidInput(
        f"step {step!r}: unknown pruner {pruner!r}; use median or hyperband", field=f"steps.{step}.pruner"
    )


def _suggest(trial: Any, name: str, dist: IntRange | FloatRange | Categorical) -> Any:
    if isinstance(dist, IntRange):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, FloatRange):
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_categorical(name, list(dist.choices))


def _distribution(optuna: Any, dist: IntRange | FloatRange | Categorical) -> Any:
    d = optuna.distributions
    if isinstance(dist, IntRange):
        return d.IntDistribution(dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, FloatRange):
        return d.FloatDistribution(dist.low, dist.high, step=dist.step, log=dist.log)
    return d.CategoricalDistribution(list(dist.choices))


def _grid(space: SearchSpace, step: str) -> dict[str, list[Any]]:
    """Every value of each hyperparameter, for the grid sampler.

    Raises:
        InvalidInput: for a continuous range (a FloatRange without ``step``) or a log-scale one.
    """
    grid: dict[str, list[Any]] = {}
    for name, dist in space.items():
        if isinstance(dist, Categorical):
            grid[name] = list(dist.choices)
        elif dist.log or dist.step is None:
            raise InvalidInput(
                f"step {step!r}: grid search needs discrete values; give {name!r} a step "
                "(and no log scale), or make it Categorical",
                field=f"steps.{step}.search_space",
            )
        elif isinstance(dist, IntRange):
            grid[name] = list(range(dist.low, dist.high + 1, dist.step))
        else:
            count = int(round((dist.high - dist.low) / dist.step)) + 1
            grid[name] = [round(dist.low + i * dist.step, 12) for i in range(count)]
    return grid
