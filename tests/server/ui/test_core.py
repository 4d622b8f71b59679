"""The UI's core without a browser: layout, login cookie, CSRF, static files, HTML errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from slipway import load_settings
from slipway._backend import Backend
from slipway.server import create_app


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home: Path = tmp_path_factory.mktemp("ui-core")
    backend = Backend(load_settings(env={}, cwd=home, home=str(home)))
    try:
        with TestClient(create_app(backend)) as test_client:
            yield test_client
    finally:
        backend.close()


def _csrf(client: TestClient) -> str:
    client.get("/login")
    token = client.cookies.get("slipway_csrf")
    assert token
    return token


def test_home_has_the_nav_bar_and_each_section(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for href in ("/experiments", "/models", "/pipelines", "/endpoints", "/monitoring", "/datasets", "/lineage"):
        assert f'href="{href}"' in page.text
    for section in ("executions", "pending", "endpoints", "alarms"):
        assert f'id="{section}"' in page.text


def test_the_api_and_its_docs_stay_where_they_were(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/api/v1/version").status_code == 200
    assert "/api/v1/runs/search" in client.get("/openapi.json").json()["paths"]
    assert not any(path == "/" or path.startswith("/login") for path in client.get("/openapi.json").json()["paths"])
    assert client.get("/docs").status_code == 200


def test_login_keeps_the_token_in_an_httponly_strict_cookie(client: TestClient) -> None:
    answer = client.post(
        "/login", data={"token": "tok-123", "next": "/models", "csrf_token": _csrf(client)}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/models"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("slipway_token=tok-123;")
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    logout = client.post("/logout", data={"csrf_token": _csrf(client)}, follow_redirects=False)
    assert logout.status_code == 303
    assert 'slipway_token=""' in logout.headers["set-cookie"]


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "\\\\evil", ""])
def test_login_never_redirects_off_site(client: TestClient, target: str) -> None:
    answer = client.post(
        "/login", data={"token": "tok", "next": target, "csrf_token": _csrf(client)}, follow_redirects=False
    )
    assert answer.headers["location"] == "/"


def test_an_empty_token_is_refused_with_a_message(client: TestClient) -> None:
    answer = client.post("/login", data={"token": "  ", "csrf_token": _csrf(client)})
    assert answer.status_code == 400
    assert "slipway tokens create" in answer.text


def test_a_form_post_without_the_csrf_token_is_refused(client: TestClient) -> None:
    _csrf(client)
    missing = client.post("/login", data={"token": "tok"}, follow_redirects=False)
    forged = client.post("/login", data={"token": "tok", "csrf_token": "guess"}, follow_redirects=False)
    for answer in (missing, forged):
        assert answer.status_code == 403
        assert answer.headers["content-type"].startswith("text/html")
        assert "CSRF" in answer.text
        assert "set-cookie" not in answer.headers or "slipway_token" not in answer.headers["set-cookie"]


def test_static_files_are_served_and_cannot_be_escaped(client: TestClient) -> None:
    css = client.get("/static/slipway.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/static/slipway.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/%2e%2e/_render.py").status_code == 404
    assert client.get("/static/..%2f_render.py").status_code == 404
    assert client.get("/static/nothing.css").status_code == 404
