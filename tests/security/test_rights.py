"""Rights end when they are taken away: automations act with their creator's current roles, sessions end.

Each test attacks a live ``slipway server``: a user sets up a hook, a rule or a schedule, loses their
rights (demoted, disabled, deleted), and the automation must stop acting, visibly (the run says why,
the audit trail records the refusal). Logging out must revoke the session on the server, a web UI
session must expire, and its renewal happens only when asked for.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from _server import LiveServer, running_server
from _serving_models import write_line
from sqlalchemy import delete, update

from slipway import load_settings
from slipway._backend import Backend
from slipway.automation import sign_hook
from slipway.automation._tables import automation_schedules
from slipway.security._tables import users

SESSION_TTL_S = 3  # short, so the test sees a session expire
SESSION_MAX_AGE_S = 6


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("rights")
    settings = load_settings(env={"SLIPWAY_SESSION_TTL": str(SESSION_TTL_S),
                                  "SLIPWAY_SESSION_MAX_AGE": str(SESSION_MAX_AGE_S)}, cwd=home, home=str(home))
    with running_server(settings) as live:
        yield live


@pytest.fixture(scope="module")
def backend(server: LiveServer) -> Iterator[Backend]:
    """The server's engines, read and seeded embedded (as the trusted local user)."""
    made = Backend(server.settings)
    yield made
    made.close()


