"""What a step sees while it runs in a worker process.

Two contexts, for two readers:

- :class:`WorkContext` is what a step *type* gets (``Step.run``): the resolved arguments, a
  private work folder, output folders, the services of the store.
- :class:`StepContext` is what a *user function* gets when it declares a ``ctx`` parameter: its
  output folders, and metric logging into the step's tracked run.

The worker builds services from a :class:`ServiceSpec` (a picklable recipe), so a pipeline's code
never reaches for a global client.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from slipway._config import Settings
from slipway.errors import InvalidInput
from slipway.pipelines._artifacts import ArtifactRef, materialize
from slipway.store.artifacts import ArtifactStore
from slipway.tracking import TrackingService

if TYPE_CHECKING:
    from slipway.clarify import ClarifyService
    from slipway.monitoring import MonitoringService
    from slipway.registry import RegistryService

CTX_ARGUMENT = "ctx"


class Services(Protocol):
    """The engines and services a step may use: what ``slipway._backend.Backend`` offers."""

    @property
    def artifacts(self) -> ArtifactStore: ...

    @property
    def tracking(self) -> TrackingService: ...

    @property
    def registry(self) -> RegistryService: ...

    @property
    def monitoring(self) -> MonitoringService: ...

    @property
    def clarify(self) -> ClarifyService: ...


@dataclass(frozen=True)
class ServiceSpec:
    """How a worker process builds its services: ``factory(settings)``, once per process and spec.

    Both parts travel to the worker by pickling, so ``factory`` must be importable (a class such
    as ``Backend`` is).
    """

    factory: Callable[[Settings], Services]
    settings: Settings

    def build(self) -> Services:
        return self.factory(self.settings)


@dataclass(frozen=True)
class TaskInfo:
    """Which step of which execution a task is.

    ``orchestrator`` is ``slipway`` when Slipway's runner runs the step (the ids are its own
    execution and step execution), or the orchestrator an exported pipeline runs on (``kfp``: the
    ids are that orchestrator's run and task, which Slipway's store does not hold).
    """

    pipeline: str
    execution_id: str
    step_name: str
    step_execution_id: str
    attempt: int
    orchestrator: str = "slipway"


@dataclass
class StepOutcome:
    """What a step type reports back besides its output folders."""

    properties: dict[str, Any] | None = None
    run_id: str | None = None


class WorkContext:
    """A step's surroundings in the worker: arguments, folders and services.

    ``spec`` is the recipe of the services, for a step that hands work on to other processes (a
    tuning step's trials); None where the step runs outside Slipway's runner.
    """

    def __init__(
        self,
        info: TaskInfo,
        args: dict[str, Any],
        work_dir: Path,
        services: Callable[[], Services],
        spec: ServiceSpec | None = None,
    ) -> None:
        self.info = info
        self.args = args
        self.work_dir = work_dir
        self._services = services
        self.spec = spec

    @property
    def services(self) -> Services:
        return self._services()

    @property
    def outputs_dir(self) -> Path:
        return self.work_dir / "out" / "outputs"

    def output_dir(self, name: str) -> Path:
        folder = self.outputs_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def localize(self, value: Any, prefix: str = "") -> Any:
        """``value`` with every artifact reference in it copied into ``input/`` and replaced by its path.

        A folder lands at ``input/<key>/``; a file at ``input/<key>/<file name>``, where ``<key>``
        is the argument's name (and ``prefix``, for nested arguments).
        """
        if isinstance(value, ArtifactRef):
            target = self.work_dir / "input" / prefix
            if not value.is_dir:
                target = target / PurePosixPath(value.path).name
            return materialize(self.services.artifacts, value, target)
        if isinstance(value, Mapping):
            return {k: self.localize(v, f"{prefix}/{k}" if prefix else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.localize(v, f"{prefix}/{i}" if prefix else str(i)) for i, v in enumerate(value)]
        return value

    def scratch(self, name: str) -> Path:
        """A fresh folder of the work area for the step's own use."""
        folder = self.work_dir / "scratch" / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder


Reporter = Callable[[str, float, int], None]


@dataclass
class StepContext:
    """The ``ctx`` a step function may ask for by naming a parameter ``ctx``.

    Example:
        >>> def preprocess(ctx: StepContext, raw: Path, test_size: float) -> dict:
        ...     frame = pd.read_csv(raw)
        ...     train, test = split(frame, test_size)
        ...     train.to_csv(ctx.output("train") / "train.csv", index=False)
        ...     test.to_csv(ctx.output("test") / "test.csv", index=False)
        ...     return {"rows": len(frame)}
    """

    execution_id: str
    step_name: str
    work: WorkContext
    declared_outputs: tuple[str, ...] = ()
    run_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    on_report: Reporter | None = None
    rank: int = 0
    world_size: int = 1

    @property
    def work_dir(self) -> Path:
        return self.work.work_dir

    @property
    def outputs_dir(self) -> Path:
        return self.work.outputs_dir

    def output(self, name: str) -> Path:
        """The folder to write the output ``name`` into; it is stored when the function returns.

        Raises:
            InvalidInput: if the step does not declare an output of that name.
        """
        if name not in self.declared_outputs:
            declared = ", ".join(self.declared_outputs) or "none"
            raise InvalidInput(
                f"step {self.step_name!r} has no output {name!r}; it declares: {declared}", field="outputs"
            )
        return self.work.output_dir(name)

    def shard(self, data: Any) -> Any:
        """This worker's part of ``data`` in a distributed training: every ``world_size``-th row
        from row ``rank`` (a DataFrame's rows, a sequence's items); all of it on one worker.

        Example:
            >>> frame = ctx.shard(pd.read_csv(train / "train.csv"))  # doctest: +SKIP
        """
        if self.world_size == 1:
            return data
        rows = getattr(data, "iloc", data)
        return rows[self.rank :: self.world_size]

    def prepare_model(self, model: Any) -> Any:
        """``model`` ready for data-parallel training: a PyTorch module wrapped in
        ``DistributedDataParallel`` when several workers train it (gradients averaged across them at
        each backward pass); unchanged on one worker. Return either: the step stores the module inside.
        """
        if self.world_size == 1:
            return model
        import torch.distributed

        if not torch.distributed.is_initialized():
            return model
        return torch.nn.parallel.DistributedDataParallel(model)

    def log_metric(self, key: str, value: float, step: int = 0) -> None:
        """Record a metric on the step's tracked run (training and tuning steps have one).

        In a distributed training only the worker of rank 0 writes to the run; the others keep
        their values to themselves, so each epoch is logged once.

        Raises:
            InvalidInput: in a step without a tracked run.
        """
        if self.rank != 0:
            self.metrics[key] = float(value)
            return
        if self.run_id is None:
            raise InvalidInput(
                f"step {self.step_name!r} has no tracked run: log metrics from a TrainingStep or TuningStep",
                field="metrics",
            )
        value = float(value)
        self.work.services.tracking.log_metric(self.run_id, key, value, step)
        self.metrics[key] = value

    def log_metrics(self, values: Mapping[str, float], step: int = 0) -> None:
        for key, value in values.items():
            self.log_metric(key, value, step)

    def report(self, key: str, value: float, step: int) -> None:
        """Record an intermediate value (an epoch's validation loss, say).

        In a tuning step, reports of the objective feed the pruner: a trial that falls behind is
        stopped here (Optuna's ``TrialPruned`` is raised), so call it where stopping is fine.
        """
        self.log_metric(key, value, step)
        if self.on_report is not None and math.isfinite(float(value)):
            self.on_report(key, float(value), step)


def accepts_ctx(fn: Callable[..., Any]) -> bool:
    return CTX_ARGUMENT in inspect.signature(fn).parameters


def check_arguments(fn: Callable[..., Any], given: set[str], *, step: str) -> None:
    """Refuse a function call that could not work: a required argument missing, or an unknown one.

    Raises:
        InvalidInput: (``field="steps.<step>.inputs"``) naming the step, the function and the argument.
    """
    params = inspect.signature(fn).parameters
    name = getattr(fn, "__qualname__", repr(fn))
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for param in params.values():
        if param.name == CTX_ARGUMENT or param.kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            continue
        if param.default is inspect.Parameter.empty and param.name not in given:
            raise InvalidInput(
                f"step {step!r}: {name}() needs the input {param.name!r}, which the step does not give",
                field=f"steps.{step}.inputs",
            )
    unknown = sorted(given - set(params) - {CTX_ARGUMENT})
    if unknown and not takes_any:
        raise InvalidInput(f"step {step!r}: {name}() takes no argument {unknown[0]!r}", field=f"steps.{step}.inputs")
