"""Fast tests of UI pages without a browser: a backend of a module's own and a TestClient over its app.

Auth is off in these apps (every request acts as the admin ``anonymous``), so a test reads pages
without tokens; what each role may see and do is tested against the live server of ``_ui``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from fastapi.testclient import TestClient

from slipway import load_settings
from slipway._backend import Backend
from slipway.server import create_app


@contextlib.contextmanager
def own_backend(home: Path, **env: str) -> Iterator[Backend]:
    """Engines under ``home`` whatever the environment says (``env``: settings variables to set)."""
    backend = Backend(load_settings(env=env, cwd=home, home=str(home)))
    try:
        yield backend
    finally:
        backend.close()


@contextlib.contextmanager
def page_client(backend: Backend) -> Iterator[TestClient]:
    """A client of ``backend``'s app with auth off, holding the CSRF cookie its forms need."""
    with TestClient(create_app(backend, auth=False), base_url="http://localhost") as client:
        client.get("/login")
        yield client