@pytest.fixture(scope="module")
def group(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A model group with three versions, for hooks and rules to move an alias between."""
    package = write_line(tmp_path_factory.mktemp("rights-package") / "line")
    for _ in range(3):
        backend.registry.register_model("rights", package)
    return "rights"


def _user(server: LiveServer, name: str, *roles: str) -> httpx.Client:
    """A new user made by the admin over REST, and an HTTP client acting as them."""
    with httpx.Client(base_url=f"{server.url}/api/v1", headers=server.headers, timeout=30) as admin:
        admin.post("/users", json={"name": name, "roles": list(roles)}).raise_for_status()
        secret = admin.post("/tokens", json={"user": name}).raise_for_status().json()["secret"]
    return httpx.Client(base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {secret}"}, timeout=30)


def _admin(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=f"{server.url}/api/v1", headers=server.headers, timeout=30)


def _set_user(server: LiveServer, name: str, **change: object) -> None:
    with _admin(server) as admin:
        admin.patch(f"/users/{name}", json=change).raise_for_status()


def _alias(backend: Backend, group: str, alias: str) -> int | None:
    found = [v.version for v in backend.registry.list_versions(group) if alias in v.aliases]
    return found[0] if found else None


def _refusals(server: LiveServer, kind: str) -> list[dict[str, object]]:
    with _admin(server) as admin:
        return [e for e in admin.get("/audit", params={"limit": 10_000}).json() if e["action"] == f"{kind}.refused"]


def _ended_run(server: LiveServer, run_id: str) -> dict[str, object]:
    """The automation run ``run_id`` once it has ended (Succeeded or Failed)."""
    def ended() -> dict[str, object] | None:
        with _admin(server) as admin:
            run = admin.get(f"/automation/runs/{run_id}").raise_for_status().json()
        return dict(run) if run["status"] in ("Succeeded", "Failed") else None

    found = _wait_for(ended, f"automation run {run_id} to end")
    assert isinstance(found, dict)
    return found


def _wait_for(check: Callable[[], object], what: str, timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def test_a_demoted_or_disabled_users_hook_stops_moving_aliases(server: LiveServer, backend: Backend,
                                                               group: str) -> None:
    with _user(server, "hooker", "scientist") as hooker:
        made = hooker.post("/hooks", json={"name": "promote", "action": {
            "kind": "move_alias", "group": group, "alias": "staging", "version": "{event.version}"}})
        secret = made.raise_for_status().json()["secret"]

    def call(version: int) -> dict[str, object]:
        body = json.dumps({"version": version}).encode()
        answer = httpx.post(f"{server.url}/hooks/promote", content=body, headers=sign_hook(secret, body), timeout=30)
        assert answer.status_code == 202, answer.text
        return _ended_run(server, answer.json()["id"])  # accepted at once; the action runs after the answer

    assert call(1)["status"] == "Succeeded" and _alias(backend, group, "staging") == 1

    _set_user(server, "hooker", roles=["viewer"])  # demoted: may no longer write
    refused = call(2)
    assert refused["status"] == "Failed" and "write permission" in str(refused["error"]), refused
    assert _alias(backend, group, "staging") == 1, "a demoted user's hook moved the alias"

    _set_user(server, "hooker", roles=["scientist"], disabled=True)
    refused = call(3)
    assert refused["status"] == "Failed" and "hooker is disabled" in str(refused["error"]), refused
    assert _alias(backend, group, "staging") == 1, "a disabled user's hook moved the alias"

    audit = _refusals(server, "hook")
    assert [e["actor"] for e in audit] == ["hooker", "hooker"] and all(e["source"] == "hook:promote" for e in audit)
    assert "write permission" in str(audit[0]["details"]) and "disabled" in str(audit[1]["details"])


def test_a_deleted_users_rule_does_not_act(server: LiveServer, backend: Backend, group: str) -> None:
    with _user(server, "ruler", "scientist") as ruler:
        ruler.post("/rules", json={"name": "follow", "event": "model_version.alias_moved",
                                   "filters": {"alias": "candidate"},
                                   "action": {"kind": "move_alias", "group": "{event.group}", "alias": "shadow",
                                              "version": "{event.version}"}}).raise_for_status()
    with backend.db.write() as conn:  # gone, as a user removed from the database is
        conn.execute(delete(users).where(users.c.name == "ruler"))
    backend.registry.set_alias(group, "candidate", 2)

    def history() -> list[dict[str, object]]:
        with _admin(server) as admin:
            admin.post("/automation/dispatch").raise_for_status()
            return [r for r in admin.get("/rules/follow/history").json() if r["status"] == "Failed"]

    runs = _wait_for(history, "the rule's refused run")
    assert "ruler no longer exists" in str(runs[0]["error"])  # type: ignore[index]
    assert _alias(backend, group, "shadow") is None, "a deleted user's rule moved an alias"
    assert [e["actor"] for e in _refusals(server, "rule")] == ["ruler"]


def test_a_disabled_users_schedule_does_not_act(server: LiveServer, backend: Backend, group: str) -> None:
    with _user(server, "cron", "scientist") as cron:
        cron.post("/schedules", json={"name": "nightly", "cron": "0 3 * * *", "action": {
            "kind": "move_alias", "group": group, "alias": "nightly", "version": 3}}).raise_for_status()
    _set_user(server, "cron", disabled=True)
    with backend.db.write() as conn:  # due now, rather than at 03:00
        conn.execute(update(automation_schedules).where(automation_schedules.c.name == "nightly").values(next_run_at=0))

    def history() -> list[dict[str, object]]:
        with _admin(server) as admin:
            admin.post("/automation/run-due").raise_for_status()
            return list(admin.get("/schedules/nightly/history").json())

    runs = _wait_for(history, "the schedule's run")
    assert runs[0]["status"] == "Failed" and "cron is disabled" in str(runs[0]["error"])  # type: ignore[index]
    assert _alias(backend, group, "nightly") is None
    assert [e["actor"] for e in _refusals(server, "schedule")] == ["cron"]


def test_a_disabled_users_tokens_stop_at_once(server: LiveServer) -> None:
    with _user(server, "leaver", "scientist") as leaver:
        assert leaver.get("/me").status_code == 200
        _set_user(server, "leaver", disabled=True)
        refused = leaver.get("/me")
        assert refused.status_code == 401 and "disabled" in refused.text


# ------------------------------------------------------------------------------------------- sessions


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def _post_login(browser: httpx.Client, token: str) -> httpx.Response:
    """Post the login form as a browser would (after loading the page, which sets the CSRF cookie)."""
    csrf = _csrf(browser.get("/login").text)
    return browser.post("/login", data={"token": token, "next": "/", "csrf_token": csrf})


@contextlib.contextmanager
def _login(server: LiveServer, api_token: str) -> Iterator[httpx.Client]:
    """A client logged in through the web UI's form; it keeps the cookies it is given."""
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        answer = _post_login(browser, api_token)
        assert answer.status_code == 303, answer.text
        yield browser


def _api_token(server: LiveServer, name: str) -> str:
    with _admin(server) as admin:
        admin.post("/users", json={"name": name, "roles": ["viewer"]}).raise_for_status()
        return str(admin.post("/tokens", json={"user": name}).raise_for_status().json()["secret"])


def _me(server: LiveServer, token: str) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_ui_login_holds_a_session_token_that_logging_out_revokes(server: LiveServer) -> None:
    api_token = _api_token(server, "browser-user")
    with _login(server, api_token) as browser:
        session = browser.cookies["slipway_token"]
        assert session != api_token, "the browser must not hold the API token itself"
        assert _me(server, session).status_code == 200
        assert browser.post("/logout", data={"csrf_token": _csrf(browser.get("/").text)}).status_code == 303
    stolen = _me(server, session)  # a copy of the cookie taken before logging out
    assert stolen.status_code == 401 and "revoked" in stolen.text
    assert _me(server, api_token).status_code == 200  # the API token is the user's, not the session's


def test_api_logout_revokes_the_calling_token(server: LiveServer) -> None:
    token = _api_token(server, "api-leaver")
    answer = httpx.post(f"{server.url}/api/v1/logout", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200 and answer.json()["revoked_at"] is not None
    assert _me(server, token).status_code == 401


def test_sessions_expire_and_are_renewed_only_when_asked_up_to_max_age(server: LiveServer) -> None:
    api_token = _api_token(server, "sleeper")
    with _login(server, api_token) as browser:
        session = browser.cookies["slipway_token"]
    bearer = {"Authorization": f"Bearer {session}"}
    with httpx.Client(base_url=f"{server.url}/api/v1", headers=bearer, timeout=30) as api:
        mine = [t for t in api.get("/tokens").json() if t["kind"] == "session"]
        assert len(mine) == 1
        lifetime = _seconds(mine[0]["expires_at"]) - _seconds(mine[0]["created_at"])
        assert lifetime == pytest.approx(SESSION_TTL_S, abs=0.5)
        renewed = api.post("/session/renew").json()  # explicit renewal: the session lasts a TTL from now
        assert _seconds(renewed["expires_at"]) > _seconds(mine[0]["expires_at"])
        _wait_for(lambda: api.get("/me").status_code == 401, "the session to expire", timeout=SESSION_TTL_S * 5)
        assert "expired" in api.get("/me").text
    with httpx.Client(base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {api_token}"},
                      timeout=30) as api:
        refused = api.post("/session/renew")  # an API token is not a session
        assert refused.status_code == 409 and "API token" in refused.text


def test_a_session_is_not_renewed_past_max_age_nor_used_to_start_another(server: LiveServer) -> None:
    api_token = _api_token(server, "marathon")
    with _login(server, api_token) as browser:
        session = browser.cookies["slipway_token"]
    with httpx.Client(base_url=server.url, timeout=30) as again:  # a session cannot start another session
        refused = _post_login(again, session)
        assert refused.status_code == 401 and "slipway_token" not in again.cookies
    bearer = {"Authorization": f"Bearer {session}"}
    with httpx.Client(base_url=f"{server.url}/api/v1", headers=bearer, timeout=30) as api:
        created = _seconds(api.get("/tokens").json()[0]["created_at"])

        def renew_until_refused() -> bool:
            answer = api.post("/session/renew")
            if answer.status_code == 200:
                assert _seconds(answer.json()["expires_at"]) <= created + SESSION_MAX_AGE_S + 0.001
            return answer.status_code == 401

        _wait_for(renew_until_refused, "renewals to stop at session_max_age", timeout=SESSION_MAX_AGE_S * 3)
        assert time.time() >= created + SESSION_MAX_AGE_S - 0.5, "the session ended before session_max_age"


def _seconds(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()
