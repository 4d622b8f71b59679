"""A pipeline: named steps, typed parameters, checked as a whole before anything runs.

The Python object and its JSON definition are two spellings of one thing: :meth:`Pipeline.definition`
writes the JSON (steps by name, user code by import name and hash) and
:meth:`Pipeline.from_definition` reads it back, importing the code as it is now.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway._confinement import Confinement
from slipway._default_client import default_client
from slipway._limits import MAX_DESCRIPTION, check_text
from slipway.errors import InvalidInput
from slipway.pipelines._admission import check_definition
from slipway.pipelines._code import Code, import_string
from slipway.pipelines._dag import Dag
from slipway.pipelines._expressions import JsonGet, OutputRef, ParameterName, StepName
from slipway.pipelines._handle import ExecutionHandle, PipelinesApi
from slipway.pipelines._parameters import Parameter
from slipway.pipelines.steps import STEP_TYPES, ConditionStep, Step, check_name

if TYPE_CHECKING:
    from slipway.pipelines._records import PipelineExecution

DEFINITION_FORMAT = 1


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


class Pipeline:
    """A DAG of steps with parameters, validated when it is built.

    Steps reachable from the given ones (through their inputs, ``depends_on`` and condition
    branches) join the pipeline on their own; so do the parameters they use.

    Args:
        name: the pipeline's name; each distinct definition under it is a new version.
        steps: the steps (those others are reachable from suffice).
        parameters: the parameters, including any no step uses yet.
        description: what the pipeline is for.

    Raises:
        InvalidInput: naming the step, for two steps with one name, a cycle, an input taken from
            an output or property file a step does not declare, a parameter that is not declared
            or declared twice with different types, a function that cannot take the inputs given.

    Example:
        >>> from slipway.pipelines import Parameter, Pipeline, ProcessingStep
        >>> def double(x: int) -> dict:
        ...     return {"y": 2 * x}
        >>> p = Pipeline("doubler", [ProcessingStep("Double", double, inputs={"x": Parameter("x", int, 2)})])
        >>> p.run(parameters={"x": 21}).step("Double").properties  # doctest: +SKIP
        {'y': 42}
    """

    def __init__(
        self,
        name: str,
        steps: Iterable[Step],
        *,
        parameters: Iterable[Parameter] = (),
        description: str | None = None,
    ) -> None:
        self.name = check_name(name, "pipeline", "name")
        self.description = check_text(description, "description", MAX_DESCRIPTION)
        self.steps = _collect(list(steps))
        for step in self.steps.values():
            _relink(step, self.steps)
        self.parameters = _parameters(list(parameters), self.steps)
        upstream = {name: step.upstream_names() for name, step in self.steps.items()}
        for step in self.steps.values():
            if isinstance(step, ConditionStep):
                for branch in (*step.branch_names()[0], *step.branch_names()[1]):
                    if branch not in upstream:
                        raise InvalidInput(
                            f"step {step.name!r} branches to {branch!r}, which is not part of the pipeline",
                            field=f"steps.{step.name}.if_steps",
                        )
                    upstream[branch].append(step.name)
        self.dag = Dag(upstream)
        for step in self.steps.values():
            step.check()
            step.check_setting_parameters(self.parameters)
            _check_references(step, self.steps)

    # -- the JSON definition -------------------------------------------------------------------

    def definition(self) -> dict[str, Any]:
        """The pipeline as JSON: what is stored as a version, diffed and sent to a server."""
        out: dict[str, Any] = {"format": DEFINITION_FORMAT, "name": self.name}
        if self.description:
            out["description"] = self.description
        out["parameters"] = [p.declaration() for p in self.parameters.values()]
        out["steps"] = [self.steps[name].to_json() for name in self.dag.order]
        return out

    def digest(self) -> str:
        """sha256 of the canonical definition: equal digests, equal versions."""
        return hashlib.sha256(canonical_json(self.definition()).encode()).hexdigest()

    def code(self) -> dict[str, Code]:
        """Each step's user code (source included), by step name."""
        return {name: code for name, step in self.steps.items() if (code := step.code()) is not None}

    @classmethod
    def from_definition(cls, data: Mapping[str, Any], confinement: Confinement | None = None) -> Pipeline:
        """Rebuild a pipeline from its JSON, importing each step's function as it is now.

        Args:
            data: the definition, as :meth:`definition` writes it.
            confinement: the code, scripts and local paths the definition may name, checked
                before anything is imported or read (a server's service passes its own, from
                ``pipeline_modules`` and ``dataset_roots``); None allows any.

        Raises:
            InvalidInput: for an unknown format or step type, code that cannot be imported, or a
                local path where ``confinement`` allows none.
            PermissionDenied: for code, a script or a path that ``confinement`` does not allow.
        """
        if data.get("format") != DEFINITION_FORMAT:
            raise InvalidInput(f"unknown pipeline definition format {data.get('format')!r}", field="definition")
        items = data.get("steps", [])
        if not isinstance(data.get("name"), str) or not isinstance(items, list) or not all(
            isinstance(item, Mapping) and isinstance(item.get("name"), str) for item in items
        ):
            raise InvalidInput("a definition needs a name and a list of steps, each with a name", field="definition")
        if confinement is not None:  # before anything is imported or read
            check_definition(data, confinement)
        steps = []
        for item in items:
            kind = STEP_TYPES.get(str(item.get("type", "")))
            if kind is None:
                raise InvalidInput(
                    f"step {item.get('name')!r} has an unknown type {item.get('type')!r}; "
                    f"known: {', '.join(STEP_TYPES)}",
                    field="definition",
                )
            try:
                steps.append(kind.from_spec(item["name"], item, Step.common_from_json(item)))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a hand-edited or truncated definition
                raise InvalidInput(f"step {item['name']!r} is malformed: {exc!r}", field="definition") from None
        return cls(
            data["name"],
            steps,
            parameters=[Parameter.from_declaration(p) for p in data.get("parameters", ())],
            description=data.get("description"),
        )

    @classmethod
    def load(cls, spec: str) -> Pipeline:
        """The pipeline ``MODULE:NAME`` names: a Pipeline, or a function of no arguments returning one.

        ``MODULE`` is a module path (``examples.abalone.pipeline``, searched from the current
        folder first) or a file (``examples/abalone/pipeline.py``, whose folder joins the import
        path so worker processes can import its steps too).

        Raises:
            InvalidInput: if the spec cannot be imported or does not name a pipeline.

        Example:
            >>> pipeline = Pipeline.load("examples.abalone.pipeline:pipeline")  # doctest: +SKIP
        """
        module, sep, attr = spec.rpartition(":")
        if sep and (module.endswith(".py") or "/" in module):
            path = Path(module).expanduser().resolve()
            if not path.is_file():
                raise InvalidInput(f"no Python file at {path}", field="pipeline")
            if str(path.parent) not in sys.path:
                sys.path.insert(0, str(path.parent))
            spec = f"{path.stem}:{attr}"
        found = import_string(spec, what="pipeline")
        if callable(found) and not isinstance(found, Pipeline):
            found = found()
        if not isinstance(found, Pipeline):
            raise InvalidInput(f"{spec!r} is a {type(found).__name__}, not a Pipeline", field="pipeline")
        return found

    # -- parameters ------------------------------------------------------------------------------

    def resolve_parameters(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        """Every parameter's value for one execution: the given ones checked, defaults for the rest.

        Raises:
            InvalidInput: (``field="parameters.<name>"``) for an unknown parameter, a value of the
                wrong type, a required parameter left out, or a value a step argument bound to the
                parameter does not allow (naming the step and the argument).
        """
        given = dict(given or {})
        self._check_known(given)
        values = {}
        for name, param in self.parameters.items():
            if name in given:
                values[name] = param.check(given[name])
            elif param.required:
                raise InvalidInput(
                    f"pipeline {self.name!r} needs a value for the parameter {name!r}", field=f"parameters.{name}"
                )
            else:
                values[name] = param.default
        for step in self.steps.values():
            step.check_setting_values(values)
        return values

    def parse_parameters(self, texts: Mapping[str, str]) -> dict[str, Any]:
        """Parameter values typed by a person (``-p key=value``), converted to their declared types.

        Raises:
            InvalidInput: for an unknown parameter or a value that does not read as its type.
        """
        self._check_known(texts)
        return {name: self.parameters[name].parse(text) for name, text in texts.items()}

    def _check_known(self, names: Iterable[str]) -> None:
        unknown = sorted(set(names) - set(self.parameters))
        if unknown:
            known = ", ".join(self.parameters) or "none"
            raise InvalidInput(
                f"pipeline {self.name!r} has no parameter {unknown[0]!r}; its parameters: {known}",
                field=f"parameters.{unknown[0]}",
            )

    # -- running (SDK) ---------------------------------------------------------------------------

    def start(
        self, parameters: Mapping[str, Any] | None = None, *, client: Any = None, **options: Any
    ) -> ExecutionHandle:
        """Start an execution and return at once with a handle to follow it.

        Runs on the default client (``slipway.get_client()``) unless ``client`` is given: embedded,
        the steps run in worker processes of this one; remote, on the server.

        Args:
            parameters: values for the pipeline's parameters; the others keep their defaults.
            client: a :class:`~slipway.Client`.
            **options: ``executor`` (``"local"`` or ``"ray"``), ``max_parallel``, ``cache``
                (False runs every step), ``steps`` and ``reference_execution`` (run only those
                steps, taking other inputs from the reference execution).

        Example:
            >>> handle = pipeline.start(parameters={"mse_threshold": 5.0})  # doctest: +SKIP
            >>> handle.wait().status  # doctest: +SKIP
            <ExecutionStatus.SUCCEEDED: 'Succeeded'>
        """
        api = _api(client)
        return ExecutionHandle(api, api.start(self, parameters=parameters, **options))

    def run(
        self, parameters: Mapping[str, Any] | None = None, *, client: Any = None, **options: Any
    ) -> PipelineExecution:
        """Run an execution to its end and return it (with its steps); see :meth:`start`.

        A failed execution is returned, not raised: look at ``status`` and ``failure_reason``.
        """
        api = _api(client)
        return api.run(self, parameters=parameters, **options)

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, steps={list(self.steps)})"


