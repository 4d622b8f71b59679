"""``slipway models``: the registry from the shell, embedded and against a server, as a user sees it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from _server import LiveServer, live_server
from sklearn.linear_model import LinearRegression
from typer.testing import Result

from slipway import Client, load_settings
from slipway.models import save_model

__all__ = ["live_server"]

Cli = Callable[..., Result]  # the `cli` fixture: run `slipway ARGS...` in-process


@pytest.fixture(params=["embedded", "remote"])
def registry_client(request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """The SDK on the store the CLI uses: the local home, or the session's server."""
    if request.param == "remote":
        server: LiveServer = request.getfixturevalue("live_server")
        monkeypatch.setenv("SLIPWAY_SERVER_URL", server.url)
        monkeypatch.setenv("SLIPWAY_TOKEN", server.token)
    with Client(load_settings()) as client:
        yield client


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    X = np.array([[0.0], [1.0], [2.0]])
    folder = tmp_path_factory.mktemp("package") / "line"
    save_model(LinearRegression().fit(X, [1.0, 3.0, 5.0]), folder, input_example=X)
    return folder


@pytest.fixture
def group(registry_client: Client, package: Path) -> str:
    """A group of three versions: 1 rejected, 2 approved and prod, 3 pending; unique per test."""
    name = f"abalone-{uuid.uuid4().hex[:8]}"
    r = registry_client.registry
    r.register_model(name, package, metrics={"mse": {"value": 5.0, "std": 0.4}}, description="baseline")
    r.register_model(
        name,
        package,
        metrics={"mse": {"value": 4.0, "std": 0.3}, "r2": 0.6},
        description="ridge on all measurements, scaled, with a much longer description than fits",
    )
    r.register_model(name, package, metrics={"mse": 3.9})
    r.reject(name, 1, comment="too simple")
    r.approve(name, 2, comment="beats the baseline")
    r.set_alias(name, "prod", 2)
    return name


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def test_list_shows_groups_with_their_aliases(cli: Cli, group: str) -> None:
    out = _ok(cli("models", "list")).stdout
    row = next(line for line in out.splitlines() if group in line)
    assert " 3 " in row and "prod=2" in row
    listed = json.loads(_ok(cli("models", "list", "--json")).stdout)
    assert next(g for g in listed if g["name"] == group)["aliases"] == {"prod": 2}


def test_versions_listing_has_the_documented_columns(cli: Cli, group: str, registry_client: Client) -> None:
    out = _ok(cli("models", "versions", group)).stdout
    header = next(line for line in out.splitlines() if "Version" in line)
    positions = [
        header.index(c) for c in ("Version", "Stage", "Status", "Short description", "Modified by", "Last modified")
    ]
    assert positions == sorted(positions)
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [r[0] for r in rows] == ["3", "2", "1"]
    assert rows[1][1:3] == ["prod", "Approved"]
    assert rows[0][1] == "PendingManualApproval" and rows[2][1] == "Rejected"
    assert "ridge on all measurements" in out and "…" in out  # long descriptions are cut
    who = registry_client.registry.get_version(group, 2).updated_by
    assert who in out
    filtered = json.loads(_ok(cli("models", "versions", group, "--filter", "metrics.mse < 4.5", "--json")).stdout)
    assert [v["version"] for v in filtered] == [3, 2]


def test_show_a_version(cli: Cli, group: str) -> None:
    out = _ok(cli("models", "show", group, "2")).stdout
    for expected in (
        f"models:/{group}/2",
        "Approved",
        "prod",
        "sklearn",
        "4 ± 0.3",
        "beats the baseline",
        "slipway-model.json",
    ):
        assert expected in out, expected
    data = json.loads(_ok(cli("models", "show", group, "2", "--json")).stdout)
    assert data["status_history"][0]["to_status"] == "Approved"
    assert "slipway-model.json" in {f["path"] for f in data["files"]}


def test_approve_reject_and_their_history(cli: Cli, group: str, registry_client: Client) -> None:
    assert "is now Approved" in _ok(cli("models", "approve", group, "3", "--comment", "good enough")).stdout
    assert "is now Rejected" in _ok(cli("models", "reject", group, "3", "-m", "leak found")).stdout
    history = registry_client.registry.status_history(group, 3)
    assert [(h.to_status.value, h.comment) for h in history] == [
        ("Approved", "good enough"),
        ("Rejected", "leak found"),
    ]


def test_alias_and_its_history(cli: Cli, group: str) -> None:
    refused = cli("models", "alias", group, "prod", "3")  # version 3 is pending; prod is protected
    assert refused.exit_code == 2 and "only at Approved versions" in refused.output
    _ok(cli("models", "approve", group, "3"))
    assert "prod now points at" in _ok(cli("models", "alias", group, "prod", "3", "--comment", "rollout")).stdout
    out = _ok(cli("models", "history", group, "prod")).stdout
    rows = [line.split() for line in out.splitlines() if line.strip()[:2] == "20"]  # lines that start with a date
    assert [r[2:4] for r in rows] == [["2", "—"], ["3", "2"]]
    assert rows[1][-1] == "rollout"
    moves = json.loads(_ok(cli("models", "history", group, "prod", "--json")).stdout)
    assert [(m["version"], m["previous_version"]) for m in moves] == [(2, None), (3, 2)]


def test_compare_shows_the_spread(cli: Cli, group: str) -> None:
    out = _ok(cli("models", "compare", group, "1", "2", "3")).stdout
    mse = next(line for line in out.splitlines() if line.strip().startswith("mse"))
    assert "5 ± 0.4" in mse and "4 ± 0.3" in mse and "3.9" in mse
    r2 = next(line for line in out.splitlines() if line.strip().startswith("r2"))
    assert r2.count("—") == 2
    data = json.loads(_ok(cli("models", "compare", group, "1", "2", "--json")).stdout)
    assert data["versions"] == [1, 2]


def test_download(cli: Cli, group: str, package: Path, tmp_path: Path) -> None:
    _ok(cli("models", "download", group, "2", str(tmp_path / "out")))
    assert (tmp_path / "out" / "slipway-model.json").read_bytes() == (package / "slipway-model.json").read_bytes()


def test_rename_and_delete(cli: Cli, group: str, registry_client: Client) -> None:
    renamed = f"{group}-new"
    assert f"is now {renamed}" in _ok(cli("models", "rename", group, renamed)).stdout
    assert registry_client.registry.get_version_by_alias(renamed, "prod").version == 2
    assert "Deleted" in _ok(cli("models", "delete", renamed, "3", "--yes")).stdout
    assert [v.version for v in registry_client.registry.list_versions(renamed)] == [2, 1]
    asked = cli("models", "delete", renamed)  # no --yes: asks, and nothing answers
    assert asked.exit_code != 0 and "Delete model group" in asked.output
    assert "Deleted model group" in _ok(cli("models", "delete", renamed, "-y")).stdout
    gone = cli("models", "versions", renamed)
    assert gone.exit_code == 2 and "does not exist" in gone.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("models", "versions", "no-such-group"), "model group 'no-such-group' does not exist"),
        (("models", "show", "{group}", "9"), "has no version 9"),
        (("models", "alias", "{group}", "Prod", "1"), "alias 'Prod' must be lowercase"),
        (("models", "compare", "{group}", "1"), "at least two different versions"),
    ],
)
def test_errors_are_one_line_and_exit_2(cli: Cli, group: str, args: tuple[str, ...], message: str) -> None:
    result = cli(*(a.format(group=group) for a in args))
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
