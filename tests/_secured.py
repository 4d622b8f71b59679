"""An app with authentication on, per metadata backend, with one user per role and their tokens.

Import the fixture into a test module (``from _secured import secured``). Module-scoped: the users,
tokens and app are made once per module and backend, so a table of hundreds of requests stays
fast. Users are made embedded, where the local user is trusted, as a newcomer makes the first admin.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _services import PG_ADMIN_URL
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from slipway import load_settings
from slipway._backend import Backend
from slipway._principal import ROLES
from slipway.server import create_app

_counter = itertools.count()


@dataclass
class SecuredApp:
    """An app with authentication on, its backend, and a token for each user by name."""

    backend: Backend
    http: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    def add_user(self, name: str, *roles: str) -> str:
        """Create ``name`` with ``roles`` and return a token of theirs."""
        self.backend.security.create_user(name, list(roles))
        token = self.backend.security.create_token(name).secret
        self.tokens[name] = token
        return token

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def _postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh PostgreSQL database copied from the session's migrated template, dropped when resumed."""
    template = request.getfixturevalue("pg_template")
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"slipway_sec_{os.getpid()}_{next(_counter)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def secured(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredApp]:
    """An app on SQLite, then on PostgreSQL, with a user per role named after it (``viewer`` ...)."""
    home: Path = tmp_path_factory.mktemp("secured")
    urls = _postgres_url(request) if request.param == "postgres" else iter([f"sqlite:///{home / 'meta.db'}"])
    backend = Backend(load_settings(env={}, cwd=home, home=str(home), db_url=next(urls)))
    try:
        with TestClient(create_app(backend), base_url="http://localhost") as http:
            made = SecuredApp(backend, http)
            for role in ROLES:
                made.add_user(role, role)
            yield made
    finally:
        backend.close()
        next(urls, None)  # drops the PostgreSQL database
