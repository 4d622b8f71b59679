"""One step of an exported pipeline, run the way a Kubeflow Pipelines container component runs.

KFP's launcher gives a container its inputs on the command line (placeholders it fills in): an
input artifact as the local path of a copy, an input parameter as text. It collects the outputs
from paths it names: an output artifact is whatever the container leaves at
``{{$.outputs.artifacts['x'].path}}`` (a folder is uploaded whole), an output parameter is the
text written to ``{{$.outputs.parameters['y'].output_file}}``, read as the parameter's type.
:func:`run_exported_step` is that container's work: rebuild the step from its stored definition
(importing its code, which must be the code that was exported), fill in its operands from those
paths and values, run it as a Slipway worker would, and leave its outputs where KFP collects them.

The exporter (:mod:`slipway.pipelines._kfp_spec`) writes one JSON document per step, the *step
spec*, saying what each KFP input and output stands for::

    {"format": 1, "pipeline": "abalone", "version": 3,
     "step": {...the step's definition...},
     "parameters": [...declarations of the pipeline parameters the step reads...],
     "artifacts": {"<input>": {"step": "Train", "output": "model"}},
     "values": {"<input>": {"step": "Evaluate", "file": "Report", "path": "mse", "encoding": "double"}},
     "produces": {"<output parameter>": {"file": "Report", "path": "mse", "encoding": "double"}}}

A value read out of a step's JSON travels as an output parameter of its producer. Its *encoding*
says how it is written and read: ``double``, ``integer``, ``boolean`` or ``string`` when a condition
compares it (KFP types the parameter, so the condition compares numbers as numbers), ``json``
(a STRING parameter holding JSON text) otherwise.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from slipway.errors import Conflict, InvalidInput, SlipwayError
from slipway.pipelines._context import Services, StepOutcome, TaskInfo, WorkContext
from slipway.pipelines._expressions import JsonGet, OutputRef, resolve
from slipway.pipelines._jsonpath import json_get
from slipway.pipelines._parameters import Parameter
from slipway.pipelines.steps import STEP_TYPES, ConditionStep, FailStep, Step, WaitStep

STEP_SPEC_FORMAT = 1
ORCHESTRATOR = "kfp"
RUN_STEP_COMMAND = ("slipway", "pipelines", "run-step")

# encoding -> the KFP parameter type that carries it
ENCODINGS: dict[str, str] = {
    "json": "STRING",
    "string": "STRING",
    "double": "NUMBER_DOUBLE",
    "integer": "NUMBER_INTEGER",
    "boolean": "BOOLEAN",
}

_PARAMETER_ENCODINGS = {"int": "integer", "float": "double", "str": "string", "bool": "boolean"}


class PipelineFailed(SlipwayError):
    """A Fail step ended the pipeline, with its message."""

    code = "PIPELINE_FAILED"


def parameter_encoding(parameter: Parameter) -> str:
    """How a pipeline parameter travels: KFP types it by its declared type."""
    return _PARAMETER_ENCODINGS[parameter.type_name]


def encode_value(value: Any, encoding: str, *, what: str) -> str:
    """``value`` as the text of a KFP parameter of ``encoding`` (what the launcher will parse).

    Raises:
        InvalidInput: naming ``what``, for a value the encoding cannot carry (text where a
            condition compares numbers, say).
    """
    if encoding == "json":
        return json.dumps(value, allow_nan=False)
    if encoding == "string":
        return value if isinstance(value, str) else json.dumps(value, allow_nan=False)
    if encoding == "boolean" and isinstance(value, bool):
        return "true" if value else "false"
    number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if encoding == "double" and number:
        return repr(float(value))
    if encoding == "integer" and number and float(value).is_integer():
        return str(int(value))
    raise InvalidInput(
        f"{what} is {value!r}, which a KFP {ENCODINGS[encoding]} parameter cannot carry "
        "(a condition compares it as that type)",
        field="values",
    )


def decode_value(text: str, encoding: str, *, what: str) -> Any:
    """The value of a KFP parameter of ``encoding`` as the launcher renders it on a command line.

    Raises:
        InvalidInput: naming ``what``, for text that does not read as the encoding.
    """
    try:
        if encoding == "json":
            return json.loads(text)
        if encoding == "string":
            return text
        if encoding == "boolean":
            lowered = text.strip().lower()
            if lowered in ("true", "false"):
                return lowered == "true"
        elif encoding == "double":
            return float(text)
        elif encoding == "integer":
            number = float(text)  # KFP holds every number as a double: 3 may arrive as "3.0"
            if number.is_integer():
                return int(number)
    except ValueError:
        pass
    raise InvalidInput(f"{what}: {text!r} is not a {encoding} value", field="values")


class _GivenInputs:
    """The resolver of an exported step: operands filled in from what the launcher passed."""

    def __init__(
        self,
        step: str,
        parameters: Mapping[str, Any],
        artifacts: Mapping[tuple[str, str], Path],
        values: Mapping[tuple[str, str | None, str], Any],
    ) -> None:
        self._step = step
        self._parameters = parameters
        self._artifacts = artifacts
        self._values = values

    def parameter(self, name: str) -> Any:
        if name not in self._parameters:
            raise InvalidInput(f"step {self._step!r} needs the parameter {name!r}, which was not given", field=name)
        return self._parameters[name]

    def output(self, ref: OutputRef) -> Path:
        base = self._artifacts.get((ref.step.name, ref.output))
        if base is None:
            raise InvalidInput(
                f"step {self._step!r} needs the output {ref.output!r} of step {ref.step.name!r}, which was not given",
                field="artifacts",
            )
        path = base / ref.path if ref.path else base
        if not path.exists():
            raise InvalidInput(
                f"the output {ref.output!r} of step {ref.step.name!r} has no {ref.path or 'files'!r} at {base}",
                field="artifacts",
            )
        return path

    def json_get(self, ref: JsonGet) -> Any:
        key = (ref.step.name, ref.property_file, ref.json_path)
        if key not in self._values:
            raise InvalidInput(f"step {self._step!r} needs {ref!r}, which was not given", field="values")
        return self._values[key]

    def file(self, path: str) -> Path:
        local = Path(path)
        if not local.exists():
            raise InvalidInput(
                f"step {self._step!r} reads {path}, which is not in this container: build the image with it, "
                "or point the parameter at a path that is",
                field="inputs",
            )
        return local


def _spec_entry(spec: Mapping[str, Any], section: str, key: str) -> Mapping[str, Any]:
    entry = spec.get(section, {}).get(key)
    if not isinstance(entry, Mapping):
        known = ", ".join(spec.get(section, {})) or "none"
        raise InvalidInput(f"the step spec has no {section} entry {key!r}; it has: {known}", field=section)
    return entry


def load_exported_step(spec: Mapping[str, Any]) -> Step:
    """The step a step spec describes, its code imported now and checked against the exported hash.

    Raises:
        InvalidInput: for a spec of another format, or a step that cannot be rebuilt.
        Conflict: if the step's code here differs from the code that was exported.
    """
    if spec.get("format") != STEP_SPEC_FORMAT or not isinstance(spec.get("step"), Mapping):
        raise InvalidInput(f"not a step spec of format {STEP_SPEC_FORMAT}", field="spec")
    data = spec["step"]
    name = str(data.get("name"))
    kind = STEP_TYPES.get(str(data.get("type", "")))
    if kind is None:
        raise InvalidInput(f"step {name!r} has an unknown type {data.get('type')!r}", field="spec")
    try:
        step = kind.from_spec(name, data, Step.common_from_json(data))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(f"step {name!r} is malformed: {exc!r}", field="spec") from None
    code, exported = step.code(), (data.get("code") or {}).get("hash")
    if code is not None and exported is not None and code.hash != exported:
        raise Conflict(
            f"the code of step {name!r} here ({code.ref}) differs from the code exported with version "
            f"{spec.get('version')} of pipeline {spec.get('pipeline')!r}: build the image from that code, "
            "or export the pipeline again",
            field="code",
        )
    return step


def run_exported_step(
    spec: Mapping[str, Any],
    *,
    parameters: Mapping[str, str],
    artifacts: Mapping[str, str],
    values: Mapping[str, str],
    outputs: Mapping[str, str],
    output_values: Mapping[str, str],
    services: Callable[[], Services],
    run_id: str,
    task_id: str,
) -> StepOutcome:
    """Run one step of an exported pipeline from what KFP's launcher passes, and leave its outputs for it.

    Args:
        spec: the step spec the exporter wrote (see the module's docstring).
        parameters: pipeline parameter name -> its text (as KFP renders the value).
        artifacts: KFP input name -> the local path of an upstream step's output.
        values: KFP input name -> the text of a value read out of an upstream step's JSON.
        outputs: the step's output name -> where to leave it (a folder).
        output_values: KFP output parameter name -> the file to write its text into.
        services: the engines the step uses (tracking, registry, monitoring); a ``slipway.Client``
            of the settings in the environment, embedded or remote.
        run_id: the KFP run this step belongs to (recorded as the execution, e.g. on a training run).
        task_id: the KFP task (recorded as the step execution).

    Raises:
        InvalidInput: for an input the spec does not name, a value that does not read as its
            type, a declared output without a destination, or a Condition or Wait step (KFP
            decides conditions itself; Wait steps are not exported).
        PipelineFailed: for a Fail step, with its message.
        Conflict: if the step's code here is not the code that was exported.
        Exception: whatever the step itself raises.
    """
    step = load_exported_step(spec)
    if isinstance(step, ConditionStep | WaitStep):
        raise InvalidInput(f"step {step.name!r} is a {step.type_name} step: it does not run in a container")
    declared = {p.name: p for p in (Parameter.from_declaration(d) for d in spec.get("parameters", ()))}
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise InvalidInput(f"step {step.name!r} reads no parameter {unknown[0]!r}", field="parameters")
    given_parameters = {
        name: declared[name].check(
            decode_value(text, parameter_encoding(declared[name]), what=f"parameter {name!r}")
        )
        for name, text in parameters.items()
    }
    given_artifacts = {}
    for key, path in artifacts.items():
        entry = _spec_entry(spec, "artifacts", key)
        given_artifacts[(str(entry["step"]), str(entry["output"]))] = Path(path)
    given_values = {}
    for key, text in values.items():
        entry = _spec_entry(spec, "values", key)
        what = f"the value {entry['path']!r} of step {entry['step']!r}"
        given_values[(str(entry["step"]), entry.get("file"), str(entry["path"]))] = decode_value(
            text, str(entry["encoding"]), what=what
        )
    resolver = _GivenInputs(step.name, given_parameters, given_artifacts, given_values)
    if isinstance(step, FailStep):
        raise PipelineFailed(str(resolve(step.message, resolver)) or f"step {step.name!r} failed")
    missing = [name for name in step.output_names if name not in outputs]
    extra = sorted(set(outputs) - set(step.output_names))
    if missing or extra:
        raise InvalidInput(
            f"step {step.name!r} writes the outputs {', '.join(step.output_names) or 'none'}; "
            f"give a destination for each and no other ({(missing or extra)[0]!r})",
            field="outputs",
        )
    args = {key: resolve(value, resolver) for key, value in step.arguments().items()}
    step = step.settled(step.resolve_settings(resolver))
    info = TaskInfo(str(spec.get("pipeline")), run_id, step.name, task_id, 1, orchestrator=ORCHESTRATOR)
    with tempfile.TemporaryDirectory(prefix="slipway-step-") as work:
        ctx = WorkContext(info, args, Path(work), services)
        outcome = step.run(ctx)
        for name, destination in outputs.items():
            shutil.copytree(ctx.outputs_dir / name, destination, dirs_exist_ok=True)
        for key, destination in output_values.items():
            entry = _spec_entry(spec, "produces", key)
            document = (outcome.properties or {}) if entry.get("file") is None else _property_file(step, ctx, entry)
            value = json_get(document, str(entry["path"]))
            text = encode_value(value, str(entry["encoding"]), what=f"{entry['path']!r} of step {step.name!r}")
            Path(destination).parent.mkdir(parents=True, exist_ok=True)
            Path(destination).write_text(text, encoding="utf-8")
    return outcome


def _property_file(step: Step, ctx: WorkContext, entry: Mapping[str, Any]) -> Any:
    declared = next((p for p in step.property_files if p.name == entry.get("file")), None)
    if declared is None:
        raise InvalidInput(f"step {step.name!r} declares no property file {entry.get('file')!r}", field="produces")
    path = ctx.outputs_dir / declared.output / declared.path
    if not path.is_file():
        raise InvalidInput(
            f"step {step.name!r} wrote no property file {declared.path!r} in its output {declared.output!r}",
            field="produces",
        )
    return json.loads(path.read_text(encoding="utf-8"))
