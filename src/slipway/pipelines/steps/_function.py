"""User functions inside steps: named in the definition, hashed for the cache, called with inputs by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from slipway.errors import InvalidInput
from slipway.pipelines._code import Code, function_code, import_string
from slipway.pipelines._context import StepContext, WorkContext, accepts_ctx, check_arguments


class UserFunction:
    """A step's function: ``fn(**inputs)``, with ``ctx`` if it names such a parameter.

    To resume or retry an execution from another process, the function must be importable by
    its module and name (not a lambda, not defined inside another function or in ``__main__``).
    """

    def __init__(self, fn: Callable[..., Any], step: str) -> None:
        if not callable(fn):
            raise InvalidInput(f"step {step!r}: fn must be a function, not {fn!r}", field=f"steps.{step}.fn")
        self.fn = fn
        self.step = step
        self.takes_ctx = accepts_ctx(fn)  # read once: a signature costs more than a no-op step's call
        self._code: Code | None = None

    def code(self) -> Code:
        if self._code is None:
            self._code = function_code(self.fn)
        return self._code

    def check(self, given: set[str]) -> None:
        """Refuse inputs the function cannot take, or a required parameter left without one."""
        check_arguments(self.fn, given, step=self.step)

    def __call__(self, args: Mapping[str, Any], ctx: StepContext) -> Any:
        return self.fn(ctx=ctx, **args) if self.takes_ctx else self.fn(**args)

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> UserFunction:
        """The function a stored step names, imported now: the code as it is now."""
        ref = (data.get("code") or {}).get("ref", "")
        fn = import_string(ref, what=f"the function of step {data.get('name')!r}")
        if not callable(fn):
            raise InvalidInput(f"{ref!r} is not a function", field="ref")
        return cls(fn, data["name"])


def outputs_written(ctx: WorkContext, names: tuple[str, ...], step: str) -> None:
    """Refuse to finish a step that declared an output and left it empty.

    Raises:
        InvalidInput: naming the step and the output.
    """
    for name in names:
        folder = ctx.outputs_dir / name
        if not folder.is_dir() or not any(folder.iterdir()):
            raise InvalidInput(
                f"step {step!r} declares the output {name!r} but wrote nothing into it", field=f"steps.{step}.outputs"
            )


def properties_of(result: Any, step: str) -> dict[str, Any] | None:
    """A step function's return value as the step's properties: None, or a JSON object.

    Raises:
        InvalidInput: for any other return value.
    """
    if result is None or isinstance(result, dict):
        return result
    raise InvalidInput(
        f"step {step!r}: the function returned a {type(result).__name__}; return None or a dict of "
        "JSON values (the step's properties), and write files into ctx.output(...)",
        field=f"steps.{step}.fn",
    )
