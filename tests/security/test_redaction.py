"""Secret-looking params and tags: *** in API and CLI output unless an admin asks to reveal them."""

from __future__ import annotations

import json

import httpx
import pytest
from _server import LiveServer
from typer.testing import CliRunner

from slipway import Client
from slipway._backend import Backend
from slipway._principal import Principal, acting_as
from slipway._redact import REDACTED, check_reveal, is_secret_key, redact_mapping, redact_record
from slipway.cli import app as cli_app
from slipway.errors import PermissionDenied


@pytest.mark.parametrize("key", [
    "password", "db_password", "DB_PASSWORD", "openaiApiKey", "api-key", "aws_secret_access_key", "github.token",
    "auth", "Authorization", "dbpassword", "SECRET", "private key", "sentry_dsn", "credentials",
])
def test_secret_looking_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["lr", "max_tokens", "n_estimators", "author", "monkey_business", "tokenizer", "keys"])
def test_ordinary_keys(key: str) -> None:
    assert not is_secret_key(key)


def test_runs_pages_and_comparisons_are_redacted(tmp_path: object) -> None:
    with Client(home=str(tmp_path)) as client:
        t = client.tracking
        a, b = t.create_run(tags={"deploy_token": "ghp_x"}), t.create_run()
        t.log_batch(a.id, params={"lr": "0.1", "db_password": "hunter2"})
        t.log_batch(b.id, params={"lr": "0.2"})
        run = redact_record(t.get_run(a.id))
        assert run.params == {"lr": "0.1", "db_password": REDACTED} and run.tags["deploy_token"] == REDACTED
        page = redact_record(t.search_runs(None))
        assert {r.params.get("db_password") for r in page.runs} == {REDACTED, None}
        compared = redact_record(t.compare_runs([a.id, b.id]))
        assert compared.params["db_password"] == [REDACTED, None] and compared.params["lr"] == ["0.1", "0.2"]
        assert t.get_run(a.id).params["db_password"] == "hunter2"  # stored as given
        assert redact_record(t.get_run(a.id), reveal=True).params["db_password"] == "hunter2"


def test_only_an_admin_may_reveal() -> None:
    assert redact_mapping({"token": "t"}) == {"token": REDACTED}
    with acting_as(Principal("vera", frozenset({"viewer", "scientist"}), source="test")):
        assert check_reveal(False) is False
        with pytest.raises(PermissionDenied) as caught:
            check_reveal(True)
    assert caught.value.field == "reveal_secrets"
    with acting_as(Principal("ada", frozenset({"admin"}), source="test")):
        assert check_reveal(True) is True


def test_the_rest_api_redacts_unless_an_admin_asks(api: httpx.Client, run_id: str) -> None:
    api.post(f"/runs/{run_id}/params", json={"key": "db_password", "value": "hunter2"}).raise_for_status()
    api.post(f"/runs/{run_id}/tags", json={"key": "slack.webhook_token", "value": "xoxb-1"}).raise_for_status()
    shown = api.get(f"/runs/{run_id}").json()
    assert shown["params"]["db_password"] == REDACTED and shown["tags"]["slack.webhook_token"] == REDACTED
    assert "hunter2" not in json.dumps(api.post("/runs/search", json={}).json())
    assert "hunter2" not in api.post("/runs/compare", json={"run_ids": [run_id]}).text
    revealed = api.get(f"/runs/{run_id}", params={"reveal_secrets": "true"}).json()
    assert revealed["params"]["db_password"] == "hunter2"  # ``api`` is the server's admin


def test_a_viewer_sees_redacted_values_and_may_not_reveal(hardened: LiveServer, api: httpx.Client,
                                                          run_id: str) -> None:
    api.post(f"/runs/{run_id}/params", json={"key": "db_password", "value": "hunter2"}).raise_for_status()
    backend = Backend(hardened.settings)  # users are made embedded, where the local user is trusted
    try:
        backend.security.create_user("vera-viewer", ["viewer"])
        token = backend.security.create_token("vera-viewer").secret
    finally:
        backend.close()
    viewer = httpx.Client(base_url=f"{hardened.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    with viewer:
        shown = viewer.get(f"/runs/{run_id}")
        refused = viewer.get(f"/runs/{run_id}", params={"reveal_secrets": "true"})
    assert shown.status_code == 200 and shown.json()["params"]["db_password"] == REDACTED
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["field"] == "reveal_secrets" and "hunter2" not in refused.text


def test_the_cli_redacts_unless_asked(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_HOME", str(tmp_path))
    with Client() as client:
        run = client.tracking.create_run()
        client.tracking.log_param(run.id, "api_key", "sk-123")
    runner = CliRunner()
    shown = runner.invoke(cli_app, ["runs", "show", run.id, "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["params"]["api_key"] == REDACTED
    revealed = runner.invoke(cli_app, ["runs", "show", run.id, "--json", "--reveal-secrets"])
    assert json.loads(revealed.output)["params"]["api_key"] == "sk-123"  # embedded: the local user is an admin


def test_the_cli_in_remote_mode_asks_the_server_to_reveal(hardened: LiveServer, api: httpx.Client, run_id: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    api.post(f"/runs/{run_id}/params", json={"key": "db_password", "value": "hunter2"}).raise_for_status()
    monkeypatch.setenv("SLIPWAY_SERVER_URL", hardened.url)
    monkeypatch.setenv("SLIPWAY_TOKEN", hardened.token)
    runner = CliRunner()
    shown = runner.invoke(cli_app, ["runs", "show", run_id, "--json"])
    assert json.loads(shown.output)["params"]["db_password"] == REDACTED
    revealed = runner.invoke(cli_app, ["runs", "show", run_id, "--json", "--reveal-secrets"])
    assert json.loads(revealed.output)["params"]["db_password"] == "hunter2"  # the server's admin asked
    listed = runner.invoke(cli_app, ["runs", "list", "--json", "--reveal-secrets"])
    assert "hunter2" in listed.output
    backend = Backend(hardened.settings)
    try:
        backend.security.create_user("sam-scientist", ["scientist"])
        token = backend.security.create_token("sam-scientist").secret
    finally:
        backend.close()
    monkeypatch.setenv("SLIPWAY_TOKEN", token)
    refused = runner.invoke(cli_app, ["runs", "show", run_id, "--reveal-secrets"])
    assert refused.exit_code == 3 and "only an admin may reveal" in refused.output
