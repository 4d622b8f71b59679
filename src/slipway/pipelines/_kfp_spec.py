"""A stored pipeline version written out as a Kubeflow Pipelines v2 pipeline spec (KFP's IR YAML).

The spec is what KFP's own compiler writes for a pipeline of container components, so KFP runs
it unchanged and its SDK loads it (``kfp.components.load_component_from_file``):

- each step that runs in a worker, and each Fail step, is a container component running
  ``slipway pipelines run-step`` in the given image; one JSON argument (the step spec of
  :mod:`slipway.pipelines._kfp_step`) carries the step's stored definition, and placeholders
  carry its inputs and outputs the KFP way;
- the pipeline's parameters are the root's typed inputs, with their defaults;
- a step's outputs are output artifacts (``system.Model`` for model packages), passed on by
  reference; a value a later step or a condition reads out of a step's JSON
  (:class:`~slipway.pipelines.JsonGet`) is an output parameter of that step;
- a Condition step is what ``dsl.If``/``dsl.Else`` compile to: a ``condition-branches-N`` DAG
  holding one sub-DAG per branch, each with a ``triggerPolicy`` condition in CEL (the else
  branch's is the negation); the branch steps and every step after them live inside it;
- retries map to ``retryPolicy``, caching to ``cachingOptions``, resources to the container's
  requests, a timeout to the Kubernetes platform spec (``activeDeadlineSeconds``, in a second
  YAML document, as ``kfp-kubernetes`` writes it), and so do environment variables taken from
  Kubernetes secrets (the server's token, say).

What KFP cannot express is refused with :class:`~slipway.errors.InvalidInput` naming the step and
the feature: Wait steps, retrying only some errors, cache expiry, fractional GPUs, a condition
over anything but parameters, step values and literals, and steps that follow the branches of
two conditions neither of which is inside the other.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from slipway._version import __version__
from slipway.errors import InvalidInput
from slipway.pipelines._definition import Pipeline
from slipway.pipelines._expressions import (
    And,
    Compare,
    Condition,
    FileInput,
    JsonGet,
    Not,
    Operand,
    Or,
    OutputRef,
    ParameterName,
)
from slipway.pipelines._kfp_step import ENCODINGS, RUN_STEP_COMMAND, STEP_SPEC_FORMAT, parameter_encoding
from slipway.pipelines._parameters import Parameter
from slipway.pipelines._records import PipelineVersion
from slipway.pipelines.steps import (
    MODEL_OUTPUT,
    ConditionStep,
    CreateModelStep,
    Step,
    TrainingStep,
    TransformStep,
    TuningStep,
    WaitStep,
)

SCHEMA_VERSION = "2.1.0"
GPU_RESOURCE = "nvidia.com/gpu"
_CHANNEL = "pipelinechannel--"
_ARTIFACT_VERSION = "0.0.1"


def _k8s_name(name: str) -> str:
    """A name as KFP's compiler makes task and component names: lower case, hyphens."""
    return re.sub(r"-+", "-", re.sub(r"[^-0-9a-z]+", "-", name.lower())).strip("-") or "step"


def _unique(name: str, taken: set[str]) -> str:
    found, n = name, 1
    while found in taken:
        n += 1
        found = f"{name}-{n}"
    taken.add(found)
    return found


def _seconds(value: float) -> str:
    """A protobuf Duration in JSON: ``"1.5s"``."""
    return f"{value:.9f}".rstrip("0").rstrip(".") + "s"


@dataclass(frozen=True)
class _Param:
    """A pipeline parameter flowing into a task."""

    name: str


@dataclass(frozen=True)
class _Out:
    """An output of a task: an artifact (one of the step's outputs) or a parameter (a value it produces)."""

    task: str
    key: str
    artifact: bool


