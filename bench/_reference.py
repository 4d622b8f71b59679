"""The incumbents' side environments: Feast, Evidently and Prefect, each in a virtualenv of its own.

Their pins clash with ours (Feast 0.67 and Evidently 0.7 need pandas < 3), so each bench runs its
incumbent's side (``_feast_side.py``, ``_evidently_side.py``, ``_prefect_side.py``) in a subprocess
with that environment's Python. An environment is built once, from the package index, into
``~/.cache/slipway/reference/<hash of its pins>`` (``SLIPWAY_REFERENCE_CACHE`` overrides the
folder; the tests' reference environments live there too), and reused by every later run: a new
pin hashes to a new folder and never mixes with an old one. A lock keeps two runs from building
the same one at once. ``FEAST_PYTHON``, ``EVIDENTLY_PYTHON`` or ``PREFECT_PYTHON`` names an
interpreter to use instead.

Build them ahead of a bench run (a few minutes each)::

    .venv/bin/python bench/_reference.py feast evidently prefect
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from pathlib import Path

# The versions the bench tables are quoted against; change one and its environment is rebuilt.
PINS: dict[str, tuple[str, ...]] = {
    "feast": ("feast==0.67.0", "pandas<3"),
    "evidently": ("evidently==0.7.23", "pandas<3"),
    "prefect": ("prefect==3.9.1",),
}
_READY = ".ready"


class ReferenceUnavailable(Exception):
    """The side environment could not be built; the message says why (the bench's cells say n/a)."""


def cache_root() -> Path:
    return Path(os.environ.get("SLIPWAY_REFERENCE_CACHE", Path.home() / ".cache" / "slipway" / "reference"))


def reference_python(name: str, *, build: bool = True) -> Path:
    """The interpreter of ``name``'s side environment (a key of :data:`PINS`), built on first use.

    Raises:
        ReferenceUnavailable: if the override names no interpreter, or (with ``build``) the build
            failed, or (without it) the environment is not built yet.
    """
    override = os.environ.get(f"{name.upper()}_PYTHON")
    if override:
        if not Path(override).exists():
            raise ReferenceUnavailable(f"{name.upper()}_PYTHON={override} does not exist")
        return Path(override)
    pins = PINS[name]
    key = hashlib.sha256("\n".join((sys.version.split()[0], *pins, "--no-deps")).encode()).hexdigest()[:16]
    folder = cache_root() / key
    python = folder / "bin" / "python"
    if (folder / _READY).exists():
        return python
    if not build:
        raise ReferenceUnavailable(f"no {name} environment built yet (bench/_reference.py {name})")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / _READY).exists():
            _build(folder, pins)
            (folder / _READY).write_text("\n".join(pins) + "\n")
    return python


def _build(folder: Path, pins: tuple[str, ...]) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    for step in (
        [sys.executable, "-m", "venv", "--clear", str(folder)],
        [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", *pins],
    ):
        done = subprocess.run(step, capture_output=True, text=True, env=env, timeout=1800, check=False)
        if done.returncode:
            raise ReferenceUnavailable(f"building {' '.join(pins)} failed: {done.stderr.strip()[-300:]}")


if __name__ == "__main__":
    for wanted in sys.argv[1:] or list(PINS):
        print(wanted, reference_python(wanted))
