"""Step caching: what a step's result depends on, the key made of it, and why two runs differ.

A step's result is reused when five things are unchanged: its **definition** (the step's JSON,
less what cannot change the result: retries, timeout, cache policy, resources, description,
``light``), its **code** (the hash of its function's or script's source), its **inputs** (the
content hash of every file and folder it reads, every value read from a report), the
**parameters** it uses, and the **environment** (every installed package and its version).
Those parts are stored with each step execution, so :func:`explain` can later say which part
changed and how.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import importlib.metadata
import platform
from collections.abc import Mapping
from typing import Any

from slipway.pipelines._definition import canonical_json
from slipway.pipelines._records import CacheDifference

_NOT_RESULT_FIELDS = ("retry", "timeout", "cache", "resources", "description", "light")


@functools.cache
def environment() -> dict[str, str]:
    """Python's version and every installed distribution's version: read once per process."""
    packages: dict[str, str] = {"python": platform.python_version()}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages[name.lower().replace("_", "-")] = dist.version
    return dict(sorted(packages.items()))


def digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def definition_part(step_json: Mapping[str, Any]) -> str:
    """The hash of the parts of a step's JSON that can change its result (code is its own part)."""
    return digest({k: v for k, v in step_json.items() if k not in (*_NOT_RESULT_FIELDS, "code")})


def cache_parts(
    step_json: Mapping[str, Any],
    inputs: Mapping[str, Any],
    parameters: Mapping[str, Any],
    environment_hash: str,
    *,
    definition: str | None = None,
) -> dict[str, Any]:
    """What a step's result depends on, in the shape stored with its execution.

    Args:
        definition: ``definition_part(step_json)`` if the caller has it already (an orchestrator
            computes it once per step, not once per attempt).
    """
    code = step_json.get("code")
    return {
        "definition": definition if definition is not None else definition_part(step_json),
        "code": code["hash"] if code else None,
        "inputs": dict(inputs),
        "parameters": dict(parameters),
        "environment": environment_hash,
    }


def cache_key(parts: Mapping[str, Any]) -> str:
    return digest(parts)


def differences(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    code_sources: tuple[str | None, str | None] = (None, None),
    environments: tuple[Mapping[str, str], Mapping[str, str]] = ({}, {}),
    definitions: tuple[Mapping[str, Any] | None, Mapping[str, Any] | None] = (None, None),
) -> list[CacheDifference]:
    """Each part that differs between two steps' cache parts, most telling first.

    Args:
        before, after: the stored cache parts of the earlier and the later step execution.
        code_sources: the two sources, to show a code change as a unified diff.
        environments: the two executions' package versions, to name the packages that changed.
        definitions: the step's JSON in both versions, to name the fields that changed.
    """
    found: list[CacheDifference] = []
    if before.get("code") != after.get("code"):
        detail = None
        if code_sources[0] is not None and code_sources[1] is not None:
            detail = "".join(
                difflib.unified_diff(
                    code_sources[0].splitlines(keepends=True),
                    code_sources[1].splitlines(keepends=True),
                    "before",
                    "after",
                )
            )
        found.append(
            CacheDifference(
                kind="code", name="source", before=before.get("code"), after=after.get("code"), detail=detail
            )
        )
    for kind in ("inputs", "parameters"):
        old, new = before.get(kind) or {}, after.get(kind) or {}
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                found.append(CacheDifference(kind=kind[:-1], name=name, before=old.get(name), after=new.get(name)))
    if before.get("environment") != after.get("environment"):
        old_env, new_env = environments
        changed = sorted(n for n in set(old_env) | set(new_env) if old_env.get(n) != new_env.get(n))
        for name in changed:
            found.append(
                CacheDifference(kind="environment", name=name, before=old_env.get(name), after=new_env.get(name))
            )
        if not changed:
            found.append(
                CacheDifference(
                    kind="environment",
                    name="packages",
                    before=before.get("environment"),
                    after=after.get("environment"),
                )
            )
    if before.get("definition") != after.get("definition"):
        old_def, new_def = definitions
        keys = sorted(set(old_def or {}) | set(new_def or {}))
        fields = [
            k
            for k in keys
            if k not in (*_NOT_RESULT_FIELDS, "code") and (old_def or {}).get(k) != (new_def or {}).get(k)
        ]
        if fields and old_def is not None and new_def is not None:
            for key in fields:
                found.append(
                    CacheDifference(kind="definition", name=key, before=old_def.get(key), after=new_def.get(key))
                )
        else:
            found.append(
                CacheDifference(
                    kind="definition", name="step", before=before.get("definition"), after=after.get("definition")
                )
            )
    return found
