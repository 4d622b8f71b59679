"""The OpenAPI document keeps its paths, methods, status codes and JSON shapes (issue 16 item 5).

The web UI, MLflow's clients and every script written against ``/api/v1`` depend on them, while the
routes are derived from the services' declared operations: this test compares the document an app
builds now with the snapshot ``tests/server/openapi.json``, after resolving every ``$ref`` (the
components' *names* are not part of the contract and may differ).

Compared exactly: paths and methods, parameters (where, required, schema), request bodies (media
type, required, schema), responses (status codes, media types, schemas) and tags. Documentation may
grow but not shrink: every description of a field or parameter of the snapshot is still found at the
same place, every default still shows the same value (a default may be documented where none was),
and an operation that had a description still has one (derived routes take it from the service
method's docstring).

An intended change updates the snapshot with ``PYTHONPATH=src .venv/bin/python scripts/openapi_snapshot.py``
(see that script); commit the snapshot with the change, so its diff shows what callers will see.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "tests" / "server" / "openapi.json"
_DOC_KEYS = frozenset({"title", "description", "examples", "example", "default"})
_NAMED = frozenset({"properties", "patternProperties", "$defs", "definitions"})  # keys below are names, not keywords
_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})


def _current_document() -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("openapi_snapshot", ROOT / "scripts" / "openapi_snapshot.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    document: dict[str, Any] = module.current_document()
    return document


class _Resolver:
    """Inlines ``$ref``s of one document; a schema that contains itself is cut at its second appearance."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})

    def shape(self, schema: Any, seen: tuple[str, ...] = ()) -> Any:
        """``schema`` without its documentation keywords, references inlined, ``required`` sorted."""
        if isinstance(schema, list):
            return [self.shape(item, seen) for item in schema]
        if not isinstance(schema, dict):
            return schema
        ref = schema.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name in seen:
                return {"$recursive": len(seen) - seen.index(name)}  # how far up it points, not what it is named
            return self.shape(self.schemas[name], (*seen, name))
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in _DOC_KEYS:
                continue
            if key in _NAMED and isinstance(value, dict):
                out[key] = {name: self.shape(sub, seen) for name, sub in value.items()}
            elif key == "required" and isinstance(value, list):
                out[key] = sorted(value)
            else:
                out[key] = self.shape(value, seen)
        return out

    def docs(self, schema: Any, where: str, seen: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
        """(place, description) of every description in ``schema``, references followed."""
        if isinstance(schema, list):
            for i, item in enumerate(schema):
                yield from self.docs(item, f"{where}[{i}]", seen)
            return
        if not isinstance(schema, dict):
            return
        ref = schema.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                yield from self.docs(self.schemas[name], where, (*seen, name))
            return
        for key, value in schema.items():
            if key == "description" and isinstance(value, str):
                yield where, value
            elif key == "default":
                yield f"{where} default", json.dumps(value, sort_keys=True)
            elif key in _NAMED and isinstance(value, dict):
                for name, sub in value.items():
                    yield from self.docs(sub, f"{where}.{name}", seen)
            elif key not in _DOC_KEYS:
                yield from self.docs(value, f"{where}/{key}", seen)


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in _METHODS:
                yield f"{method.upper()} {path}", operation


def contract(document: dict[str, Any]) -> dict[str, Any]:
    """What callers depend on, operation by operation, with names and documentation left out."""
    resolve = _Resolver(document)
    out: dict[str, Any] = {}
    for key, op in _operations(document):
        body = op.get("requestBody") or {}
        out[key] = {
            "tags": op.get("tags", []),
            "parameters": {
                f"{p['in']}:{p['name']}": {"required": p.get("required", False),
                                           "schema": resolve.shape(p.get("schema"))}
                for p in op.get("parameters", [])
            },
            "body": body and {
                "required": body.get("required", False),
                "content": {media: resolve.shape(c.get("schema")) for media, c in body.get("content", {}).items()},
            },
            "responses": {
                code: {media: resolve.shape(c.get("schema")) for media, c in (answer.get("content") or {}).items()}
                for code, answer in op.get("responses", {}).items()
            },
        }
    return out


def documentation(document: dict[str, Any]) -> dict[str, str]:
    """Every description and default of the document by place: parameters' and schema fields'; and which
    operations have a description (its text comes from the service's docstring, which may word it otherwise)."""
    resolve = _Resolver(document)
    found: dict[str, str] = {}
    for key, op in _operations(document):
        if op.get("description"):
            found[key] = "described"
        for p in op.get("parameters", []):
            place = f"{key} {p['in']}:{p['name']}"
            if p.get("description"):
                found[place] = p["description"]
            found.update(resolve.docs(p.get("schema"), place))
        for media, content in ((op.get("requestBody") or {}).get("content") or {}).items():
            found.update(resolve.docs(content.get("schema"), f"{key} body {media}"))
        for code, answer in op.get("responses", {}).items():
            for media, content in (answer.get("content") or {}).items():
                found.update(resolve.docs(content.get("schema"), f"{key} {code} {media}"))
    return found


def _words(text: str) -> str:
    return " ".join(text.split())


def _kept(place: str, text: str, now: str | None) -> bool:
    """A default keeps its value; a description may grow around its old words."""
    if now is None:
        return False
    return now == text if place.endswith(" default") else _words(text) in _words(now)


@pytest.fixture(scope="module")
def snapshot() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def current() -> dict[str, Any]:
    return _current_document()


def test_the_api_keeps_its_paths_status_codes_and_json_shapes(
    snapshot: dict[str, Any], current: dict[str, Any]
) -> None:
    before, after = contract(snapshot), contract(current)
    assert sorted(after) == sorted(before), "operations added or removed: run scripts/openapi_snapshot.py if intended"
    changed = [key for key in before if before[key] != after[key]]
    first = changed[0] if changed else ""
    assert not changed, (
        f"{len(changed)} operation(s) changed shape, e.g. {first}:\n"
        f"before {json.dumps(before.get(first), sort_keys=True)}\nafter  {json.dumps(after.get(first), sort_keys=True)}"
    )


def test_no_description_is_lost(snapshot: dict[str, Any], current: dict[str, Any]) -> None:
    before, after = documentation(snapshot), documentation(current)
    lost = {place: text for place, text in before.items() if not _kept(place, text, after.get(place))}
    assert not lost, f"{len(lost)} description(s) lost, e.g. {next(iter(lost.items()))}"


def test_the_comparison_sees_a_changed_shape(snapshot: dict[str, Any]) -> None:
    """The comparison can fail: a field's type, a status code and a lost description are all noticed."""
    altered = json.loads(json.dumps(snapshot))
    altered["components"]["schemas"]["CreateExperiment"]["properties"]["name"]["type"] = "integer"
    assert contract(altered) != contract(snapshot)
    responses = altered["paths"]["/api/v1/runs"]["post"]["responses"]
    responses["200"] = responses.pop("201")
    assert contract(altered)["POST /api/v1/runs"] != contract(snapshot)["POST /api/v1/runs"]
    del altered["components"]["schemas"]["SearchRuns"]["properties"]["filter"]["description"]
    assert len(documentation(altered)) < len(documentation(snapshot))
