"""Settings: the step arguments usually written as literals, which may also be parameters or properties.

``RegisterModelStep(approval_status="Approved")`` and ``RegisterModelStep(approval_status=Parameter(
"ModelApprovalStatus", str, "PendingManualApproval"))`` are the same step: one fixes the status in the
definition, the other lets whoever starts an execution choose it; ``JsonGet(...)`` reads it from an
earlier step. A step type declares each such argument once, with a :class:`Setting` (its type and the
values it allows), and the check runs wherever the value becomes known:

- a literal, when the pipeline is built;
- a parameter, when the pipeline is built (its declared type and its default) and again when an
  execution starts (the value given), the error naming the step, the argument and the parameter;
- a value read from another step (:class:`~slipway.pipelines.JsonGet`, text joined from parts), just
  before the step runs: the step fails, naming the argument and where the value came from.

What the step does with the value is unchanged: the runner hands the worker a copy of the step with
each setting resolved (:meth:`Settings.settled`), so a step's ``run`` reads ``self.approval_status``
whatever gave it. Arguments that shape the DAG (outputs, branches, a search space) and ``trusted``
(what loading a model may execute, part of the reviewed definition) stay literals.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from slipway.errors import InvalidInput
from slipway.pipelines._expressions import Operand, ParameterName, Resolver, decode, encode, resolve, walk
from slipway.pipelines._parameters import Parameter

# Keys of an encoded operand (see slipway.pipelines._expressions.encode): a setting's JSON holding
# one of these alone is an operand; anything else is the literal itself, as definitions always held it.
_OPERAND_KEYS = frozenset({"parameter", "output", "json", "join", "list"})
_TYPE_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list"}


@dataclass(frozen=True)
class Setting:
    """What one step argument accepts, however its value is given.

    Attributes:
        kind: ``str``, ``int``, ``float`` (an int is accepted and converted), ``bool`` or ``list``;
            a tuple of them for an argument taking either (``methods="all"`` or a list of names).
        choices: the only values allowed, when there is a fixed set.
        optional: None is allowed (and means the step's default behaviour).
        minimum: the smallest number allowed (included).
        above: numbers must be greater than this.
        maximum: the largest number allowed (included).
        items: the type of each element of a list.
    """

    kind: type | tuple[type, ...]
    choices: tuple[Any, ...] = ()
    optional: bool = False
    minimum: float | None = None
    above: float | None = None
    maximum: float | None = None
    items: type | None = None

    @property
    def kinds(self) -> tuple[type, ...]:
        return self.kind if isinstance(self.kind, tuple) else (self.kind,)

    def describe(self) -> str:
        """What is allowed, in words, for error messages: ``one of Approved, Rejected``, ``an integer >= 1``."""
        if self.choices:
            text = f"one of {', '.join(map(str, self.choices))}"
        else:
            words = [_TYPE_WORDS[k] + (f" of {_TYPE_WORDS[self.items]}s" if k is list and self.items else "")
                     for k in self.kinds]
            text = " or ".join(words)
            bounds = [f">= {self.minimum:g}" if self.minimum is not None else "",
                      f"> {self.above:g}" if self.above is not None else "",
                      f"<= {self.maximum:g}" if self.maximum is not None else ""]
            if any(bounds):
                text += " " + " and ".join(b for b in bounds if b)
        return f"{text} (or null)" if self.optional else text

    def convert(self, value: Any) -> Any:
        """``value`` as the argument takes it (an int as a float where a number is wanted).

        Raises:
            ValueError: if the value is not allowed; the message says what is (:meth:`describe`).
        """
        if value is None and self.optional:
            return None
        for kind in self.kinds:
            converted = _as(kind, value, self.items)
            if converted is not _NO:
                break
        else:
            raise ValueError(self.describe())
        if self.choices and converted not in self.choices:
            raise ValueError(self.describe())
        if isinstance(converted, int | float) and not isinstance(converted, bool) and not self._in_bounds(converted):
            raise ValueError(self.describe())
        return converted

    def accepts_type(self, kind: type) -> bool:
        """Whether a parameter of type ``kind`` can hold a value of this argument."""
        return kind in self.kinds or (kind is int and float in self.kinds)

    def _in_bounds(self, number: float) -> bool:
        return ((self.minimum is None or number >= self.minimum)
                and (self.above is None or number > self.above)
                and (self.maximum is None or number <= self.maximum))


_NO = object()


def _as(kind: type, value: Any, items: type | None) -> Any:
    """``value`` as a ``kind``, or ``_NO``."""
    if kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        return _NO
    if kind is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _NO
    if kind is list:
        if not isinstance(value, list | tuple):
            return _NO
        if items is not None and not all(_as(items, v, None) is not _NO for v in value):
            return _NO
        return [_as(items, v, None) for v in value] if items is not None else list(value)
    return value if isinstance(value, kind) else _NO


def listed(value: Any) -> Any:
    """An iterable given for a list setting, as a list; an operand as it is (resolved later)."""
    return value if isinstance(value, Operand) else list(value)


def is_literal(value: Any) -> bool:
    """Whether a setting's value is fixed in the definition (no operand anywhere inside it)."""
    return next(walk(value), None) is None


def setting_json(value: Any) -> Any:
    """A setting as the definition stores it: the literal itself, or the encoded operand."""
    return value if is_literal(value) else encode(value)


def setting_from_json(data: Any) -> Any:
    """The inverse of :func:`setting_json`."""
    if isinstance(data, Mapping) and len(data) == 1 and next(iter(data)) in _OPERAND_KEYS:
        return decode(data)
    return data


class Settings:
    """The part of :class:`~slipway.pipelines.Step` that checks and resolves its declared settings.

    A step type lists them in ``settings`` (argument name -> :class:`Setting`); each is kept on the
    step as the attribute of the same name.
    """

    name: str
    settings: ClassVar[Mapping[str, Setting]] = {}

    def setting_values(self) -> dict[str, Any]:
        """Each setting's value as given: a literal or an operand."""
        return {arg: getattr(self, arg) for arg in self.settings}

    def settings_spec(self) -> dict[str, Any]:
        """The settings as the step's JSON holds them."""
        return {arg: setting_json(value) for arg, value in self.setting_values().items()}

    @classmethod
    def settings_from_spec(cls, spec: Mapping[str, Any]) -> dict[str, Any]:
        """The keyword arguments of the settings a stored step's JSON holds."""
        return {arg: setting_from_json(spec[arg]) for arg in cls.settings if arg in spec}

    def check_settings(self) -> None:
        """Check (and convert) the literal settings; called when the pipeline is built.

        Raises:
            InvalidInput: ``steps.<step>.<argument>``, saying what the argument takes.
        """
        for arg, value in self.setting_values().items():
            if is_literal(value):
                try:
                    setattr(self, arg, self.settings[arg].convert(value))
                except ValueError as exc:
                    raise InvalidInput(f"step {self.name!r}: {arg} must be {exc}, not {value!r}",
                                       field=f"steps.{self.name}.{arg}") from None

    def _parameter_settings(self) -> Iterator[tuple[str, Setting, str]]:
        """(argument, its setting, parameter name) of every setting given as a parameter."""
        for arg, value in self.setting_values().items():
            if isinstance(value, Parameter | ParameterName):
                yield arg, self.settings[arg], value.name

    def check_setting_parameters(self, declared: Mapping[str, Any]) -> None:
        """Check that each parameter a setting is bound to can hold its values, default included.

        ``declared`` maps names to :class:`~slipway.pipelines.Parameter`; called when the pipeline is built.

        Raises:
            InvalidInput: naming the step, the argument and the parameter.
        """
        for arg, setting, name in self._parameter_settings():
            param = declared[name]
            if not setting.accepts_type(param.type):
                raise InvalidInput(
                    f"step {self.name!r}: {arg} takes {setting.describe()}; parameter {name!r} is a {param.type_name}",
                    field=f"steps.{self.name}.{arg}",
                )
            if not param.required:
                self._checked(arg, setting, param.default, f"the default of parameter {name!r}",
                              f"parameters.{name}")

    def check_setting_values(self, values: Mapping[str, Any]) -> None:
        """Check the parameter values an execution starts with against the settings bound to them.

        Raises:
            InvalidInput: ``parameters.<name>``, naming the step, the argument and the parameter.
        """
        for arg, setting, name in self._parameter_settings():
            if name in values:
                self._checked(arg, setting, values[name], f"parameter {name!r}", f"parameters.{name}")

    def resolve_settings(self, resolver: Resolver) -> dict[str, Any]:
        """The value of each setting not given as a literal, resolved and checked, just before the step runs.

        Raises:
            InvalidInput: ``steps.<step>.<argument>``, naming where the value came from.
        """
        found = {}
        for arg, value in self.setting_values().items():
            if not is_literal(value):
                found[arg] = self._checked(arg, self.settings[arg], resolve(value, resolver), _source(value),
                                           f"steps.{self.name}.{arg}")
        return found

    def settled(self, values: Mapping[str, Any]) -> Any:
        """A copy of the step whose settings ``values`` (from :meth:`resolve_settings`) replace the operands."""
        if not values:
            return self
        clone = copy.copy(self)
        for arg, value in values.items():
            setattr(clone, arg, value)
        return clone

    def _checked(self, arg: str, setting: Setting, value: Any, source: str, field: str) -> Any:
        try:
            return setting.convert(value)
        except ValueError as exc:
            raise InvalidInput(f"step {self.name!r}: {arg} must be {exc}; {source} is {value!r}",
                               field=field) from None


def _source(value: Any) -> str:
    """Where a setting's value comes from, for an error message."""
    if isinstance(value, Parameter | ParameterName):
        return f"parameter {value.name!r}"
    return f"the value of {value!r}"


__all__ = ["Setting", "Settings", "is_literal", "listed", "setting_from_json", "setting_json"]
