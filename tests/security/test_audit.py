"""The audit trail: who changed what, from where and when; filters; a tampered or removed row is detected.

The chain checks run on SQLite and PostgreSQL (the ``db`` fixture); ``slipway audit`` runs
embedded against the same database, as an operator on the server's machine would.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from _secured import SecuredApp, secured
from click.testing import Result
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from slipway._principal import Principal, acting_as
from slipway.cli import app as cli_app
from slipway.events._record import GENESIS_HASH, audit_hash
from slipway.events._tables import audit_events
from slipway.security import SecurityService
from slipway.store import Database

__all__ = ["secured"]

Cli = Callable[..., Result]


def test_rest_changes_are_recorded_with_who_what_where_and_before_after(secured: SecuredApp) -> None:
    secured.add_user("ursula", "viewer")
    changed = secured.http.patch("/api/v1/users/ursula", json={"roles": ["scientist"]}, headers=secured.auth("admin"))
    assert changed.status_code == 200
    [entry] = secured.http.get("/api/v1/audit", params={"object_id": "ursula", "user": "admin"},
                               headers=secured.auth("approver")).json()
    assert entry["action"] == "user.update" and entry["actor"] == "admin"
    assert entry["source"] == "testclient"  # the client's address, as the server saw it
    assert entry["details"] == {"before": {"roles": ["viewer"]}, "after": {"roles": ["scientist"]}}
    exp = secured.http.post("/api/v1/experiments", json={"name": "audited"}, headers=secured.auth("scientist")).json()
    [made] = secured.http.get("/api/v1/audit", params={"object_id": exp["id"]}, headers=secured.auth("admin")).json()
    assert (made["action"], made["actor"], made["object_kind"]) == ("experiment.create", "scientist", "experiment")
    assert secured.http.get("/api/v1/audit/verify", headers=secured.auth("admin")).json()["ok"] is True


@pytest.fixture
def store(db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Database:
    """``db`` as the configured store of the CLI, with a few audited changes by two people."""
    monkeypatch.setenv("SLIPWAY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SLIPWAY_DB_URL", db.url.render_as_string(hide_password=False))
    security = SecurityService(db)
    for who, user in (("ann", "u1"), ("bob", "u2"), ("ann", "u3"), ("bob", "u4")):
        with acting_as(Principal(who, source="10.0.0.7")):
            security.create_user(user, ["viewer"])
    return db


def cli(*args: str) -> Result:
    return CliRunner().invoke(cli_app, list(args))


def _seq_of(db: Database, user: str) -> int:
    with db.read() as conn:
        return int(conn.execute(select(audit_events.c.seq).where(audit_events.c.object_id == user)).scalar_one())


def test_audit_list_filters_by_user_object_and_time(store: Database) -> None:
    by_ann = json.loads(cli("audit", "list", "--user", "ann", "--json").stdout)
    assert [e["object_id"] for e in by_ann] == ["u1", "u3"]
    assert {e["source"] for e in by_ann} == {"10.0.0.7"}
    assert [e["actor"] for e in json.loads(cli("audit", "list", "--object", "u2", "--json").stdout)] == ["bob"]
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert json.loads(cli("audit", "list", "--since", tomorrow, "--json").stdout) == []
    assert len(json.loads(cli("audit", "list", "--until", tomorrow, "--limit", "3", "--json").stdout)) == 3
    bad = cli("audit", "list", "--since", "last tuesday")
    assert bad.exit_code == 2 and "not a date or time" in bad.output


def test_an_intact_trail_verifies(store: Database) -> None:
    result = cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "The audit trail holds: 4 entries" in result.stdout


def test_an_edited_row_is_detected_and_named(store: Database) -> None:
    seq = _seq_of(store, "u2")
    with store.write() as conn:  # someone rewrites history behind the service's back
        conn.execute(update(audit_events).where(audit_events.c.seq == seq).values(actor="mallory"))
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert f"broken at entry {seq} (user.create on user u2 by mallory" in result.stderr
    assert json.loads(cli("audit", "verify", "--json").stdout)["first_broken_seq"] == seq


def test_a_deleted_row_is_detected(store: Database) -> None:
    seq = _seq_of(store, "u2")
    with store.write() as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq == seq))
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert f"broken at entry {_seq_of(store, 'u3')}" in result.stderr  # the one whose link pointed at it


def test_a_removed_tail_is_detected_against_a_recorded_head(store: Database) -> None:
    head = json.loads(cli("audit", "verify", "--json").stdout)["head"]
    with store.write() as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq == _seq_of(store, "u4")))
    assert cli("audit", "verify").exit_code == 0  # the shorter chain still holds on its own
    result = cli("audit", "verify", "--head", head)
    assert result.exit_code != 0 and "entries were removed" in result.stderr


def test_a_chain_rewritten_with_recomputed_hashes_is_caught_only_against_a_pinned_head(store: Database) -> None:
    """What docs/security.md says `audit verify` proves: the hash is keyed by nothing, so whoever can
    write the table can rewrite it consistently; only a head kept elsewhere shows the rewrite."""
    head = json.loads(cli("audit", "verify", "--json").stdout)["head"]
    with store.write() as conn:  # mallory edits an old entry and recomputes every link after it
        rows = conn.execute(select(audit_events).order_by(audit_events.c.seq)).mappings().all()
        prev = GENESIS_HASH
        for row in rows:
            entry = {k: row[k] for k in ("id", "at", "actor", "action", "object_kind", "object_id", "source",
                                         "details")}
            if row["object_id"] == "u2":
                entry["actor"] = "mallory"
            link = audit_hash(prev, entry)
            conn.execute(update(audit_events).where(audit_events.c.seq == row["seq"])
                         .values(actor=entry["actor"], prev_hash=prev, hash=link))
            prev = link
    assert cli("audit", "verify").exit_code == 0  # consistent with itself
    result = cli("audit", "verify", "--head", head)
    assert result.exit_code != 0 and "rewritten" in result.stderr


def test_reading_the_trail_needs_the_audit_permission(store: Database) -> None:
    tracking_only = Principal("sam", frozenset({"scientist"}))
    with acting_as(tracking_only):
        result = cli("audit", "list")
    assert result.exit_code == 3 and "audit permission" in result.stderr
