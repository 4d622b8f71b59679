"""Security headers on every response: API answers, errors, refusals and the inference routes."""

from __future__ import annotations

import httpx
import pytest
from _server import LiveServer

TIMEOUT = 30  # seconds: CI shares two cores among the whole suite


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/health"),
    ("GET", "/api/v1/version"),
    ("GET", "/api/v1/runs/nope"),  # a 404
    ("POST", "/api/v1/runs/search"),  # a 422 (no body)
    ("GET", "/no/such/page"),
    ("GET", "/"),  # the web UI
])
def test_every_response_carries_the_security_headers(hardened: LiveServer, method: str, path: str) -> None:
    resp = httpx.request(method, f"{hardened.url}{path}", headers=hardened.headers, timeout=TIMEOUT)
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["referrer-policy"] == "same-origin"
    csp = resp.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self';" in csp  # no inline script, no CDN
    assert "object-src 'none'" in csp


def test_a_request_without_a_token_is_refused_with_them(hardened: LiveServer) -> None:
    resp = httpx.get(f"{hardened.url}/api/v1/experiments", timeout=TIMEOUT)
    assert resp.status_code == 401
    assert resp.headers["x-frame-options"] == "DENY" and "content-security-policy" in resp.headers


def test_a_refused_oversized_body_carries_them_too(hardened: LiveServer) -> None:
    body, headers = b"{" * (1 << 20), {"content-type": "application/json"}
    resp = httpx.post(f"{hardened.url}/api/v1/runs", content=body, headers=headers, timeout=TIMEOUT)
    assert resp.status_code == 413
    assert resp.headers["x-frame-options"] == "DENY"


def test_the_api_docs_page_may_load_swagger_ui(hardened: LiveServer) -> None:
    csp = httpx.get(f"{hardened.url}/docs", timeout=TIMEOUT).headers["content-security-policy"]
    assert "https://cdn.jsdelivr.net" in csp and "frame-ancestors 'none'" in csp
