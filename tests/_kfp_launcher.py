"""A small stand-in for Kubeflow Pipelines' driver and launcher, to run an exported spec without a cluster.

It walks the spec's DAGs as KFP's driver does (tasks after the ones they wait for; a condition
group only when its ``triggerPolicy`` holds; values passed into groups through their inputs), and
runs each container task's command as KFP's launcher does: placeholders replaced by values and by
local paths, every output artifact a folder the launcher collects, every output parameter the text
of a file, parsed as the parameter's type. Each command runs as its own process, outside any
container. Conditions are evaluated by turning KFP's CEL into Python, enough for the comparisons
and ``!``/``&&``/``||`` the exporter writes.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_PLACEHOLDER = re.compile(
    r"\{\{\$\.(?:(?P<side>inputs|outputs)\.(?P<kind>parameters|artifacts)\['(?P<name>[^']+)'\]"
    r"(?P<tail>\.path|\.output_file)?|(?P<job>pipeline_job_uuid|pipeline_task_uuid))\}\}"
)
_CEL_INPUT = re.compile(r"inputs\.parameter_values\['([^']+)'\]")


def render(value: Any) -> str:
    """A parameter's value as KFP puts it on a command line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def parse(text: str, parameter_type: str) -> Any:
    """An output parameter's file, read as its type (as the launcher does)."""
    if parameter_type == "STRING":
        return text
    if parameter_type == "BOOLEAN":
        return text.strip() == "true"
    return json.loads(text)


def cel_holds(condition: str, inputs: Mapping[str, Any]) -> bool:
    """Evaluate the CEL the exporter writes (comparisons, !, &&, ||) over a group's input values."""
    python = _CEL_INPUT.sub(lambda m: repr(inputs[m.group(1)]), condition)
    python = python.replace("&&", " and ").replace("||", " or ").replace("!(", " not (")
    python = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", python))
    return bool(eval(python, {"__builtins__": {}}, {}))  # our own exported text, in a test


@dataclass
class Launcher:
    """Runs one exported spec; ``ran`` lists the tasks run, by display name, ``skipped`` the groups not entered."""

    spec: dict[str, Any]
    work: Path
    env: Mapping[str, str]
    cwd: Path
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    results: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)

    def run(self, parameters: Mapping[str, Any]) -> None:
        root = self.spec["root"]
        values = {
            name: parameters.get(name, declared.get("defaultValue"))
            for name, declared in root.get("inputDefinitions", {}).get("parameters", {}).items()
        }
        self.dag(root["dag"], values)

    def dag(self, dag: Mapping[str, Any], scope: Mapping[str, Any]) -> None:
        outputs: dict[str, dict[str, Any]] = {}
        pending = dict(dag["tasks"])
        while pending:
            key = next(k for k, t in pending.items() if all(d in outputs for d in t.get("dependentTasks", [])))
            task = pending.pop(key)
            inputs = {
                name: self.resolve(binding, scope, outputs)
                for section in ("parameters", "artifacts")
                for name, binding in task.get("inputs", {}).get(section, {}).items()
            }
            component = self.spec["components"][task["componentRef"]["name"]]
            condition = task.get("triggerPolicy", {}).get("condition")
            if condition and not cel_holds(condition, inputs):
                self.skipped.append(task["taskInfo"]["name"])
                outputs[key] = {}
            elif "dag" in component:
                self.dag(component["dag"], inputs)
                outputs[key] = {}
            else:
                outputs[key] = self.container(key, task["taskInfo"]["name"], component, inputs)

    @staticmethod
    def resolve(binding: Mapping[str, Any], scope: Mapping[str, Any], outputs: Mapping[str, Any]) -> Any:
        if "componentInputParameter" in binding:
            return scope[binding["componentInputParameter"]]
        if "componentInputArtifact" in binding:
            return scope[binding["componentInputArtifact"]]
        if "taskOutputArtifact" in binding:
            ref = binding["taskOutputArtifact"]
            return outputs[ref["producerTask"]][ref["outputArtifactKey"]]
        if "taskOutputParameter" in binding:
            ref = binding["taskOutputParameter"]
            return outputs[ref["producerTask"]][ref["outputParameterKey"]]
        return binding["runtimeValue"]["constant"]

    def container(
        self, key: str, display: str, component: Mapping[str, Any], inputs: Mapping[str, Any]
    ) -> dict[str, Any]:
        executor = self.spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
        place = self.work / key
        declared = component.get("outputDefinitions", {})
        artifacts = {name: place / "artifacts" / name for name in declared.get("artifacts", {})}
        files = {name: place / "parameters" / name for name in declared.get("parameters", {})}

        def fill(match: re.Match[str]) -> str:
            if match["job"]:
                return f"{match['job']}-{key}"
            if match["side"] == "inputs":
                value = inputs[match["name"]]
                return str(value) if match["kind"] == "artifacts" else render(value)
            return str(artifacts[match["name"]] if match["kind"] == "artifacts" else files[match["name"]])

        command = [*executor["command"], *(_PLACEHOLDER.sub(fill, arg) for arg in executor["args"])]
        env = {**self.env, **{e["name"]: e["value"] for e in executor.get("env", [])}}
        self.results[display] = done = subprocess.run(
            command, cwd=self.cwd, env=env, capture_output=True, text=True, timeout=300
        )
        self.ran.append(display)
        if done.returncode != 0:
            raise AssertionError(f"{display} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        produced: dict[str, Any] = dict(artifacts)
        for name, path in files.items():
            produced[name] = parse(path.read_text(), declared["parameters"][name]["parameterType"])
        return produced
