"""The audit log page: for those with the audit permission, filtered, with the chain's check; and logging in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest
from _server import serving
from _ui import UIServer

from slipway._backend import Backend
from slipway.server import create_app


def _client(ui_server: UIServer, role: str) -> httpx.Client:
    return httpx.Client(base_url=ui_server.url, cookies={"slipway_token": ui_server.tokens[role]}, timeout=30)


@pytest.fixture(scope="module")
def admin(ui_server: UIServer) -> Iterator[httpx.Client]:
    with _client(ui_server, "admin") as client:
        yield client


def test_the_audit_log_lists_changes_with_who_and_from_where(admin: httpx.Client, ui_server: UIServer) -> None:
    experiment = ui_server.backend.tracking.create_experiment("audited-from-the-ui-test")
    page = admin.get("/audit", params={"limit": 2000})  # other tests' changes come first, newest first
    assert page.status_code == 200
    assert "experiment.create" in page.text and "user.create" in page.text
    assert '<code>after={"roles": ["viewer"]}</code>' in page.text  # details as JSON (tojson escapes <, >, &)
    one = admin.get("/audit", params={"object_id": experiment.id})
    assert one.text.count("<code>experiment.create</code>") == 1
    nobody = admin.get("/audit", params={"user": "<script>alert(1)</script>"})
    assert "No entry matches." in nobody.text
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in nobody.text


def test_the_audit_log_filters_by_day(admin: httpx.Client) -> None:
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%d")
    assert "No entry matches." in admin.get("/audit", params={"since": tomorrow}).text
    assert "No entry matches." not in admin.get("/audit", params={"until": tomorrow}).text
    bad = admin.get("/audit", params={"since": "31/01/2026"})
    assert bad.status_code == 400 and "since must be a date" in bad.text
    assert admin.get("/audit", params={"limit": 7}).status_code == 400


def test_verify_walks_the_chain(admin: httpx.Client) -> None:
    page = admin.get("/audit", params={"verify": "true"})
    assert 'id="chain" class="ok"' in page.text and "The chain holds" in page.text


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("scientist", 403), ("approver", 200), ("admin", 200)])
def test_only_roles_with_the_audit_permission_read_it(ui_server: UIServer, role: str, status: int) -> None:
    with _client(ui_server, role) as client:
        page = client.get("/audit")
        home = client.get("/")
    assert page.status_code == status
    assert ('href="/audit"' in home.text) is (role == "admin")  # the nav shows it to admins


def test_logging_in_with_a_wrong_or_revoked_token_says_why(ui_server: UIServer) -> None:
    security = ui_server.backend.security
    revoked = security.create_token(ui_server.user("viewer"), name="revoked-for-ui")
    security.revoke_token(revoked.token.id)
    with httpx.Client(base_url=ui_server.url, timeout=30) as client:
        client.get("/login")
        for token, reason in (("slw_not-a-token", "not valid"), (revoked.secret, "revoked")):
            answer = client.post("/login", data={"token": token, "csrf_token": client.cookies["slipway_csrf"]})
            assert answer.status_code == 401 and reason in answer.text
            assert "slipway_token" not in answer.headers.get("set-cookie", "")


def test_without_authentication_there_is_nothing_to_log_in_to(ui_server: UIServer) -> None:
    backend: Backend = ui_server.backend
    with serving(create_app(backend, auth=False)) as url, httpx.Client(base_url=url, timeout=30) as client:
        login = client.get("/login")
        home = client.get("/")
    assert 'id="no-auth"' in login.text and "<form" not in login.text.split("</header>")[1]
    assert ">anonymous<" in home.text and 'href="/login"' not in home.text
