"""Values known only when a pipeline runs, and conditions over them.

An *operand* stands for a value the runner fills in: a pipeline parameter, an output of an
earlier step (:class:`OutputRef`), a value read out of a step's JSON report (:class:`JsonGet`), a
local file handed to the pipeline (:class:`FileInput`) or text joined from several of them
(:class:`Join`). Passing one to a step is what makes that step depend on another: data
dependencies make the DAG.

A :class:`Condition` compares operands (``<``, ``<=``, ``>``, ``>=`` as operators; ``.eq``,
``.ne``, ``.is_in`` as methods, since ``==`` must keep meaning identity) and combines with
``&``, ``|`` and ``~``.

Everything here turns into JSON and back (:func:`encode`, :func:`decode`), naming steps by name,
so a definition can be stored, diffed and re-run by a server.
"""

from __future__ import annotations

import abc
import json
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from slipway.errors import InvalidInput
from slipway.pipelines._jsonpath import parse_json_path


class Named(Protocol):
    """Anything with a step name: a step object, or a step named in a stored definition."""

    @property
    def name(self) -> str: ...


class Resolver(Protocol):
    """What the runner provides to turn operands into values, for one step about to run."""

    def parameter(self, name: str) -> Any: ...

    def output(self, ref: OutputRef) -> Any: ...

    def json_get(self, ref: JsonGet) -> Any: ...

    def file(self, path: str) -> Any: ...


class Operand(abc.ABC):
    """A value filled in at run time; comparing it builds a :class:`Condition`."""

    @abc.abstractmethod
    def to_json(self) -> dict[str, Any]:
        """The operand as JSON; steps are named, never embedded."""

    @abc.abstractmethod
    def resolve(self, resolver: Resolver) -> Any:
        """The value, now that the steps it comes from have run."""

    def operands(self) -> Iterator[Operand]:
        """This operand and every operand inside it."""
        yield self

    def __lt__(self, other: object) -> Compare:
        return Compare("<", self, other)

    def __le__(self, other: object) -> Compare:
        return Compare("<=", self, other)

    def __gt__(self, other: object) -> Compare:
        return Compare(">", self, other)

    def __ge__(self, other: object) -> Compare:
        return Compare(">=", self, other)

    def eq(self, other: object) -> Compare:
        """``self == other`` as a condition (``==`` itself keeps meaning identity)."""
        return Compare("==", self, other)

    def ne(self, other: object) -> Compare:
        return Compare("!=", self, other)

    def is_in(self, options: Sequence[Any] | Operand) -> Compare:
        """Whether the value is one of ``options`` (a list, or an operand holding one)."""
        return Compare("in", self, options)


class ParameterName(Operand):
    """A parameter named in a stored definition; the pipeline checks it is declared
    (:class:`~slipway.pipelines.Parameter` is the declared kind)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def to_json(self) -> dict[str, Any]:
        return {"parameter": self.name}

    def resolve(self, resolver: Resolver) -> Any:
        return resolver.parameter(self.name)


class StepName:
    """A step named in a stored definition, before the pipeline links names to steps."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"StepName({self.name!r})"


class OutputRef(Operand):
    """An output of a step (a folder), or a file inside it: ``train.outputs["model"] / "model.json"``.

    The consuming step gets a local path to a copy of it; the bytes travel through the artifact
    store, by reference.
    """

    def __init__(self, step: Named, output: str, path: str = "") -> None:
        self.step = step
        self.output = output
        self.path = path.strip("/")

    def __truediv__(self, sub: str) -> OutputRef:
        return OutputRef(self.step, self.output, f"{self.path}/{sub}" if self.path else sub)

    def to_json(self) -> dict[str, Any]:
        out = {"step": self.step.name, "name": self.output}
        if self.path:
            out["path"] = self.path
        return {"output": out}

    def resolve(self, resolver: Resolver) -> Any:
        return resolver.output(self)

    def __repr__(self) -> str:
        sub = f" / {self.path!r}" if self.path else ""
        return f"{self.step.name}.outputs[{self.output!r}]{sub}"


class PropertyFile:
    """A JSON file a step writes into one of its outputs, to be read by :class:`JsonGet`.

    Example:
        >>> report = PropertyFile("EvaluationReport", output="evaluation", path="evaluation.json")
    """

    def __init__(self, name: str, *, output: str, path: str) -> None:
        self.name = name
        self.output = output
        self.path = path.strip("/")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "output": self.output, "path": self.path}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PropertyFile:
        return cls(data["name"], output=data["output"], path=data["path"])


