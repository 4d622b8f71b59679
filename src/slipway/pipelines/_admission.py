"""Holding a definition to a :class:`~slipway._confinement.Confinement` before it runs or reads anything.

A definition makes the process that runs it import code (a step's ``code``), run a file (a
processing step's ``script``) and read local paths (a :class:`~slipway.pipelines.FileInput`, and
the data or model a built-in step is given as a plain string). On a server each of these must be
allowed by the server's settings. They are checked three times, each as early as it can be:

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
from slipway.pipelines._expressions import FileInput, ParameterName
from slipway.pipelines._parameters import Parameter
from slipway.pipelines.steps import STEP_TYPES, Step


def check_definition(data: Mapping[str, Any], confinement: Confinement) -> None:
    """Refuse a definition naming code, a script or a local path ``confinement`` does not allow.

    ``data`` must already be a mapping with a list of steps, each a mapping with a name.

    Raises:
        PermissionDenied: naming the step's field (``steps.<name>.code``, ``.script``, ``.<argument>``).
        InvalidInput: for a local path where the confinement allows none.
    """
    for item in data["steps"]:
        name = item["name"]
        code = item.get("code")
        if code is not None:
            ref = code.get("ref") if isinstance(code, Mapping) else code
            confinement.modules.check(ref, field=f"steps.{name}.code")
        if "script" in item:
            confinement.modules.check_script(item["script"], field=f"steps.{name}.script")
        kind = STEP_TYPES.get(str(item.get("type", "")))
        for argument in kind.path_arguments if kind is not None else ():
            value = item.get(argument)
            if isinstance(value, Mapping) and isinstance(value.get("value"), str):
                check_path(confinement, value["value"], field=f"steps.{name}.{argument}")
        for path in _file_literals(item):
            check_path(confinement, path, field=f"steps.{name}.inputs")


def check_parameters(steps: Mapping[str, Step], values: Mapping[str, Any], confinement: Confinement) -> None:
    """Refuse parameter values that would make a step read a local path ``confinement`` does not allow.

    Raises:
        PermissionDenied: naming the parameter (``parameters.<name>``).
        InvalidInput: for a local path where the confinement allows none.
    """
    for step in steps.values():
        arguments = step.arguments()
        paths = [op.path for op in step.operands() if isinstance(op, FileInput)]
        paths += [arguments[a] for a in step.path_arguments if a in arguments]
        for path in paths:
            if isinstance(path, ParameterName | Parameter) and isinstance(values.get(path.name), str):
                check_path(confinement, values[path.name], field=f"parameters.{path.name}")


def check_arguments(step: Step, args: Mapping[str, Any], confinement: Confinement) -> None:
    """Refuse resolved arguments of ``step`` that name a local path ``confinement`` does not allow.

    Artifact references (step outputs, stored files) pass: they are read from the store.
    """
    for argument in step.path_arguments:
        value = args.get(argument)
        if isinstance(value, str):
            check_path(confinement, value, field=f"steps.{step.name}.{argument}")


def check_path(confinement: Confinement, path: str, *, field: str) -> None:
    """Refuse a local path ``confinement`` does not let a definition read."""
    confinement.sources.check(Path(path), field=field)


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


__all__ = ["check_arguments", "check_definition", "check_parameters", "check_path"]
