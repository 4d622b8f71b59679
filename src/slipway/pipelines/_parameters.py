"""Pipeline parameters: typed inputs of a whole pipeline, with defaults, set when it is started."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from slipway._limits import MAX_DESCRIPTION, check_text
from slipway.errors import InvalidInput
from slipway.pipelines._expressions import Operand, Resolver

PARAMETER_TYPES: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}
_TYPE_NAMES = {t: name for name, t in PARAMETER_TYPES.items()}


_REQUIRED = object()


class Parameter(Operand):
    """A typed input of the whole pipeline, with a default, overridable when it is started.

    Args:
        name: how callers set it: ``pipeline.run(parameters={"mse_threshold": 5.0})``,
            ``slipway pipelines run ... -p mse_threshold=5``.
        type: ``int``, ``float``, ``str`` or ``bool``.
        default: the value when the caller gives none; omit it to make the parameter required.
        description: what it controls, for people starting the pipeline.

    Raises:
        InvalidInput: for an unsupported type or a default of the wrong type.

    Example:
        >>> threshold = Parameter("mse_threshold", float, default=6.0)
        >>> threshold.check(5)
        5.0
        >>> threshold.parse("4.5")
        4.5
    """

    def __init__(self, name: str, type: type = str, default: Any = _REQUIRED, *, description: str | None = None):
        if type not in _TYPE_NAMES:
            raise InvalidInput(
                f"parameter {name!r}: type must be int, float, str or bool, not {getattr(type, '__name__', type)}",
                field=f"parameters.{name}",
            )
        self.name = name
        self.type = type
        self.description = check_text(description, f"parameters.{name}.description", MAX_DESCRIPTION)
        self.default = default if default is _REQUIRED else self.check(default)
        self.required = default is _REQUIRED

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES[self.type]

    def check(self, value: Any) -> Any:
        """``value`` if it has this parameter's type (an int is accepted as a float).

        Raises:
            InvalidInput: (``field="parameters.<name>"``) naming the expected and given types.
        """
        ok = isinstance(value, self.type) and not (self.type is not bool and isinstance(value, bool))
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if self.type is float and ok and not math.isfinite(value):
            ok = False
        if not ok:
            raise InvalidInput(
                f"parameter {self.name!r} takes a {self.type_name}, not {value!r} ({type(value).__name__})",
                field=f"parameters.{self.name}",
            )
        return value

    def parse(self, text: str) -> Any:
        """The value a person typed (``-p key=value``), converted to this parameter's type.

        Raises:
            InvalidInput: if ``text`` does not read as this type.
        """
        if self.type is str:
            return text
        if self.type is bool:
            lowered = text.strip().lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
        else:
            try:
                return self.check(self.type(text))
            except ValueError:
                pass
        raise InvalidInput(
            f"parameter {self.name!r} takes a {self.type_name}; {text!r} is not one", field=f"parameters.{self.name}"
        )

    def declaration(self) -> dict[str, Any]:
        """How the parameter is declared in a definition."""
        out: dict[str, Any] = {"name": self.name, "type": self.type_name}
        if not self.required:
            out["default"] = self.default
        if self.description:
            out["description"] = self.description
        return out

    @classmethod
    def from_declaration(cls, data: Mapping[str, Any]) -> Parameter:
        kind = PARAMETER_TYPES.get(data.get("type", ""))
        if kind is None:
            raise InvalidInput(f"parameter {data.get('name')!r}: unknown type {data.get('type')!r}", field="parameters")
        return cls(data["name"], kind, data.get("default", _REQUIRED), description=data.get("description"))

    def to_json(self) -> dict[str, Any]:
        return {"parameter": self.name}

    def resolve(self, resolver: Resolver) -> Any:
        return resolver.parameter(self.name)

    def __repr__(self) -> str:
        default = "" if self.required else f", default={self.default!r}"
        return f"Parameter({self.name!r}, {self.type_name}{default})"
