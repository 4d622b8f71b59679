"""Load an exported pipeline spec with the real ``kfp`` SDK and print what it holds, as JSON.

Run by tests/pipelines/test_kfp_export.py with the Python of the KFP reference venv (kfp's pins
clash with ours): ``python _kfp_side.py SPEC.yaml``. It proves the SDK accepts the spec (it parses
it into KFP's protobuf messages, and compiles a pipeline that uses it as a component), and prints
its structure for the test to check against the Slipway pipeline: each task with the conditions
around it and what it waits for, the root parameters, each executor, the Kubernetes platform spec.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from kfp import compiler, components, dsl
from kfp.kubernetes import kubernetes_executor_config_pb2


def walk(spec: dict[str, Any], dag: dict[str, Any], groups: list[dict[str, Any]], out: dict[str, Any]) -> None:
    """Every container task of ``dag`` and of the condition groups inside it, by display name."""
    names = {key: task["taskInfo"]["name"] for key, task in dag["tasks"].items()}
    for key, task in dag["tasks"].items():
        component = spec["components"][task["componentRef"]["name"]]
        after = sorted(names[d] for d in task.get("dependentTasks", []))
        if "dag" in component:
            group = {"name": names[key], "after": after, "condition": task.get("triggerPolicy", {}).get("condition")}
            walk(spec, component["dag"], [*groups, group], out)
            continue
        out[names[key]] = {
            "task": key,
            "after": after,
            "groups": groups,
            "inputs": task.get("inputs", {}),
            "caching": task.get("cachingOptions", {}),
            "retry": task.get("retryPolicy"),
            "executor": spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"],
            "outputs": component.get("outputDefinitions", {}),
        }


def main(path: str) -> None:
    loaded = components.load_component_from_file(path)
    spec = json_format.MessageToDict(loaded.pipeline_spec)
    platform = json_format.MessageToDict(loaded.platform_spec)
    kubernetes = platform.get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {})
    for config in kubernetes.get("executors", {}).values():  # parsed strictly: a wrong field fails
        json_format.ParseDict(config, kubernetes_executor_config_pb2.KubernetesExecutorConfig())

    @dsl.pipeline(name="outer")
    def outer():  # kfp reads annotations: "-> None" would declare an output
        loaded()

    with tempfile.TemporaryDirectory() as tmp:
        compiler.Compiler().compile(outer, str(Path(tmp) / "outer.yaml"))
    tasks: dict[str, Any] = {}
    walk(spec, spec["root"]["dag"], [], tasks)
    print(json.dumps({
        "name": loaded.name,
        "info": spec["pipelineInfo"],
        "parameters": spec["root"].get("inputDefinitions", {}).get("parameters", {}),
        "sdk_inputs": sorted(loaded.component_spec.inputs or {}),
        "tasks": tasks,
        "platform": platform,
    }))


if __name__ == "__main__":
    main(sys.argv[1])
