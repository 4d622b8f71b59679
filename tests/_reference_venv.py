"""Side virtualenvs for reference implementations whose pins clash with ours (smclarify needs pandas 2).

A side environment is built once, from PyPI, into ``~/.cache/slipway/reference/<hash of its pins>``
(``SLIPWAY_REFERENCE_CACHE`` overrides the folder), and reused by every later run: the hash
changes with the pins, so a new pin builds a new environment and never mixes with an old one.
A lock file keeps two test processes from building the same one at once. Under CI=true a build
that fails fails the test (CI reaches PyPI); elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from _services import missing_service

_READY = ".ready"


def cache_root() -> Path:
    return Path(os.environ.get("SLIPWAY_REFERENCE_CACHE", Path.home() / ".cache" / "slipway" / "reference"))


def reference_python(
    pins: tuple[str, ...],
    no_deps: tuple[str, ...] = (),
    *,
    after_install: Callable[[Path], None] | None = None,
) -> Path:
    """The interpreter of a side environment with ``pins`` (and ``no_deps``, installed without their
    dependencies), built on first use.

    ``after_install(folder)`` runs once, inside the lock, after the installs: for state every
    later run reuses (Airflow's migrated database, say).
    """
    key = hashlib.sha256("\n".join((sys.version.split()[0], *pins, "--no-deps", *no_deps)).encode()).hexdigest()[:16]
    folder = cache_root() / key
    python = folder / "bin" / "python"
    if (folder / _READY).exists():
        return python
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / _READY).exists():
            _build(folder, pins, no_deps)
            if after_install is not None:
                after_install(folder)
            (folder / _READY).write_text("\n".join(pins + no_deps) + "\n")
    return python


def _build(folder: Path, pins: tuple[str, ...], no_deps: tuple[str, ...]) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    steps = [[sys.executable, "-m", "venv", "--clear", str(folder)],
             [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", *pins]]
    if no_deps:
        steps.append([str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps", *no_deps])
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, env=env, timeout=900, check=False)
        if done.returncode:
            missing_service(f"the reference environment {' '.join(pins + no_deps)} ({done.stderr.strip()[-300:]})")
