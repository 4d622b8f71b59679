"""``slipway experiments``: what a user sees when creating, listing, deleting and restoring."""

from __future__ import annotations

import json
from collections.abc import Callable

from typer.testing import Result

from slipway import Client

Cli = Callable[..., Result]  # the `cli` fixture: run `slipway ARGS...` in-process


def test_create_then_list(cli: Cli, client: Client) -> None:
    result = cli("experiments", "create", "abalone", "--description", "predict age [years]",
                 "--tag", "team=fish", "-t", "formula=a=b")
    assert result.exit_code == 0, result.output
    exp = client.tracking.get_experiment_by_name("abalone")
    assert result.stdout == f"Created experiment abalone ({exp.id}).\n"
    assert exp.description == "predict age [years]"
    assert exp.tags == {"team": "fish", "formula": "a=b"}

    listing = cli("experiments", "list")
    assert listing.exit_code == 0
    row = next(line for line in listing.stdout.splitlines() if exp.id in line)
    assert "abalone" in row and "predict age [years]" in row and "team=fish" in row


def test_list_json(cli: Cli, client: Client) -> None:
    client.tracking.create_experiment("one")
    client.tracking.create_experiment("two", tags={"k": "v"})
    result = cli("experiments", "list", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [e["name"] for e in data] == ["one", "two"]
    assert data[1]["tags"] == {"k": "v"} and data[1]["lifecycle_stage"] == "active"


def test_empty_store_says_how_to_start(cli: Cli) -> None:
    result = cli("experiments", "list")
    assert result.exit_code == 0
    assert "No experiments yet" in result.stdout


def test_duplicate_name_is_one_error_line(cli: Cli) -> None:
    assert cli("experiments", "create", "abalone").exit_code == 0
    result = cli("experiments", "create", "abalone")
    assert result.exit_code == 2
    assert result.stderr == "error: experiment 'abalone' already exists\n"


def test_malformed_tag_is_a_usage_error(cli: Cli, client: Client) -> None:
    result = cli("experiments", "create", "abalone", "--tag", "no-equals-sign")
    assert result.exit_code == 2
    assert "is not KEY=VALUE" in result.output
    assert client.tracking.list_experiments() == []


def test_delete_and_restore_by_name_or_id(cli: Cli, client: Client) -> None:
    exp = client.tracking.create_experiment("abalone")
    deleted = cli("experiments", "delete", "abalone")
    assert deleted.exit_code == 0
    assert deleted.stdout == f"Deleted experiment abalone ({exp.id}).\n"
    assert exp.id not in cli("experiments", "list").stdout
    hidden = cli("experiments", "list", "--all")
    assert "deleted" in next(line for line in hidden.stdout.splitlines() if exp.id in line)

    restored = cli("experiments", "restore", exp.id)
    assert restored.exit_code == 0
    assert restored.stdout == f"Restored experiment abalone ({exp.id}).\n"
    assert exp.id in cli("experiments", "list").stdout


def test_unknown_experiment(cli: Cli) -> None:
    result = cli("experiments", "delete", "nope")
    assert result.exit_code == 2
    assert result.stderr == "error: experiment 'nope' does not exist\n"