class JsonGet(Operand):
    """A value read out of a step's JSON: a property file, or (``property_file=None``) the step's
    properties (what a function step returned, a training step's metrics, a tuning step's best trial).

    Example:
        >>> mse = JsonGet(evaluate, report, "regression_metrics.mse.value")  # doctest: +SKIP
        >>> check = mse <= Parameter("mse_threshold", float, 6.0)  # doctest: +SKIP
    """

    def __init__(self, step: Named, property_file: PropertyFile | str | None, json_path: str) -> None:
        parse_json_path(json_path)  # refuse a malformed path when the pipeline is defined
        self.step = step
        self.property_file = property_file.name if isinstance(property_file, PropertyFile) else property_file
        self.json_path = json_path

    def to_json(self) -> dict[str, Any]:
        return {"json": {"step": self.step.name, "file": self.property_file, "path": self.json_path}}

    def resolve(self, resolver: Resolver) -> Any:
        return resolver.json_get(self)

    def __repr__(self) -> str:
        return f"JsonGet({self.step.name!r}, {self.property_file!r}, {self.json_path!r})"


class FileInput(Operand):
    """A local file or folder given to the pipeline; stored (by content) when an execution starts.

    Its content hash is part of the consuming step's cache key, so changed data means a re-run.
    The path may come from a parameter, so callers can point one definition at other data.

    Example:
        >>> FileInput(Parameter("input_data", str, "data/abalone.csv")).to_json()  # doctest: +SKIP
        {'file': {'parameter': 'input_data'}}
    """

    def __init__(self, path: str | Path | Operand) -> None:
        self.path: Any = path if isinstance(path, Operand) else str(Path(path).expanduser().resolve())

    def operands(self) -> Iterator[Operand]:
        yield self
        yield from walk(self.path)

    def to_json(self) -> dict[str, Any]:
        return {"file": encode(self.path)}

    def resolve(self, resolver: Resolver) -> Any:
        return resolver.file(str(resolve(self.path, resolver)))

    def __repr__(self) -> str:
        return f"FileInput({self.path!r})"


class Join(Operand):
    """Text made of literals and operands, e.g. the message of a Fail step.

    Example:
        >>> Join("MSE above ", ParameterName("mse_threshold")).to_json()
        {'join': {'parts': [{'value': 'MSE above '}, {'parameter': 'mse_threshold'}], 'sep': ''}}
    """

    def __init__(self, *parts: Any, sep: str = "") -> None:
        self.parts = parts
        self.sep = sep

    def operands(self) -> Iterator[Operand]:
        yield self
        for part in self.parts:
            yield from walk(part)

    def to_json(self) -> dict[str, Any]:
        return {"join": {"parts": [encode(p) for p in self.parts], "sep": self.sep}}

    def resolve(self, resolver: Resolver) -> Any:
        return self.sep.join(_text(resolve(p, resolver)) for p in self.parts)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# ---------------------------------------------------------------------------------- conditions


class Condition(abc.ABC):
    """A test over operands; ``&``, ``|`` and ``~`` combine conditions."""

    @abc.abstractmethod
    def to_json(self) -> dict[str, Any]: ...

    @abc.abstractmethod
    def evaluate(self, resolver: Resolver) -> bool: ...

    @abc.abstractmethod
    def operands(self) -> Iterator[Operand]: ...

    def __and__(self, other: Condition) -> Condition:
        return And(self, other)

    def __or__(self, other: Condition) -> Condition:
        return Or(self, other)

    def __invert__(self) -> Condition:
        return Not(self)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "in": lambda left, right: left in right,
}


class Compare(Condition):
    """``left <op> right`` with op one of ``==  !=  <  <=  >  >=  in``."""

    def __init__(self, op: str, left: Any, right: Any) -> None:
        if op not in _COMPARE:
            raise InvalidInput(f"unknown comparison {op!r}; use one of {', '.join(_COMPARE)}", field="condition")
        self.op = op
        self.left = left
        self.right = list(right) if op == "in" and isinstance(right, tuple | set | frozenset) else right

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "left": encode(self.left), "right": encode(self.right)}

    def operands(self) -> Iterator[Operand]:
        yield from walk(self.left)
        yield from walk(self.right)

    def evaluate(self, resolver: Resolver) -> bool:
        left, right = resolve(self.left, resolver), resolve(self.right, resolver)
        try:
            return bool(_COMPARE[self.op](left, right))
        except TypeError:
            raise InvalidInput(
                f"cannot compare {left!r} {self.op} {right!r}: {type(left).__name__} and {type(right).__name__}",
                field="condition",
            ) from None

    def __repr__(self) -> str:
        return f"({self.left!r} {self.op} {self.right!r})"


