"""Slipway installs from its built wheel under its own name, ``slipway-mlops``, with its licence.

The wheel is built from this checkout offline (hatchling from the dev extra, no build isolation)
and installed with ``--no-deps`` into a fresh virtualenv that sees the test venv's site-packages
only through a path entry: its dependencies are found, its ``.pth`` files (the editable checkout)
are not, so the ``slipway`` that answers is the one the wheel installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from slipway import __version__
from slipway._version import DISTRIBUTION

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("hatchling", reason="building the wheel needs hatchling (the dev extra)")


def _run(*argv: str | Path, cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--wheel-dir", out, ROOT)
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_is_named_slipway_mlops_and_carries_the_licence(wheel: Path) -> None:
    assert wheel.name.startswith(f"slipway_mlops-{__version__}-py3-none-any")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        dist_info = f"slipway_mlops-{__version__}.dist-info"
        metadata = zf.read(f"{dist_info}/METADATA").decode()
        licence = zf.read(f"{dist_info}/licenses/LICENSE").decode()
    assert "slipway/__init__.py" in names  # the import name stays slipway
    assert f"Name: {DISTRIBUTION}\n" in metadata and "License-Expression: Apache-2.0" in metadata
    assert "License-File: LICENSE" in metadata
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence


def test_pip_install_of_the_wheel_gives_slipway_version(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip())
    # The test venv's packages as a plain path entry, after the new venv's own: dependencies only.
    (site / "test_venv_packages.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--no-index",
         "--disable-pip-version-check", wheel)

    answer = _run(venv / "bin" / "slipway", "--version")
    assert answer.strip() == f"slipway {__version__} ({DISTRIBUTION})"
    where = _run(python, "-c", "import slipway, importlib.metadata as m; "
                 f"print(slipway.__file__); print(m.version({DISTRIBUTION!r}))").split()
    assert where == [str(site / "slipway" / "__init__.py"), __version__]


def test_the_sdist_carries_the_licence(tmp_path: Path) -> None:
    _run(sys.executable, "-c", f"from hatchling.build import build_sdist; build_sdist({str(tmp_path)!r})", cwd=ROOT)
    (sdist,) = tmp_path.glob("*.tar.gz")
    assert sdist.name == f"slipway_mlops-{__version__}.tar.gz"
    with tarfile.open(sdist) as tf:
        assert f"slipway_mlops-{__version__}/LICENSE" in tf.getnames()
