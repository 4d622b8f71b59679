"""Authentication and the rules around it: tokens missing, wrong, expired or revoked; disabled
users; escalating one's own rights; approving one's own model; ``--no-auth`` off loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _secured import SecuredApp, secured
from fastapi.testclient import TestClient
from sklearn.linear_model import LinearRegression
from sqlalchemy import select, update
from typer.testing import CliRunner

from slipway import load_settings
from slipway._backend import Backend
from slipway._principal import Principal, acting_as
from slipway.cli import app as cli_app
from slipway.models import save_model
from slipway.security._tables import api_tokens
from slipway.security._tokens import token_hash
from slipway.server import create_app

__all__ = ["secured"]


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    X = np.array([[0.0], [1.0], [2.0]])
    folder = tmp_path_factory.mktemp("package") / "line"
    save_model(LinearRegression().fit(X, [1.0, 3.0, 5.0]), folder, input_example=X)
    return folder


def _refused(answer: object, status: int, words: str) -> None:
    assert answer.status_code == status, answer.text  # type: ignore[attr-defined]
    body = answer.json()  # type: ignore[attr-defined]
    assert words in body["error"]["message"]
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Bearer")  # type: ignore[attr-defined]


def test_a_call_without_a_token_is_401_naming_the_header(secured: SecuredApp) -> None:
    _refused(secured.http.get("/api/v1/runs/x"), 401, "Authorization: Bearer")
    _refused(secured.http.post("/api/v1/experiments", json={"name": "e"}), 401, "API token")
    _refused(secured.http.get("/metrics"), 401, "API token")  # the data plane too
    _refused(secured.http.post("/endpoints/e/invocations", json={}), 401, "API token")


def test_health_and_the_api_description_stay_open(secured: SecuredApp) -> None:
    assert secured.http.get("/health").json() == {"status": "ok"}
    assert secured.http.get("/openapi.json").status_code == 200


def test_a_wrong_token_is_401_and_says_invalid(secured: SecuredApp) -> None:
    for header in ("Bearer slw_not-a-token", "Bearer " + secured.tokens["viewer"][:-1]):
        answer = secured.http.get("/api/v1/experiments", headers={"Authorization": header})
        _refused(answer, 401, "not valid")
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    # the scheme must be Bearer: Basic or a bare token is no token
    _refused(secured.http.get("/api/v1/experiments", headers={"Authorization": secured.tokens["viewer"]}), 401, "API")


def test_the_ui_cookie_carries_the_same_token(secured: SecuredApp) -> None:
    local, token = "http://localhost", secured.tokens["scientist"]
    with TestClient(secured.http.app, base_url=local, cookies={"slipway_token": token}) as browser:
        assert browser.get("/api/v1/me").json()["name"] == "scientist"
    with TestClient(secured.http.app, base_url=local, cookies={"slipway_token": "slw_stale"}) as browser:
        _refused(browser.get("/api/v1/me"), 401, "not valid")
        assert browser.get("/login").status_code == 200  # a stale cookie must not lock anyone out of logging in


def test_a_browser_without_a_login_is_sent_to_the_login_page(secured: SecuredApp) -> None:
    answer = secured.http.get("/models", headers={"Accept": "text/html"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/models"


def test_an_expired_token_is_401(secured: SecuredApp) -> None:
    token = secured.add_user("short-lived", "viewer")
    assert secured.http.get("/api/v1/me", headers=secured.auth("short-lived")).status_code == 200
    with secured.backend.db.write() as conn:  # its expiry passes
        conn.execute(update(api_tokens).where(api_tokens.c.hash == token_hash(token)).values(expires_at=1))
    _refused(secured.http.get("/api/v1/me", headers=secured.auth("short-lived")), 401, "expired")


def test_a_revoked_token_is_401_and_others_of_the_user_still_work(secured: SecuredApp) -> None:
    secured.add_user("rita", "scientist")
    spare = secured.http.post("/api/v1/tokens", json={"name": "spare"}, headers=secured.auth("rita")).json()
    revoked = secured.http.post(f"/api/v1/tokens/{spare['token']['id']}/revoke", headers=secured.auth("rita"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    _refused(secured.http.get("/api/v1/me", headers={"Authorization": f"Bearer {spare['secret']}"}), 401, "revoked")
    assert secured.http.get("/api/v1/me", headers=secured.auth("rita")).status_code == 200


def test_a_disabled_users_tokens_stop_working_at_once(secured: SecuredApp) -> None:
    secured.add_user("dora", "scientist")
    assert secured.http.get("/api/v1/me", headers=secured.auth("dora")).status_code == 200
    answer = secured.http.patch("/api/v1/users/dora", json={"disabled": True}, headers=secured.auth("admin"))
    assert answer.status_code == 200 and answer.json()["disabled"] is True
    _refused(secured.http.get("/api/v1/me", headers=secured.auth("dora")), 401, "dora is disabled")


def test_tokens_are_stored_only_as_hashes(secured: SecuredApp) -> None:
    made = secured.http.post("/api/v1/tokens", json={"name": "ci"}, headers=secured.auth("viewer")).json()
    assert made["secret"].startswith("slw_") and len(made["secret"]) >= 40
    with secured.backend.db.read() as conn:
        stored = conn.execute(select(api_tokens.c.hash).where(api_tokens.c.id == made["token"]["id"])).scalar_one()
    assert stored == token_hash(made["secret"]) and made["secret"] not in stored
    listed = secured.http.get("/api/v1/tokens", headers=secured.auth("viewer")).text
    assert made["token"]["id"] in listed and made["secret"] not in listed


def test_nobody_raises_their_own_rights(secured: SecuredApp) -> None:
    scientist = secured.auth("scientist")
    _refused(secured.http.patch("/api/v1/users/scientist", json={"roles": ["admin"]}, headers=scientist), 403, "admin")
    _refused(secured.http.post("/api/v1/users", json={"name": "sock", "roles": ["admin"]}, headers=scientist),
             403, "admin")
    _refused(secured.http.post("/api/v1/tokens", json={"user": "admin"}, headers=scientist), 403, "admin")
    _refused(secured.http.get("/api/v1/tokens", params={"user": "*"}, headers=scientist), 403, "admin")
    admins_token = secured.backend.security.list_tokens("admin")[0].id
    _refused(secured.http.post(f"/api/v1/tokens/{admins_token}/revoke", headers=scientist), 404, "among yours")
    assert secured.backend.security.list_tokens("admin")[0].revoked_at is None
    assert secured.http.get("/api/v1/me", headers=scientist).json()["roles"] == ["scientist"]


def test_an_admin_cannot_lock_themselves_out(secured: SecuredApp) -> None:
    answer = secured.http.patch("/api/v1/users/admin", json={"disabled": True}, headers=secured.auth("admin"))
    _refused(answer, 409, "another admin")


def test_production_endpoints_are_for_approvers(secured: SecuredApp) -> None:
    body = {"name": "prod-endpoint", "variants": [], "production": True}
    _refused(secured.http.post("/api/v1/endpoints", json=body, headers=secured.auth("scientist")), 403,
             "deploy_production")
    # past the permission check, the approver meets the service's own validation of the variants
    answer = secured.http.post("/api/v1/endpoints", json=body, headers=secured.auth("approver"))
    assert answer.status_code not in (401, 403), answer.text


def test_separation_of_duties_refuses_self_approval(secured: SecuredApp, package: Path) -> None:
    """Carol (scientist and approver) registers a version and may not approve it; Dave, another approver, may."""
    secured.add_user("carol", "scientist", "approver")
    secured.add_user("dave", "approver")
    group = "fraud"
    with acting_as(Principal("carol", frozenset({"scientist", "approver"}), source="test")):
        secured.backend.registry.register_model(group, package)
    status_url = f"/api/v1/model-groups/{group}/versions/1/status"
    _refused(secured.http.post(status_url, json={"status": "Approved"}, headers=secured.auth("carol")), 403,
             "registered this version")
    _refused(secured.http.post(status_url, json={"status": "Approved"}, headers=secured.auth("scientist")), 403,
             "approve")
    for who, words in (("scientist", "approve"), ("carol", "may not give it the alias 'prod'")):
        _refused(secured.http.put(f"/api/v1/model-groups/{group}/aliases/prod", json={"version": 1},
                                  headers=secured.auth(who)), 403, words)
    approved = secured.http.post(status_url, json={"status": "Approved"}, headers=secured.auth("dave"))
    assert approved.status_code == 200 and approved.json()["status"] == "Approved"
    history = secured.http.get(f"{status_url}-history", headers=secured.auth("viewer")).json()
    assert history[-1]["changed_by"] == "dave"


def test_separation_of_duties_can_be_turned_off(tmp_path: Path, package: Path) -> None:
    settings = load_settings(env={"SLIPWAY_SEPARATION_OF_DUTIES": "false"}, cwd=tmp_path, home=str(tmp_path))
    backend = Backend(settings)
    try:
        app = create_app(backend)
        backend.security.create_user("solo", ["scientist", "approver"])
        token = backend.security.create_token("solo").secret
        with acting_as(Principal("solo", frozenset({"scientist", "approver"}))):
            backend.registry.register_model("g", package)
        with TestClient(app, base_url="http://localhost") as http:
            answer = http.post("/api/v1/model-groups/g/versions/1/status", json={"status": "Approved"},
                               headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
    finally:
        backend.close()


@pytest.fixture
def no_auth_app(tmp_path: Path) -> Iterator[TestClient]:
    backend = Backend(load_settings(env={}, cwd=tmp_path, home=str(tmp_path)))
    try:
        with TestClient(create_app(backend, auth=False), base_url="http://localhost") as http:
            yield http
    finally:
        backend.close()


def test_no_auth_acts_as_the_admin_anonymous(no_auth_app: TestClient) -> None:
    me = no_auth_app.get("/api/v1/me").json()
    assert me["name"] == "anonymous" and "admin" in me["roles"]
    assert no_auth_app.post("/api/v1/experiments", json={"name": "dev"}).json()["created_by"] == "anonymous"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_no_auth_is_refused_off_loopback(host: str) -> None:
    result = CliRunner().invoke(cli_app, ["server", "--host", host, "--no-auth"])
    assert result.exit_code == 2
    assert "--no-auth is only allowed on a loopback address" in result.output
    assert host in result.output
