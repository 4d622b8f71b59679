"""Writing step modules a test can change between runs, as a user edits code between executions."""

from __future__ import annotations

import importlib
import textwrap
import uuid
from pathlib import Path
from types import ModuleType

import pytest


def write_module(folder: Path, source: str, monkeypatch: pytest.MonkeyPatch, name: str | None = None) -> ModuleType:
    """Write ``source`` as a fresh module in ``folder`` (on the import path) and import it."""
    name = name or f"steps_{uuid.uuid4().hex[:12]}"
    monkeypatch.syspath_prepend(str(folder))
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    importlib.invalidate_caches()
    return importlib.import_module(name)


def rewrite(module: ModuleType, source: str) -> None:
    """Change a module's file (its size changes too, so a stale bytecode cache cannot hide it)."""
    path = Path(module.__file__ or "")
    path.write_text(textwrap.dedent(source) + f"\n# revision {uuid.uuid4().hex}\n")