@dataclass
class _Dag:
    """A DAG of the spec: the root, or the body of a condition (group) with its task in the parent DAG."""

    parent: _Dag | None = None
    task: dict[str, Any] | None = None  # the group's task spec in the parent DAG
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)  # inputDefinitions
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def component(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dag": {"tasks": self.tasks}}
        definitions = _definitions(self.parameters, self.artifacts)
        if definitions:
            out["inputDefinitions"] = definitions
        return out


def _definitions(parameters: Mapping[str, Any], artifacts: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if artifacts:
        out["artifacts"] = dict(artifacts)
    if parameters:
        out["parameters"] = dict(parameters)
    return out


def _artifact_type(step: Step, output: str) -> dict[str, Any]:
    if output == MODEL_OUTPUT and isinstance(step, TrainingStep | TuningStep | CreateModelStep):
        title = "system.Model"
    elif isinstance(step, TransformStep):
        title = "system.Dataset"
    else:
        title = "system.Artifact"
    return {"artifactType": {"schemaTitle": title, "schemaVersion": _ARTIFACT_VERSION}}


def _cel_literal(value: Any, step: str) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(float(value))  # KFP holds every number as a double: compare doubles
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_cel_literal(v, step) for v in value) + "]"
    raise InvalidInput(
        f"condition step {step!r} compares {value!r}: a KFP condition compares parameters, "
        "values read from a step's JSON, and numbers, text, booleans or lists of them",
        field=f"steps.{step}.conditions",
    )


@dataclass
class _Task:
    """A container task under construction: its step, the DAG it is in, its spec and its components' inputs."""

    step: Step
    dag: _Dag
    spec: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)  # pipeline parameter -> input name
    artifacts: dict[tuple[str, str], str] = field(default_factory=dict)  # (step, output) -> input name
    values: dict[tuple[str, str | None, str], str] = field(default_factory=dict)  # value id -> input name


