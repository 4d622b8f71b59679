"""Server fixtures: the session's live server and a raw HTTP client on its API."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from _server import LiveServer, live_server

__all__ = ["api", "live_server", "run_id"]


@pytest.fixture
def api(live_server: LiveServer) -> Iterator[httpx.Client]:
    """Raw HTTP to ``/api/v1`` as the admin: what any client, well-behaved or not, can send."""
    with httpx.Client(base_url=f"{live_server.url}/api/v1", headers=live_server.headers, timeout=30) as client:
        yield client


@pytest.fixture
def run_id(api: httpx.Client) -> str:
    resp = api.post("/runs", json={})
    assert resp.status_code == 201, resp.text
    run: str = resp.json()["id"]
    return run
