"""The contract fixture: every test taking ``client`` runs embedded and against a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _server import LiveServer, live_server

from slipway import Client

__all__ = ["client", "live_server"]


@pytest.fixture(params=["embedded", "remote"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Client]:
    """An embedded client on a fresh home, or a remote one on the session's server.

    The server is shared by the whole session, so tests make their own experiments (unique
    names) and search within them, never across the whole store.
    """
    if request.param == "embedded":
        made = Client(home=str(tmp_path / "home"))
    else:
        server: LiveServer = request.getfixturevalue("live_server")
        made = server.client()
    with made:
        yield made