class _Exporter:
    """Builds the spec of one pipeline version; see the module's docstring for the mapping."""

    def __init__(
        self,
        version: PipelineVersion,
        image: str,
        env: Mapping[str, str],
        secret_env: Mapping[str, tuple[str, str]],
    ) -> None:
        self.version = version
        self.image = image
        self.env = dict(env)
        self.secret_env = dict(secret_env)
        self.pipeline = Pipeline.from_definition(version.definition)
        self.stored = {s["name"]: s for s in version.definition["steps"]}
        self.steps = self.pipeline.steps
        self.dag = self.pipeline.dag
        self.branches = {
            (name, is_if): self.dag.descendants(names)
            for name, step in self.steps.items()
            if isinstance(step, ConditionStep)
            for is_if, names in zip((True, False), step.branch_names(), strict=True)
            if names
        }
        self.root = _Dag()
        self.groups: dict[str, _Dag] = {}  # component name -> condition group
        self.components: dict[str, dict[str, Any]] = {}  # component name -> container component
        self.tasks: dict[str, _Task] = {}  # task name -> container task
        self.task_names: dict[str, str] = {}  # step -> task name
        self.located: dict[str, _Dag] = {}  # task name -> the DAG it is in
        self.produces: dict[str, dict[str, dict[str, Any]]] = {}  # step -> output parameter -> its value
        self.value_keys: dict[tuple[str, str | None, str], str] = {}  # value id -> output parameter
        self.encodings: dict[tuple[str, str | None, str], str] = {}  # value id -> encoding

    # -- what KFP cannot express -------------------------------------------------------------------

    def refuse(self) -> None:
        """Refuse, naming each step and feature, what KFP cannot express (all of it in one error)."""
        problems: list[tuple[str, str]] = []
        for name in self.dag.order:
            step = self.steps[name]
            where = f"steps.{name}"
            if isinstance(step, WaitStep):
                problems.append((where, f"step {name!r} is a Wait step: KFP cannot send a running task a signal"))
            if step.retry is not None and step.retry.retry_on:
                problems.append((
                    f"{where}.retry",
                    f"step {name!r} retries only on {', '.join(map(str, step.retry.retry_on))}: KFP retries a "
                    "task whatever made it fail",
                ))
            if step.cache.expire_after is not None:
                problems.append((
                    f"{where}.cache",
                    f"step {name!r} reuses cached results for {step.cache.expire_after:g}s only: KFP's cache "
                    "has no expiry per task",
                ))
            if not float(step.resources.gpus).is_integer():
                problems.append((
                    f"{where}.resources",
                    f"step {name!r} asks for {step.resources.gpus:g} GPUs: Kubernetes gives whole GPUs",
                ))
            for op in step.operands():
                if isinstance(op, JsonGet | OutputRef) and isinstance(self.steps[op.step.name], ConditionStep):
                    problems.append((
                        where,
                        f"step {name!r} reads the outcome of condition step {op.step.name!r}: a KFP condition "
                        "has no outputs",
                    ))
            for dep in step.depends_on:
                if isinstance(self.steps[dep.name], ConditionStep) and dep.name not in self.enclosing(name):
                    problems.append((
                        f"{where}.depends_on",
                        f"step {name!r} waits for condition step {dep.name!r} without being in one of its "
                        "branches: a KFP condition is not a task to wait for",
                    ))
            try:
                self.location_of(name)
            except InvalidInput as exc:
                problems.append((where, exc.message))
        if problems:
            reasons = "; ".join(message for _, message in problems)
            raise InvalidInput(
                f"pipeline {self.pipeline.name!r} cannot be exported to Kubeflow Pipelines: {reasons}",
                field=problems[0][0],
            )

    # -- where each step goes ----------------------------------------------------------------------

    def governing(self, name: str) -> list[tuple[str, bool]]:
        """The condition branches ``(condition, is_if)`` a step is inside: a branch's steps and all after them."""
        return [branch for branch, inside in self.branches.items() if name in inside]

    def enclosing(self, name: str) -> set[str]:
        return {cond for cond, _ in self.governing(name)}

    def location_of(self, name: str) -> tuple[str, bool] | None:
        """The innermost condition branch a step is inside (None: the root DAG).

        Raises:
            InvalidInput: for a step after both branches of a condition, or after the branches of
                two conditions neither of which is inside the other (KFP nests conditions).
        """
        groups = self.governing(name)
        conditions = [cond for cond, _ in groups]
        for cond in conditions:
            if conditions.count(cond) > 1:
                raise InvalidInput(
                    f"step {name!r} comes after both branches of condition step {cond!r} (so it never runs)"
                )
        for cond, is_if in groups:
            if set(conditions) - {cond} <= self.enclosing(cond):
                return (cond, is_if)
        if groups:
            raise InvalidInput(
                f"step {name!r} comes after the branches of condition steps {' and '.join(conditions)}, "
                "neither of which is inside the other: KFP nests conditions"
            )
        return None

    # -- values flowing into DAGs --------------------------------------------------------------------

    def bind(self, dag: _Dag, consumer: dict[str, Any] | None, value: _Param | _Out) -> dict[str, Any]:
        """How a task (or a condition) in ``dag`` refers to ``value``, threaded through enclosing groups."""
        if isinstance(value, _Param):
            if dag.parent is None:
                return {"componentInputParameter": value.name}
            channel = f"{_CHANNEL}{value.name}"
            dag.parameters[channel] = self.parameter_type(value.name)
            self.feed(dag, channel, value)
            return {"componentInputParameter": channel}
        if self.located[value.task] is dag:
            assert consumer is not None  # a condition's operands come from outside its own group
            _depend(consumer, value.task)
            if value.artifact:
                return {"taskOutputArtifact": {"producerTask": value.task, "outputArtifactKey": value.key}}
            return {"taskOutputParameter": {"producerTask": value.task, "outputParameterKey": value.key}}
        channel = f"{_CHANNEL}{value.task}-{value.key}"
        outputs = self.components[f"comp-{value.task}"]["outputDefinitions"]
        if value.artifact:
            dag.artifacts[channel] = outputs["artifacts"][value.key]
        else:
            dag.parameters[channel] = outputs["parameters"][value.key]
        self.feed(dag, channel, value)
        return {"componentInputArtifact" if value.artifact else "componentInputParameter": channel}

    def feed(self, group: _Dag, channel: str, value: _Param | _Out) -> None:
        """Pass ``value`` into ``group`` as ``channel``, from the DAG around it."""
        assert group.parent is not None and group.task is not None
        kind = "artifacts" if isinstance(value, _Out) and value.artifact else "parameters"
        section = group.task.setdefault("inputs", {}).setdefault(kind, {})
        if channel not in section:
            section[channel] = self.bind(group.parent, group.task, value)

    def after(self, dag: _Dag, consumer: dict[str, Any], task: str) -> None:
        """Make ``consumer`` wait for ``task`` (or, where ``task`` is in an outer DAG, the group holding it)."""
        while self.located[task] is not dag:
            assert dag.parent is not None and dag.task is not None
            consumer, dag = dag.task, dag.parent
        _depend(consumer, task)

    def parameter_type(self, name: str) -> dict[str, Any]:
        return {"parameterType": ENCODINGS[parameter_encoding(self.pipeline.parameters[name])]}

    # -- values read out of steps' JSON ----------------------------------------------------------------

    def infer_encodings(self) -> None:
        """How each value a condition compares travels: typed by what it is compared with.

        KFP compares parameters by their declared types, so a value compared with a number is a
        NUMBER_DOUBLE; one compared with nothing typed (another value) travels as JSON text.
        """
        for name in self.dag.order:
            step = self.steps[name]
            if not isinstance(step, ConditionStep):
                continue
            for compare in _compares(step.conditions):
                for mine, other in ((compare.left, compare.right), (compare.right, compare.left)):
                    if not isinstance(mine, JsonGet):
                        continue
                    found = self.partner_encoding(other, compare.op)
                    if found is None:
                        found = "json" if compare.op in ("==", "!=", "in") else "double"
                    ident = _value_id(mine)
                    if self.encodings.setdefault(ident, found) != found:
                        raise InvalidInput(
                            f"condition step {name!r} compares {mine!r} as a {found} value, another condition as "
                            f"a {self.encodings[ident]} one: a KFP parameter has one type",
                            field=f"steps.{name}.conditions",
                        )

    def partner_encoding(self, other: Any, op: str) -> str | None:
        if isinstance(other, Parameter | ParameterName):
            encoding = parameter_encoding(self.pipeline.parameters[other.name])
            return "double" if encoding == "integer" else encoding
        if op == "in" and isinstance(other, list):
            other = other[0] if other else None
        if isinstance(other, bool):
            return "boolean"
        if isinstance(other, int | float):
            return "double"
        if isinstance(other, str):
            return "string"
        return None

    def value(self, ref: JsonGet) -> _Out:
        """The output parameter of ``ref``'s step that carries ``ref``'s value, declared on first use."""
        ident = _value_id(ref)
        producer = self.task_names[ref.step.name]
        if ident not in self.value_keys:
            outputs = self.components[f"comp-{producer}"].setdefault("outputDefinitions", {})
            declared = outputs.setdefault("parameters", {})
            base = re.sub(r"[^A-Za-z0-9_]+", "_", f"{ref.property_file or 'properties'}_{ref.json_path}").strip("_")
            key = _unique(base, set(declared))
            encoding = self.encodings.get(ident, "json")
            declared[key] = {"parameterType": ENCODINGS[encoding]}
            self.produces.setdefault(ref.step.name, {})[key] = {
                "file": ref.property_file,
                "path": ref.json_path,
                "encoding": encoding,
            }
            self.value_keys[ident] = key
        return _Out(producer, self.value_keys[ident], artifact=False)

    # -- building ----------------------------------------------------------------------------------

    def build(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The pipeline spec, and the Kubernetes platform spec when a step has a timeout."""
        self.refuse()
        self.infer_encodings()
        taken: set[str] = set()
        for name in self.dag.order:
            if not isinstance(self.steps[name], ConditionStep):
                self.task_names[name] = _unique(_k8s_name(name), taken)
        self.root.parameters = {name: self.root_parameter(p) for name, p in self.pipeline.parameters.items()}
        placed: dict[tuple[str, bool], _Dag] = {}
        numbers = iter(range(1, len(self.steps) * 3 + 1))
        for name in self.dag.order:
            where = self.location_of(name)
            dag = self.root if where is None else placed[where]
            step = self.steps[name]
            if isinstance(step, ConditionStep):
                placed.update(self.condition(step, dag, taken, numbers))
            else:
                self.add_task(step, dag)
        for task in self.tasks.values():  # once every condition declared the values it compares
            self.wire(task)
        components = {name: group.component() for name, group in self.groups.items()}
        components.update(self.components)
        spec: dict[str, Any] = {
            "pipelineInfo": self.pipeline_info(),
            "root": self.root.component(),
            "components": dict(sorted(components.items())),
            "deploymentSpec": {
                "executors": {f"exec-{name}": self.executor(task) for name, task in sorted(self.tasks.items())}
            },
            "schemaVersion": SCHEMA_VERSION,
            "sdkVersion": f"slipway-{__version__}",
        }
        kubernetes = {f"exec-{name}": self.kubernetes(task) for name, task in sorted(self.tasks.items())}
        kubernetes = {name: config for name, config in kubernetes.items() if config}
        platform = {"platforms": {"kubernetes": {"deploymentSpec": {"executors": kubernetes}}}} if kubernetes else None
        return spec, platform

    def pipeline_info(self) -> dict[str, Any]:
        info = {"name": _k8s_name(self.pipeline.name), "displayName": self.pipeline.name}
        if self.pipeline.description:
            info["description"] = self.pipeline.description
        return info

    def root_parameter(self, parameter: Parameter) -> dict[str, Any]:
        out = self.parameter_type(parameter.name)
        if not parameter.required:
            out["defaultValue"] = parameter.default
            out["isOptional"] = True
        if parameter.description:
            out["description"] = parameter.description
        return out

    def condition(
        self, step: ConditionStep, dag: _Dag, taken: set[str], numbers: Iterator[int]
    ) -> dict[tuple[str, bool], _Dag]:
        """A condition step's groups, as ``dsl.If``/``dsl.Else`` compile: inside a wrapper when both exist."""
        if_names, else_names = step.branch_names()
        branches = [is_if for is_if, names in ((True, if_names), (False, else_names)) if names]
        parent = dag
        if len(branches) == 2:
            parent = self.group(dag, _unique(f"condition-branches-{next(numbers)}", taken), step.name)
        out = {}
        for is_if in branches:
            display = f"{step.name}: {'if' if is_if else 'else'}"
            group = self.group(parent, _unique(f"condition-{next(numbers)}", taken), display)
            tests = [self.cel(group, condition, step.name) for condition in step.conditions]
            cel = tests[0] if len(tests) == 1 else " && ".join(f"({test})" for test in tests)
            assert group.task is not None
            group.task["triggerPolicy"] = {"condition": cel if is_if else f"!({cel})"}
            out[(step.name, is_if)] = group
        return out

    def group(self, parent: _Dag, task_name: str, display: str) -> _Dag:
        task: dict[str, Any] = {"taskInfo": {"name": display}, "componentRef": {"name": f"comp-{task_name}"}}
        parent.tasks[task_name] = task
        self.located[task_name] = parent
        group = self.groups[f"comp-{task_name}"] = _Dag(parent=parent, task=task)
        return group

    def cel(self, group: _Dag, condition: Condition, step: str) -> str:
        """A condition in CEL, over the inputs of the condition's group, as KFP's compiler writes it."""
        if isinstance(condition, Compare):
            left, right = (self.cel_operand(group, side, step) for side in (condition.left, condition.right))
            return f"{left} {condition.op} {right}"
        if isinstance(condition, Not):
            return f"!({self.cel(group, condition.condition, step)})"
        if isinstance(condition, And):
            joiner = " || " if isinstance(condition, Or) else " && "
            return joiner.join(f"({self.cel(group, c, step)})" for c in condition.conditions)
        raise InvalidInput(f"condition step {step!r}: {condition!r} is not a condition", field=f"steps.{step}")

    def cel_operand(self, group: _Dag, operand: Any, step: str) -> str:
        if isinstance(operand, Parameter | ParameterName):
            value: _Param | _Out = _Param(operand.name)
        elif isinstance(operand, JsonGet):
            value = self.value(operand)
        elif isinstance(operand, Operand):
            raise InvalidInput(
                f"condition step {step!r} compares {operand!r}: a KFP condition compares parameters, values "
                "read from a step's JSON, and literals",
                field=f"steps.{step}.conditions",
            )
        else:
            return _cel_literal(operand, step)
        (channel,) = self.bind(group, None, value).values()
        return f"inputs.parameter_values['{channel}']"

    def add_task(self, step: Step, dag: _Dag) -> None:
        """The container task of a step and its component; inputs are wired later."""
        name = self.task_names[step.name]
        self.located[name] = dag
        component: dict[str, Any] = {"executorLabel": f"exec-{name}"}
        if step.output_names:
            component["outputDefinitions"] = {"artifacts": {o: _artifact_type(step, o) for o in step.output_names}}
        self.components[f"comp-{name}"] = component
        spec: dict[str, Any] = {
            "taskInfo": {"name": step.name},
            "componentRef": {"name": f"comp-{name}"},
            "cachingOptions": {"enableCache": _cacheable(step)},
        }
        if step.retry is not None and step.retry.max_attempts > 1:
            spec["retryPolicy"] = {
                "maxRetryCount": step.retry.max_attempts - 1,
                "backoffDuration": _seconds(step.retry.backoff),
                "backoffFactor": step.retry.backoff_rate,
                "backoffMaxDuration": _seconds(step.retry.max_backoff),
            }
        dag.tasks[name] = spec
        self.tasks[name] = _Task(step, dag, spec)

    def wire(self, task: _Task) -> None:
        """A task's inputs (parameters, upstream outputs and values) and what it waits for."""
        names: set[str] = set()
        inputs: dict[str, dict[str, Any]] = {"artifacts": {}, "parameters": {}}
        definitions: dict[str, dict[str, Any]] = {"artifacts": {}, "parameters": {}}
        for op in task.step.operands():
            if isinstance(op, Parameter | ParameterName) and op.name not in task.parameters:
                key = task.parameters[op.name] = _unique(op.name, names)
                inputs["parameters"][key] = self.bind(task.dag, task.spec, _Param(op.name))
                definitions["parameters"][key] = self.parameter_type(op.name)
            elif isinstance(op, OutputRef) and (op.step.name, op.output) not in task.artifacts:
                producer = self.task_names[op.step.name]
                key = task.artifacts[(op.step.name, op.output)] = _unique(f"{producer}-{op.output}", names)
                inputs["artifacts"][key] = self.bind(task.dag, task.spec, _Out(producer, op.output, artifact=True))
                definitions["artifacts"][key] = _artifact_type(self.steps[op.step.name], op.output)
            elif isinstance(op, JsonGet) and _value_id(op) not in task.values:
                out = self.value(op)
                key = task.values[_value_id(op)] = _unique(f"{out.task}-{out.key}", names)
                inputs["parameters"][key] = self.bind(task.dag, task.spec, out)
                definitions["parameters"][key] = self.components[f"comp-{out.task}"]["outputDefinitions"][
                    "parameters"
                ][out.key]
        for dep in task.step.depends_on:
            if not isinstance(self.steps[dep.name], ConditionStep):  # a branch step is inside its condition
                self.after(task.dag, task.spec, self.task_names[dep.name])
        if any(inputs.values()):
            task.spec["inputs"] = {kind: found for kind, found in inputs.items() if found}
            self.components[task.spec["componentRef"]["name"]]["inputDefinitions"] = {
                kind: found for kind, found in definitions.items() if found
            }

    def executor(self, task: _Task) -> dict[str, Any]:
        """The container that runs a task: ``slipway pipelines run-step`` with the step spec and placeholders."""
        step = task.step
        produces = self.produces.get(step.name, {})
        step_spec = {
            "format": STEP_SPEC_FORMAT,
            "pipeline": self.pipeline.name,
            "version": self.version.version,
            "step": self.stored[step.name],
            "parameters": [self.pipeline.parameters[p].declaration() for p in sorted(task.parameters)],
            "artifacts": {key: {"step": s, "output": o} for (s, o), key in task.artifacts.items()},
            "values": {
                key: {"step": s, "file": f, "path": p, "encoding": self.encodings.get((s, f, p), "json")}
                for (s, f, p), key in task.values.items()
            },
            "produces": produces,
        }
        args = ["--spec", json.dumps(step_spec, sort_keys=True, separators=(",", ":"))]
        for name, key in sorted(task.parameters.items()):
            args += ["--parameter", f"{name}={{{{$.inputs.parameters['{key}']}}}}"]
        for key in sorted(task.artifacts.values()):
            args += ["--input", f"{key}={{{{$.inputs.artifacts['{key}'].path}}}}"]
        for key in sorted(task.values.values()):
            args += ["--value", f"{key}={{{{$.inputs.parameters['{key}']}}}}"]
        for output in step.output_names:
            args += ["--output", f"{output}={{{{$.outputs.artifacts['{output}'].path}}}}"]
        for key in sorted(produces):
            args += ["--output-value", f"{key}={{{{$.outputs.parameters['{key}'].output_file}}}}"]
        args += ["--run-id", "{{$.pipeline_job_uuid}}", "--task-id", "{{$.pipeline_task_uuid}}"]
        container: dict[str, Any] = {"image": self.image, "command": list(RUN_STEP_COMMAND), "args": args}
        resources = _resources(step)
        if resources:
            container["resources"] = resources
        if self.env:
            container["env"] = [{"name": k, "value": v} for k, v in sorted(self.env.items())]
        return {"container": container}

    def kubernetes(self, task: _Task) -> dict[str, Any]:
        """What only Kubernetes does for a task: its timeout, environment from secrets (as kfp-kubernetes writes)."""
        out: dict[str, Any] = {}
        if task.step.timeout is not None:
            out["activeDeadlineSeconds"] = str(math.ceil(task.step.timeout))
        secrets: dict[str, list[dict[str, str]]] = {}
        for variable, (secret, key) in sorted(self.secret_env.items()):
            secrets.setdefault(secret, []).append({"secretKey": key, "envVar": variable})
        if secrets:
            out["secretAsEnv"] = [
                {
                    "secretName": secret,
                    "secretNameParameter": {"runtimeValue": {"constant": secret}},
                    "keyToEnv": keys,
                    "optional": False,
                }
                for secret, keys in secrets.items()
            ]
        return out

    def render(self) -> str:
        spec, platform = self.build()
        header = (
            "# PIPELINE DEFINITION\n"
            f"# Name: {spec['pipelineInfo']['name']}\n"
            f"# Exported by Slipway {__version__} from version {self.version.version} of pipeline "
            f"{self.pipeline.name!r}; each step runs `slipway pipelines run-step` in {self.image}.\n"
        )
        documents = [spec] if platform is None else [spec, platform]
        return header + yaml.dump_all(documents, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=120)


class _Dumper(yaml.SafeDumper):
    """Writes a dict used twice (an artifact type, say) out twice: KFP's YAML has no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _depend(consumer: dict[str, Any], task: str) -> None:
    waits = consumer.setdefault("dependentTasks", [])
    if task not in waits:
        waits.append(task)
        waits.sort()


def _cacheable(step: Step) -> bool:
    """Whether KFP may reuse an earlier result: Slipway's rules, and no file read by path.

    KFP keys its cache on a task's inputs; a file the container reads by path is not one, so a
    step reading one always runs (Slipway's own cache hashes the file's content instead).
    """
    return step.cacheable and step.cache.enabled and not any(isinstance(op, FileInput) for op in step.operands())


def _resources(step: Step) -> dict[str, Any]:
    """The container's requests: what the step reserves on Ray, asked of Kubernetes."""
    wanted = step.resources
    out: dict[str, Any] = {}
    if wanted.cpus != 1.0:
        out["cpuRequest"] = float(wanted.cpus)
        out["resourceCpuRequest"] = f"{wanted.cpus:g}"
    if wanted.memory_mb:
        out["memoryRequest"] = wanted.memory_mb * 2**20 / 1e9
        out["resourceMemoryRequest"] = f"{wanted.memory_mb}Mi"
    if wanted.gpus:
        count = str(int(wanted.gpus))
        out["accelerator"] = {
            "type": GPU_RESOURCE,
            "count": count,
            "resourceType": GPU_RESOURCE,
            "resourceCount": count,
        }
    return out


def _value_id(ref: JsonGet) -> tuple[str, str | None, str]:
    return (ref.step.name, ref.property_file, ref.json_path)


def _compares(conditions: Iterable[Condition]) -> Iterator[Compare]:
    for condition in conditions:
        if isinstance(condition, Compare):
            yield condition
        elif isinstance(condition, Not):
            yield from _compares([condition.condition])
        elif isinstance(condition, And):
            yield from _compares(condition.conditions)


def kfp_pipeline_spec(
    version: PipelineVersion,
    *,
    image: str,
    env: Mapping[str, str] | None = None,
    secret_env: Mapping[str, tuple[str, str]] | None = None,
) -> str:
    """A stored pipeline version as a KFP v2 pipeline spec (YAML), each step a container of ``image``.

    The steps' code is imported (as :meth:`Pipeline.from_definition` does) to read the pipeline's
    structure; the spec carries the stored definition, and a container refuses to run a step
    whose code differs from it.

    Args:
        version: the stored version to export.
        image: the container image every step runs in: it must hold Slipway and the steps' code.
        env: environment variables of every container (``SLIPWAY_SERVER_URL``, say).
        secret_env: environment variables of every container taken from Kubernetes secrets:
            variable -> (secret name, key), e.g. ``{"SLIPWAY_TOKEN": ("slipway", "token")}``.

    Raises:
        InvalidInput: naming the step and the feature, for what KFP cannot express (see the
            module); for an image name with spaces, or an environment variable's name that is not one.

    Example:
        >>> version = client.pipelines.get_version("abalone", 3)  # doctest: +SKIP
        >>> text = kfp_pipeline_spec(version, image="registry.local/abalone:1")  # doctest: +SKIP
    """
    if not image or any(c.isspace() for c in image):
        raise InvalidInput(f"{image!r} is not a container image name", field="image")
    for variable in [*(env or {}), *(secret_env or {})]:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable):
            raise InvalidInput(f"{variable!r} is not an environment variable's name", field="env")
    return _Exporter(version, image, env or {}, secret_env or {}).render()
