"""The UI's core: layout, login cookie, CSRF, static files, HTML errors, and logging in from a browser."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from _ui import Browse, UIServer


@pytest.fixture(scope="module")
def anonymous(ui_server: UIServer) -> Iterator[httpx.Client]:
    """A browser-like client with no login yet."""
    with httpx.Client(base_url=ui_server.url, headers={"Accept": "text/html"}, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def admin(ui_server: UIServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ui_server.url, cookies={"slipway_token": ui_server.tokens["admin"]}, timeout=30) as c:
        yield c


def _csrf(client: httpx.Client) -> str:
    client.get("/login")
    token = client.cookies.get("slipway_csrf")
    assert token
    return token


def test_home_has_the_nav_bar_and_each_section(admin: httpx.Client) -> None:
    page = admin.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for href in ("/experiments", "/models", "/pipelines", "/endpoints", "/monitoring", "/datasets", "/lineage"):
        assert f'href="{href}"' in page.text
    for section in ("executions", "pending", "endpoints", "alarms"):
        assert f'id="{section}"' in page.text


def test_the_api_and_its_docs_stay_where_they_were(admin: httpx.Client) -> None:
    assert admin.get("/health").json() == {"status": "ok"}
    assert admin.get("/api/v1/version").status_code == 200
    paths = admin.get("/openapi.json").json()["paths"]
    assert "/api/v1/runs/search" in paths
    assert not any(path == "/" or path.startswith(("/login", "/experiments", "/models")) for path in paths)
    assert admin.get("/docs").status_code == 200


def test_a_page_without_login_sends_the_browser_to_the_login_page(anonymous: httpx.Client) -> None:
    answer = anonymous.get("/models?name=x", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")
    assert anonymous.get("/login").status_code == 200


def test_login_keeps_the_token_in_an_httponly_strict_cookie(anonymous: httpx.Client, ui_server: UIServer) -> None:
    token = ui_server.tokens["viewer"]
    answer = anonymous.post(
        "/login", data={"token": token, "next": "/models", "csrf_token": _csrf(anonymous)}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/models"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("slipway_token=slw_") and token not in cookie  # a session, not the API token
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    anonymous.cookies.delete("slipway_token")


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "\\\\evil", ""])
def test_login_never_redirects_off_site(anonymous: httpx.Client, ui_server: UIServer, target: str) -> None:
    token = ui_server.tokens["viewer"]
    answer = anonymous.post(
        "/login", data={"token": token, "next": target, "csrf_token": _csrf(anonymous)}, follow_redirects=False
    )
    assert answer.headers["location"] == "/"
    anonymous.cookies.delete("slipway_token")


def test_an_empty_token_is_refused_with_a_message(anonymous: httpx.Client) -> None:
    answer = anonymous.post("/login", data={"token": "  ", "csrf_token": _csrf(anonymous)})
    assert answer.status_code == 400
    assert "slipway tokens create" in answer.text


def test_a_form_post_without_the_csrf_token_is_refused(anonymous: httpx.Client) -> None:
    _csrf(anonymous)
    missing = anonymous.post("/login", data={"token": "tok"}, follow_redirects=False)
    forged = anonymous.post("/login", data={"token": "tok", "csrf_token": "guess"}, follow_redirects=False)
    for answer in (missing, forged):
        assert answer.status_code == 403
        assert answer.headers["content-type"].startswith("text/html")
        assert "CSRF" in answer.text
        assert "slipway_token" not in answer.headers.get("set-cookie", "")


def test_static_files_are_served_and_cannot_be_escaped(anonymous: httpx.Client) -> None:
    css = anonymous.get("/static/slipway.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert anonymous.get("/static/slipway.js").headers["content-type"].startswith("text/javascript")
    assert anonymous.get("/static/%2e%2e/_render.py").status_code == 404
    assert anonymous.get("/static/..%2f_render.py").status_code == 404
    assert anonymous.get("/static/nothing.css").status_code == 404


def test_an_unknown_object_is_an_html_404_in_the_layout(admin: httpx.Client) -> None:
    answer = admin.get("/runs/no-such-run")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert '<a class="brand" href="/">Slipway</a>' in answer.text


def test_logging_in_and_out_in_a_browser(browse: Browse, ui_server: UIServer) -> None:
    page = browse.page(role=None)
    page.goto("/models")
    assert "/login?next=" in page.url
    browse.screenshot(page, "login")
    page.fill("input[name=token]", ui_server.tokens["viewer"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/models")
    assert page.locator(".principal").inner_text() == ui_server.user("viewer")
    assert page.get_by_role("link", name="Audit").count() == 0  # the audit log is for admins
    session = next(c["value"] for c in page.context.cookies(ui_server.url) if c["name"] == "slipway_token")
    page.get_by_role("button", name="Renew session").click()
    page.wait_for_url("**/models")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    assert page.context.cookies(ui_server.url) and all(c["name"] != "slipway_token"
                                                       for c in page.context.cookies(ui_server.url))
    # logging out revoked the session on the server: a copy of the cookie is worth nothing now
    stolen = httpx.get(f"{ui_server.url}/api/v1/me", cookies={"slipway_token": session}, timeout=30)
    assert stolen.status_code == 401 and "revoked" in stolen.text
