"""What every step has: a name, dependencies, a retry policy, a timeout, a cache policy, resources.

A step type subclasses :class:`Step` and says which of its arguments may hold operands
(:meth:`Step.arguments`, from which the DAG's data edges come), which arguments usually written as
literals may also be parameters or properties (``settings``, see
:mod:`slipway.pipelines.steps._settings`), what it writes (``output_names``), how it is written as
JSON (:meth:`Step.spec` and ``from_spec``) and what it does in a worker (:meth:`Step.run`). Control
steps (condition, fail, wait) are decided by the runner itself and never reach a worker.
"""

from __future__ import annotations

import abc
import copy
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from slipway._names import IDENTIFIER
from slipway.errors import InvalidInput
from slipway.pipelines._code import Code
from slipway.pipelines._context import StepOutcome, WorkContext
from slipway.pipelines._expressions import (
    Condition,
    JsonGet,
    Operand,
    OutputRef,
    PropertyFile,
    StepName,
    condition_from_json,
    decode,
    encode,
    walk,
)
from slipway.pipelines.steps._settings import Settings

TIMEOUT_ERROR = "StepTimeout"


def check_name(name: str, what: str, field: str) -> str:
    """A pipeline, step, parameter or output name (see :data:`slipway._names.IDENTIFIER`)."""
    return IDENTIFIER.check(name, field, f"{what} name")


def _seconds(value: float | dt.timedelta | None, field: str) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    if seconds <= 0:
        raise InvalidInput(f"{field} must be positive, not {value!r}", field=field)
    return seconds


@dataclass(frozen=True)
class RetryPolicy:
    """How often to try a failing step again, how long to wait between tries, and for which errors.

    Args:
        max_attempts: tries in all, the first included.
        backoff: seconds before the second try; each later wait is ``backoff_rate`` times longer,
            up to ``max_backoff``.
        retry_on: names (or classes) of the exceptions worth another try, matched against the
            error's class and its bases; empty means any error. A step that ran past its timeout
            fails with ``StepTimeout``.

    Example:
        >>> policy = RetryPolicy(max_attempts=3, backoff=0.5, retry_on=(ConnectionError, "StepTimeout"))
        >>> policy.delay(1), policy.delay(2)
        (0.5, 1.0)
    """

    max_attempts: int = 3
    backoff: float = 1.0
    backoff_rate: float = 2.0
    max_backoff: float = 300.0
    retry_on: tuple[str | type[BaseException], ...] = ()

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidInput("retry max_attempts must be at least 1", field="retry.max_attempts")
        if self.backoff < 0 or self.backoff_rate < 1 or self.max_backoff < 0:
            raise InvalidInput("retry backoff must be >= 0 and backoff_rate >= 1", field="retry.backoff")
        names = tuple(e if isinstance(e, str) else e.__name__ for e in self.retry_on)
        object.__setattr__(self, "retry_on", names)

    def delay(self, failed_attempt: int) -> float:
        """Seconds to wait after try number ``failed_attempt`` (from 1) failed."""
        return float(min(self.backoff * self.backoff_rate ** (failed_attempt - 1), self.max_backoff))

    def should_retry(self, failed_attempt: int, error_types: Sequence[str]) -> bool:
        """Whether try number ``failed_attempt`` failing with an error of ``error_types`` (its class
        and bases, by name) earns another try."""
        if failed_attempt >= self.max_attempts:
            return False
        return not self.retry_on or any(name in self.retry_on for name in error_types)

    def to_json(self) -> dict[str, Any]:
        return {
            "max_attempts": self.max_attempts,
            "backoff": self.backoff,
            "backoff_rate": self.backoff_rate,
            "max_backoff": self.max_backoff,
            "retry_on": list(self.retry_on),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RetryPolicy:
        return cls(
            data["max_attempts"],
            data["backoff"],
            data["backoff_rate"],
            data["max_backoff"],
            tuple(data.get("retry_on", ())),
        )


@dataclass(frozen=True)
class CachePolicy:
    """Whether a step may be served from the cache, and for how long earlier outputs stay good.

    Args:
        enabled: False opts the step out: it always runs.
        expire_after: seconds after which an earlier result is not reused (``cache=timedelta(...)``
            on a step says the same).

    Example:
        >>> ProcessingStep("Fetch", fetch, cache=CachePolicy(expire_after=3600))  # doctest: +SKIP
    """

    enabled: bool = True
    expire_after: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "expire_after": self.expire_after}

    @classmethod
    def of(cls, value: bool | CachePolicy | dt.timedelta) -> CachePolicy:
        if isinstance(value, CachePolicy):
            return value
        if isinstance(value, dt.timedelta):
            return cls(True, _seconds(value, "cache.expire_after"))
        return cls(bool(value))