class And(Condition):
    def __init__(self, *conditions: Condition) -> None:
        self.conditions = conditions

    def to_json(self) -> dict[str, Any]:
        return {"op": "and", "conditions": [c.to_json() for c in self.conditions]}

    def operands(self) -> Iterator[Operand]:
        for c in self.conditions:
            yield from c.operands()

    def evaluate(self, resolver: Resolver) -> bool:
        return all(c.evaluate(resolver) for c in self.conditions)


class Or(And):
    def to_json(self) -> dict[str, Any]:
        return {"op": "or", "conditions": [c.to_json() for c in self.conditions]}

    def evaluate(self, resolver: Resolver) -> bool:
        return any(c.evaluate(resolver) for c in self.conditions)


class Not(Condition):
    def __init__(self, condition: Condition) -> None:
        self.condition = condition

    def to_json(self) -> dict[str, Any]:
        return {"op": "not", "condition": self.condition.to_json()}

    def operands(self) -> Iterator[Operand]:
        yield from self.condition.operands()

    def evaluate(self, resolver: Resolver) -> bool:
        return not self.condition.evaluate(resolver)


def condition_from_json(data: Mapping[str, Any]) -> Condition:
    op = data.get("op")
    if op in ("and", "or"):
        parts = [condition_from_json(c) for c in data["conditions"]]
        return And(*parts) if op == "and" else Or(*parts)
    if op == "not":
        return Not(condition_from_json(data["condition"]))
    return Compare(str(op), decode(data["left"]), decode(data["right"]))


# ------------------------------------------------------------------------------- (de)serialising


def encode(value: Any) -> dict[str, Any]:
    """A step argument as JSON: an operand, a literal, or a list/dict holding operands.

    Raises:
        InvalidInput: for a literal JSON cannot hold (an object, NaN).
    """
    if isinstance(value, Operand):
        return value.to_json()
    if isinstance(value, Path):
        return {"value": str(value)}
    if isinstance(value, list | tuple) and any(True for v in value for _ in walk(v)):
        return {"list": [encode(v) for v in value]}
    if isinstance(value, Mapping) and any(True for v in value.values() for _ in walk(v)):
        return {"dict": {str(k): encode(v) for k, v in value.items()}}
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{value!r} cannot be part of a pipeline definition: use JSON values, parameters or step outputs",
            field="inputs",
        ) from None
    return {"value": list(value) if isinstance(value, tuple) else value}


def decode(data: Mapping[str, Any]) -> Any:
    """The inverse of :func:`encode`; steps come back as :class:`StepName` until linked."""
    if "value" in data:
        return data["value"]
    if "list" in data:
        return [decode(v) for v in data["list"]]
    if "dict" in data:
        return {k: decode(v) for k, v in data["dict"].items()}
    if "parameter" in data:
        return ParameterName(data["parameter"])
    if "output" in data:
        out = data["output"]
        return OutputRef(StepName(out["step"]), out["name"], out.get("path", ""))
    if "json" in data:
        ref = data["json"]
        return JsonGet(StepName(ref["step"]), ref.get("file"), ref["path"])
    if "file" in data:
        return FileInput(decode(data["file"]))
    if "join" in data:
        return Join(*(decode(p) for p in data["join"]["parts"]), sep=data["join"].get("sep", ""))
    raise InvalidInput(f"not a pipeline value: {json.dumps(data)[:200]}", field="definition")


def walk(value: Any) -> Iterator[Operand]:
    """Every operand inside a step argument (nested in lists and dicts too)."""
    if isinstance(value, Operand):
        yield from value.operands()
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from walk(v)


def resolve(value: Any, resolver: Resolver) -> Any:
    """A step argument with every operand replaced by its value."""
    if isinstance(value, Operand):
        return value.resolve(resolver)
    if isinstance(value, Mapping):
        return {k: resolve(v, resolver) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve(v, resolver) for v in value]
    return value


def step_names_in_json(data: Any) -> Iterator[str]:
    """The steps an encoded value reads from (``output`` and ``json`` references), without decoding it."""
    if isinstance(data, Mapping):
        for key in ("output", "json"):
            ref = data.get(key)
            if isinstance(ref, Mapping) and isinstance(ref.get("step"), str):
                yield ref["step"]
        for key, value in data.items():
            if key != "value":
                yield from step_names_in_json(value)
    elif isinstance(data, list):
        for value in data:
            yield from step_names_in_json(value)