def _api(client: Any) -> PipelinesApi:
    """The pipelines service of ``client``, or of the process's default client (``slipway.get_client()``)."""
    if client is None:
        client = default_client()
    pipelines: PipelinesApi = client.pipelines
    return pipelines


def _collect(roots: list[Step]) -> dict[str, Step]:
    """Every step reachable from ``roots``, each after the steps it points at."""
    found: dict[str, Step] = {}

    def visit(step: Step) -> None:
        if not isinstance(step, Step):
            raise InvalidInput(f"{step!r} is not a step", field="steps")
        seen = found.get(step.name)
        if seen is step:
            return
        if seen is not None:
            raise InvalidInput(
                f"two different steps are named {step.name!r}: step names must be unique", field=f"steps.{step.name}"
            )
        found[step.name] = step
        for op in step.operands():
            if isinstance(op, OutputRef | JsonGet) and isinstance(op.step, Step):
                visit(op.step)
        for dep in step.depends_on:
            if isinstance(dep, Step):
                visit(dep)
        for linked in step.linked_steps():
            visit(linked)

    for root in roots:
        visit(root)
    return found


def _relink(step: Step, steps: Mapping[str, Step]) -> None:
    """Replace step names (from JSON, or ``depends_on=["Name"]``) with the steps themselves."""
    for op in step.operands():
        if isinstance(op, OutputRef | JsonGet) and isinstance(op.step, StepName) and op.step.name in steps:
            op.step = steps[op.step.name]
    step.depends_on = [steps.get(d.name, d) if isinstance(d, StepName) else d for d in step.depends_on]
    if isinstance(step, ConditionStep):
        step.if_steps = [steps.get(s.name, s) if isinstance(s, StepName) else s for s in step.if_steps]
        step.else_steps = [steps.get(s.name, s) if isinstance(s, StepName) else s for s in step.else_steps]


