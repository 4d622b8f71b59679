"""Holding a definition to a :class:`~slipway._confinement.Confinement` before it runs or reads anything.

A definition makes the process that runs it import code (a step's ``code``), run a file (a
processing step's ``script``), read local paths (a :class:`~slipway.pipelines.FileInput`, and the
data or model a built-in step is given as a plain string), unpickle models (a step's
``trusted``) and run code in the orchestrator's own process (a step's ``light``). On a server
each of these must be allowed by the server's settings, and ``trusted`` never is: a server trusts
a registered version an admin marked, named ``models:/GROUP/VERSION``.
They are checked three times, each as early as it can be:

- the definition as sent (:func:`check_definition`), before a step is built: code, scripts and
  literal paths;
- an execution's parameter values (:func:`check_parameters`), when it starts: paths given as
  parameters;
- every path as the runner resolves it (:func:`check_path`), just before a step reads it: paths
  joined from parts, or read out of an earlier step's report.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from slipway._confinement import Confinement
from slipway.errors import PermissionDenied
from slipway.pipelines._expressions import FileInput, ParameterName
from slipway.pipelines._parameters import Parameter
from slipway.pipelines.steps import MODEL_URI, STEP_TYPES, Step


def check_definition(data: Mapping[str, Any], confinement: Confinement) -> None:
    """Refuse a definition naming code, a script or a local path ``confinement`` does not allow.

    ``data`` must already be a mapping with a list of steps, each a mapping with a name.

    Raises:
        PermissionDenied: naming the step's field (``steps.<name>.code``, ``.script``, ``.trusted``,
            ``.light``, ``.<argument>``).
        InvalidInput: for a local path where the confinement allows none.
    """
    for item in data["steps"]:
        name = item["name"]
        code = item.get("code")
        ref = code.get("ref") if isinstance(code, Mapping) else code
        if code is not None:
            confinement.modules.check(ref, field=f"steps.{name}.code")
        if item.get("light") is True:
            check_light(confinement, name, ref)
        if "script" in item:
            confinement.modules.check_script(item["script"], field=f"steps.{name}.script")
        if confinement.remote and item.get("trusted") not in (None, False, []):
            raise PermissionDenied(
                f"steps.{name}.trusted: a server never takes a definition's word that a model is safe to load "
                "with code; an admin marks a registered version trusted (slipway models trust GROUP VERSION) "
                "and the step names it as models:/GROUP/VERSION",
                field=f"steps.{name}.trusted",
            )
        kind = STEP_TYPES.get(str(item.get("type", "")))
        for argument in kind.path_arguments if kind is not None else ():
            value = item.get(argument)
            if isinstance(value, Mapping) and isinstance(value.get("value"), str):
                _check_argument(confinement, value["value"], field=f"steps.{name}.{argument}")
        for path in _file_literals(item):
            check_path(confinement, path, field=f"steps.{name}.inputs")


def check_light(confinement: Confinement, step: str, ref: object) -> None:
    """Refuse a light step unless its code (``module:name``) is from a module the confinement lets
    run in-process.

    Raises:
        PermissionDenied: naming ``steps.<step>.light``.
    """
    policy = confinement.light
    module, sep, _ = str(ref or "").partition(":")
    if policy.open or (sep and policy.covers(module)):
        return
    allowed = ", ".join(policy.modules)
    where = f"only steps whose code is from {allowed}" if allowed else "no step"
    raise PermissionDenied(
        f"steps.{step}.light: this server runs {where} in its own process (server setting light_step_modules); "
        "drop light to run the step in a worker process",
        field=f"steps.{step}.light",
    )


def check_parameters(steps: Mapping[str, Step], values: Mapping[str, Any], confinement: Confinement) -> None:
    """Refuse parameter values that would make a step read a local path ``confinement`` does not allow.

    Raises:
        PermissionDenied: naming the parameter (``parameters.<name>``).
        InvalidInput: for a local path where the confinement allows none.
    """
    for step in steps.values():
        arguments = step.arguments()
        files = [op.path for op in step.operands() if isinstance(op, FileInput)]
        for path in files:
            if (given := _given(path, values)) is not None:
                check_path(confinement, given, field=f"parameters.{path.name}")
        for argument in step.path_arguments:
            path = arguments[argument]
            if (given := _given(path, values)) is not None:
                _check_argument(confinement, given, field=f"parameters.{path.name}")


def _given(path: Any, values: Mapping[str, Any]) -> str | None:
    """The text a parameter standing for a path was given, if ``path`` is one."""
    if isinstance(path, ParameterName | Parameter) and isinstance(values.get(path.name), str):
        return str(values[path.name])
    return None


def check_arguments(step: Step, args: Mapping[str, Any], confinement: Confinement) -> None:
    """Refuse resolved arguments of ``step`` that name a local path ``confinement`` does not allow.

    Artifact references (step outputs, stored files) pass: they are read from the store.
    """
    for argument in step.path_arguments:
        value = args.get(argument)
        if isinstance(value, str):
            _check_argument(confinement, value, field=f"steps.{step.name}.{argument}")


def check_path(confinement: Confinement, path: str, *, field: str) -> None:
    """Refuse a local path ``confinement`` does not let a definition read."""
    confinement.sources.check(Path(path), field=field)


def _check_argument(confinement: Confinement, value: str, *, field: str) -> None:
    """A built-in step's path argument: a registered version (``models:/``) or an allowed local path."""
    if not value.startswith(MODEL_URI):
        check_path(confinement, value, field=field)


def _file_literals(data: Any) -> Iterator[str]:
    """The literal paths of every ``{"file": {"value": ...}}`` inside an encoded step."""
    if isinstance(data, Mapping):
        found = data.get("file")
        if isinstance(found, Mapping) and isinstance(found.get("value"), str):
            yield found["value"]
        for value in data.values():
            yield from _file_literals(value)
    elif isinstance(data, list):
        for value in data:
            yield from _file_literals(value)


__all__ = ["check_arguments", "check_definition", "check_light", "check_parameters", "check_path"]