@dataclass(frozen=True)
class Resources:
    """What a step asks of the machine it runs on: the Ray executor reserves it for the step's task.

    The local executor runs one step per worker process and does not reserve anything.

    Example:
        >>> TrainingStep("Train", fit, resources=Resources(cpus=4, memory_mb=8192, gpus=1))  # doctest: +SKIP
    """

    cpus: float = 1.0
    memory_mb: int | None = None
    gpus: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"cpus": self.cpus, "memory_mb": self.memory_mb, "gpus": self.gpus}


class Outputs:
    """``step.outputs["name"]``: a reference to an output of a step, for the steps that consume it."""

    def __init__(self, step: Step) -> None:
        self._step = step

    def __getitem__(self, name: str) -> OutputRef:
        return OutputRef(self._step, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._step.output_names)

    def __repr__(self) -> str:
        return f"Outputs({', '.join(self._step.output_names)})"


class Step(Settings, abc.ABC):
    """A node of a pipeline.

    Args:
        name: unique within the pipeline.
        depends_on: steps (or step names) that must finish first even though no data flows.
        retry: a :class:`RetryPolicy`; None tries once.
        timeout: seconds (or a timedelta) one try may take before it is stopped and fails with
            ``StepTimeout``.
        cache: False opts out of caching; a :class:`CachePolicy` or a timedelta sets an expiry.
        resources: what the step needs from the machine (see :class:`Resources`).
        description: what the step is for, shown with the pipeline.
        light: run the step in the orchestrator's own process, with no isolation, rather than
            in a worker process: for short steps whose hop to a worker would cost more than
            their work. Its transitions, outputs, logs, cache and lineage are recorded as any
            step's, but it cannot be killed (no timeout; a stop waits for it), it shares the
            orchestrator's memory and fate, and only its Python-level prints are its logs.
            A server runs light only the code its ``light_step_modules`` setting lists.
    """

    type_name: ClassVar[str]
    in_worker: ClassVar[bool] = True  # False: the runner decides the step itself
    cacheable: ClassVar[bool] = True  # False: has an effect each time it runs (registering a model)
    # Arguments the step itself reads as local paths when given a string, not a step output: a
    # server holds them to its dataset_roots (see slipway.pipelines._admission).
    path_arguments: ClassVar[tuple[str, ...]] = ()
    # ``settings`` (from Settings): arguments usually written as literals that may also be parameters
    # or properties, checked wherever their value becomes known (see slipway.pipelines.steps._settings).
    # The arguments that may hold operands, each stored in the JSON definition as ``encode`` writes it
    # (an attribute of the same name holds each), and those stored as they are: from these the step's
    # ``arguments``, ``spec`` and ``from_spec`` follow, unless its type writes its own.
    encoded: ClassVar[tuple[str, ...]] = ()
    stored: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        name: str,
        *,
        depends_on: Iterable[Step | str] = (),
        retry: RetryPolicy | None = None,
        timeout: float | dt.timedelta | None = None,
        cache: bool | CachePolicy | dt.timedelta = True,
        resources: Resources | None = None,
        description: str | None = None,
        light: bool = False,
    ) -> None:
        self.name = check_name(name, "step", "steps")
        self.depends_on: list[Step | StepName] = [StepName(d) if isinstance(d, str) else d for d in depends_on]
        self.retry = retry
        self.timeout = _seconds(timeout, f"steps.{name}.timeout")
        self.cache = CachePolicy.of(cache)
        self.resources = resources or Resources()
        self.description = description
        self.light = bool(light)
        self.outputs = Outputs(self)

    # -- what subclasses say -------------------------------------------------------------------

    @property
    def output_names(self) -> tuple[str, ...]:
        """The outputs the step writes (folders under its ``outputs/``)."""
        return ()

    @property
    def property_files(self) -> tuple[PropertyFile, ...]:
        return ()

    def arguments(self) -> dict[str, Any]:
        """Every argument that may hold operands: the step's data dependencies come from these."""
        return {name: getattr(self, name) for name in self.encoded}

    def code(self) -> Code | None:
        """The user code the step runs, if any; its hash is part of the definition and the cache key."""
        return None

    def linked_steps(self) -> Iterator[Step]:
        """Step objects this step points at besides its arguments (a condition's branches)."""
        return iter(())

    def check(self) -> None:
        """Refuse, naming the step, a configuration that cannot run (called by the pipeline).

        Step types extend it with their own checks; here: output names are names, and unique, and
        literal settings are allowed values.
        """
        self.check_settings()
        if self.light and not self.in_worker:
            raise InvalidInput(
                f"step {self.name!r}: a {self.type_name} step is decided by the orchestrator itself; "
                "light is for steps that run code",
                field=f"steps.{self.name}.light",
            )
        if self.light and self.timeout is not None:
            raise InvalidInput(
                f"step {self.name!r}: a light step runs in the orchestrator's process, where it cannot be "
                "stopped at a timeout; drop timeout, or light to run it in a worker process",
                field=f"steps.{self.name}.timeout",
            )
        for output in self.output_names:
            check_name(output, f"step {self.name!r}: output", f"steps.{self.name}.outputs")
        if len(set(self.output_names)) != len(self.output_names):
            raise InvalidInput(f"step {self.name!r} declares an output twice", field=f"steps.{self.name}.outputs")

    def spec(self) -> dict[str, Any]:
        """The type's own part of the JSON definition."""
        encoded = {name: encode(getattr(self, name)) for name in self.encoded}
        return encoded | self.settings_spec() | {name: getattr(self, name) for name in self.stored}

    @classmethod
    def from_spec(cls, name: str, spec: Mapping[str, Any], common: dict[str, Any]) -> Step:
        """Rebuild the step from :meth:`spec`; ``common`` holds the keyword arguments of :class:`Step`."""
        encoded = {arg: decode(spec[arg]) for arg in cls.encoded}
        stored = {arg: spec[arg] for arg in cls.stored if arg in spec}  # absent: stored before it existed
        return cls(name, **encoded, **cls.settings_from_spec(spec), **stored, **common)

    def run(self, ctx: WorkContext) -> StepOutcome:
        """Do the step's work in a worker process; outputs go into ``ctx.output_dir(name)``."""
        raise NotImplementedError(f"{self.type_name} steps are decided by the runner, not run in a worker")

    # -- shared machinery ----------------------------------------------------------------------

    def operands(self) -> Iterator[Operand]:
        for value in (*self.arguments().values(), *self.setting_values().values()):
            yield from walk(value)

    def upstream_names(self) -> list[str]:
        """Names of the steps this one needs first: data dependencies, then ``depends_on``."""
        names: dict[str, None] = {}
        for op in self.operands():
            if isinstance(op, OutputRef | JsonGet):
                names[op.step.name] = None
        for dep in self.depends_on:
            names[dep.name] = None
        return list(names)

    def detached(self) -> Step:
        """A copy that names the steps it points at instead of holding them.

        What a worker is sent: without it, pickling one step would pickle every step upstream.
        """
        clone = copy.copy(self)
        for key, value in vars(self).items():
            setattr(clone, key, _detach(value))
        clone.outputs = Outputs(clone)
        return clone

    def to_json(self) -> dict[str, Any]:
        code = self.code()
        out: dict[str, Any] = {"name": self.name, "type": self.type_name}
        if self.description:
            out["description"] = self.description
        out["depends_on"] = [d.name for d in self.depends_on]
        out.update(self.spec())
        if code is not None:
            out["code"] = code.to_json()
        out["retry"] = None if self.retry is None else self.retry.to_json()
        out["timeout"] = self.timeout
        out["cache"] = self.cache.to_json()
        out["resources"] = self.resources.to_json()
        if self.light:  # only when set: definitions stored before light existed keep their digest
            out["light"] = True
        return out

    @staticmethod
    def common_from_json(data: Mapping[str, Any]) -> dict[str, Any]:
        """The keyword arguments of :class:`Step` stored in a step's JSON."""
        cache = data.get("cache") or {}
        resources = data.get("resources") or {}
        return {
            "depends_on": list(data.get("depends_on", ())),
            "retry": RetryPolicy.from_json(data["retry"]) if data.get("retry") else None,
            "timeout": data.get("timeout"),
            "cache": CachePolicy(cache.get("enabled", True), cache.get("expire_after")),
            "resources": Resources(**resources),
            "description": data.get("description"),
            "light": data.get("light") is True,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def _detach(value: Any) -> Any:
    if isinstance(value, Step):
        return StepName(value.name)
    if isinstance(value, Operand):
        return decode(encode(value))
    if isinstance(value, Condition):
        return condition_from_json(value.to_json())
    if isinstance(value, dict):
        return {k: _detach(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_detach(v) for v in value)
    return value