def _parameters(declared: list[Parameter], steps: Mapping[str, Step]) -> dict[str, Parameter]:
    out: dict[str, Parameter] = {}
    for param in declared:
        _add_parameter(out, param, where="the pipeline's parameters")
    for step in steps.values():
        for op in step.operands():
            if isinstance(op, Parameter):
                _add_parameter(out, op, where=f"step {step.name!r}")
            elif isinstance(op, ParameterName) and op.name not in out:
                raise InvalidInput(
                    f"step {step.name!r} uses the parameter {op.name!r}, which the pipeline does not declare",
                    field=f"steps.{step.name}",
                )
    return out


def _add_parameter(out: dict[str, Parameter], param: Parameter, *, where: str) -> None:
    if not isinstance(param, Parameter):
        raise InvalidInput(f"{param!r} is not a Parameter", field="parameters")
    check_name(param.name, "parameter", f"parameters.{param.name}")
    seen = out.get(param.name)
    if seen is None:
        out[param.name] = param
    elif seen is not param and (seen.type is not param.type or seen.default != param.default):
        raise InvalidInput(
            f"{where} declares the parameter {param.name!r} as {param!r}, but it is also {seen!r}",
            field=f"parameters.{param.name}",
        )


def _check_references(step: Step, steps: Mapping[str, Step]) -> None:
    """Every output and property file ``step`` reads must be one its producer declares."""
    for op in step.operands():
        if not isinstance(op, OutputRef | JsonGet):
            continue
        producer = steps.get(op.step.name)
        if producer is None:
            raise InvalidInput(
                f"step {step.name!r} reads from step {op.step.name!r}, which is not part of the pipeline",
                field=f"steps.{step.name}",
            )
        if isinstance(op, OutputRef) and op.output not in producer.output_names:
            declared = ", ".join(producer.output_names) or "none"
            raise InvalidInput(
                f"step {step.name!r} needs the output {op.output!r} of step {producer.name!r}, "
                f"which declares: {declared}",
                field=f"steps.{step.name}.inputs",
            )
        if isinstance(op, JsonGet) and op.property_file is not None:
            files = [p.name for p in producer.property_files]
            if op.property_file not in files:
                raise InvalidInput(
                    f"step {step.name!r} reads the property file {op.property_file!r} of step "
                    f"{producer.name!r}, which declares: {', '.join(files) or 'none'}",
                    field=f"steps.{step.name}",
                )
