"""User code in a definition: functions named ``module:qualname``, scripts by path, both hashed.

A definition names code rather than embedding it, so it can be stored, diffed and run again by
another process (``resume``, ``retry``, a server): that process imports the function by name. The
hash of the code's source is part of the definition, so a code change makes a new version and
misses the cache, and the source itself is kept with the version so ``explain-cache`` can show
the change.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from slipway.errors import InvalidInput


@dataclass(frozen=True)
class Code:
    """A step's code: how to find it again, the sha256 of its source, and the source."""

    ref: str  # "module:qualname" of a function, or the path of a script
    hash: str
    source: str

    def to_json(self) -> dict[str, str]:
        return {"ref": self.ref, "hash": self.hash}


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def function_code(fn: Callable[..., Any]) -> Code:
    """The :class:`Code` of a function: its import name and its source (dedented).

    Functions without source (built at run time, in a REPL) are hashed by their bytecode, which
    still changes when they do.
    """
    module = getattr(fn, "__module__", None) or "__main__"
    qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn))
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        source = repr((code.co_code, code.co_consts)) if code is not None else repr(fn)
    return Code(f"{module}:{qualname}", sha256_text(source), source)


def script_code(path: Path) -> Code:
    """The :class:`Code` of a script file.

    Raises:
        InvalidInput: (``field="script"``) if the file does not exist.
    """
    if not path.is_file():
        raise InvalidInput(f"no script at {path}", field="script")
    source = path.read_text(encoding="utf-8")
    return Code(str(path), sha256_text(source), source)


def importable(ref: str) -> bool:
    """Whether another process could import ``module:qualname`` (not ``__main__``, no ``<locals>``)."""
    module, sep, qualname = ref.partition(":")
    return (
        bool(sep and qualname)
        and module.replace(".", "_").isidentifier()
        and module != "__main__"
        and "<" not in qualname
    )


# Module -> (mtime, size) of its file when this process last loaded it: see fresh_module.
_LOADED: dict[str, tuple[int, int]] = {}


def _stamp(module: ModuleType) -> tuple[int, int] | None:
    file = getattr(module, "__file__", None)
    try:
        stat = os.stat(file) if file else None
    except OSError:
        return None
    return None if stat is None else (stat.st_mtime_ns, stat.st_size)


def fresh_module(name: str) -> ModuleType:
    """Import the module ``name``, reloading it if its file changed since this process loaded it.

    A long-lived process (a server, a warm worker) must run the code as it is now, not as it was
    when it first imported it: otherwise the code hash (read from the file) and the code that runs
    would disagree. A module this process imported before asking is taken as current the first time.
    """
    module = sys.modules.get(name)
    if module is None:
        module = importlib.import_module(name)
        stamp = _stamp(module)
    else:
        stamp = _stamp(module)  # one look at the file per call: a warm worker asks before every step
        if name in _LOADED and stamp != _LOADED[name]:
            module = importlib.reload(module)
            stamp = _stamp(module)
    if stamp is not None:
        _LOADED[name] = stamp
    return module


def loaded_stamp(name: str) -> tuple[int, int] | None:
    """The (mtime, size) of module ``name``'s file as :func:`fresh_module` last loaded it: a
    different stamp means different code under the same name."""
    return _LOADED.get(name)


def import_string(spec: str, *, what: str = "object") -> Any:
    """Import ``package.module:attribute.path``; the current folder is searched first, as ``python -m`` does.

    The module is reloaded if its file changed since this process loaded it (:func:`fresh_module`).

    Raises:
        InvalidInput: (``field="ref"``) if the spec is malformed, the module cannot be imported
            or has no such attribute; the message says which.

    Example:
        >>> import_string("os.path:join").__name__
        'join'
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise InvalidInput(f"{spec!r} is not MODULE:NAME", field="ref")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        obj: Any = fresh_module(module_name)
    except ImportError as exc:
        raise InvalidInput(f"cannot import the module of {what} {spec!r}: {exc}", field="ref") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise InvalidInput(f"{module_name} has no {attr!r} (looking for {what} {spec!r})", field="ref") from None
    return obj
