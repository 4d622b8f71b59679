"""Work a step sends to other processes (a tuning job's trials, a distributed training's workers).

The work travels as bytes: the import path and the module of the user's function first, so the
receiving process imports (or reloads) that module before unpickling, then the work itself by
cloudpickle. The receiver rebuilds the store's services from the step's
:class:`~slipway.pipelines.ServiceSpec` and works in a temporary folder of its own.
"""

from __future__ import annotations

import pickle
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cloudpickle

from slipway.pipelines._code import fresh_module, importable
from slipway.pipelines._context import ServiceSpec, TaskInfo, WorkContext
from slipway.pipelines._worker import services_of
from slipway.pipelines.steps._function import UserFunction


def pack(work: Any, function: UserFunction) -> bytes:
    """``work`` as bytes for another process, which imports ``function``'s module first."""
    code = function.code()
    modules = (code.ref.partition(":")[0],) if importable(code.ref) else ()
    return pickle.dumps((list(sys.path), modules, cloudpickle.dumps(work)))


def unpack(payload: bytes) -> Any:
    """The work :func:`pack` sent, its function's module imported (reloaded if its file changed)."""
    path, modules, blob = pickle.loads(payload)
    for entry in path:
        if entry not in sys.path:
            sys.path.append(entry)
    for module in modules:
        fresh_module(module)
    return pickle.loads(blob)


@contextmanager
def remote_context(info: TaskInfo, spec: ServiceSpec, prefix: str) -> Iterator[WorkContext]:
    """A step's context in another process: the services built from ``spec``, a temporary folder."""
    work = tempfile.mkdtemp(prefix=prefix)
    try:
        yield WorkContext(info, {}, Path(work), lambda: services_of(spec), spec=spec)
    finally:
        shutil.rmtree(work, ignore_errors=True)
