"""Users, tokens and the audit trail through a real server: the remote client and the CLI in remote mode."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from _server import LiveServer, live_server
from typer.testing import CliRunner

from slipway import Client
from slipway.cli import app as cli_app
from slipway.errors import PermissionDenied, Unauthenticated

__all__ = ["live_server"]


def test_an_admin_onboards_a_user_remotely_and_the_user_acts_with_their_roles(live_server: LiveServer) -> None:
    with live_server.client() as admin:
        made = admin.security.create_user("remote-sci", ["scientist"])
        token = admin.security.create_token("remote-sci", name="laptop", expires_in=dt.timedelta(days=1))
        assert made.roles == ["scientist"] and token.token.expires_at is not None
    with Client(server_url=live_server.url, token=token.secret) as sci:
        me = sci.security.whoami()
        assert (me.name, me.roles, me.source) == ("remote-sci", ["scientist"], "127.0.0.1")
        run = sci.tracking.create_run(name="mine")
        assert sci.tracking.get_run(run.id).user == "remote-sci"
        with pytest.raises(PermissionDenied, match="admin permission"):
            sci.security.create_user("sock-puppet", ["admin"])
        with pytest.raises(PermissionDenied, match="audit permission"):
            sci.security.audit_entries()
        assert [t.name for t in sci.security.list_tokens()] == ["laptop"]
        sci.security.revoke_token(token.token.id)
        with pytest.raises(Unauthenticated, match="revoked"):
            sci.security.whoami()


def test_the_cli_manages_users_and_reads_the_audit_remotely(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_SERVER_URL", live_server.url)
    monkeypatch.setenv("SLIPWAY_TOKEN", live_server.token)
    runner = CliRunner()
    created = runner.invoke(cli_app, ["users", "create", "remote-viewer", "--role", "viewer"])
    assert created.exit_code == 0, created.output
    made = runner.invoke(cli_app, ["tokens", "create", "--user", "remote-viewer", "--json"])
    assert json.loads(made.stdout)["secret"].startswith("slw_")
    disabled = runner.invoke(cli_app, ["users", "disable", "remote-viewer"])
    assert disabled.exit_code == 0 and "disabled" in disabled.stdout
    trail = json.loads(runner.invoke(cli_app, ["audit", "list", "--object", "remote-viewer", "--json"]).stdout)
    assert [(e["action"], e["actor"]) for e in trail] == [("user.create", live_server.user),
                                                          ("user.disable", live_server.user)]
    assert trail[0]["source"] == "127.0.0.1"
    assert runner.invoke(cli_app, ["audit", "verify"]).exit_code == 0
    monkeypatch.setenv("SLIPWAY_TOKEN", "slw_wrong")
    refused = runner.invoke(cli_app, ["users", "list"])
    assert refused.exit_code == 3 and "not valid" in refused.stderr


def test_a_client_without_a_token_is_told_where_one_goes(live_server: LiveServer) -> None:
    with Client(server_url=live_server.url) as anonymous, pytest.raises(Unauthenticated) as refused:
        anonymous.tracking.list_experiments()
    assert "set SLIPWAY_TOKEN" in refused.value.message and "API token" in str(refused.value)
