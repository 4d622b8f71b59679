"""``slipway runs``: listing, searching, inspecting and comparing runs as a user sees them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

import slipway
from slipway import Client

Cli = Callable[..., Result]  # the `cli` fixture: run `slipway ARGS...` in-process


def _rows(result: Result, ids: dict[str, str]) -> list[str]:
    """The names of the runs in a table, in the order printed."""
    by_id = {run_id: name for name, run_id in ids.items()}
    return [by_id[word] for line in result.stdout.splitlines() for word in line.split() if word in by_id]


def test_list_newest_first_with_metrics(cli: Cli, seeded: dict[str, str]) -> None:
    result = cli("runs", "list")
    assert result.exit_code == 0, result.output
    assert _rows(result, seeded) == ["ridge-c", "ridge-b", "ridge-a"]
    row = next(line for line in result.stdout.splitlines() if seeded["ridge-b"] in line)
    assert "ridge-b" in row and "abalone" in row and "FINISHED" in row and "mse=3" in row


def test_list_limit_says_there_is_more(cli: Cli, seeded: dict[str, str]) -> None:
    result = cli("runs", "list", "--limit", "2")
    assert _rows(result, seeded) == ["ridge-c", "ridge-b"]
    assert "Showing the first 2 runs; more match" in result.stdout


def test_list_by_experiment(cli: Cli, client: Client, seeded: dict[str, str]) -> None:
    with slipway.start_run("other", name="lonely", client=client) as other:
        pass
    result = cli("runs", "list", "--experiment", "other")
    assert other.id in result.stdout and _rows(result, seeded) == []
    both = cli("runs", "list", "-e", "other", "-e", "abalone", "--json")
    assert {r["id"] for r in json.loads(both.stdout)} == {other.id, *seeded.values()}


def test_list_unknown_experiment(cli: Cli) -> None:
    result = cli("runs", "list", "--experiment", "nope")
    assert result.exit_code == 2
    assert result.stderr == "error: experiment 'nope' does not exist\n"


def test_search_shows_exactly_the_matching_runs(cli: Cli, seeded: dict[str, str]) -> None:
    result = cli("runs", "search", "metrics.mse < 5", "--order-by", "metrics.mse ASC")
    assert result.exit_code == 0, result.output
    assert _rows(result, seeded) == ["ridge-b", "ridge-a"]

    data = json.loads(cli("runs", "search", "params.alpha = '2.0'", "--json").stdout)
    assert [r["name"] for r in data] == ["ridge-c"]
    assert data[0]["metrics"]["mse"]["value"] == 9.0 and data[0]["params"]["alpha"] == "2.0"


def test_search_with_no_match(cli: Cli, seeded: dict[str, str]) -> None:
    result = cli("runs", "search", "metrics.mse > 100")
    assert result.exit_code == 0
    assert "No runs match." in result.stdout


def test_bad_filter_is_one_error_line(cli: Cli, seeded: dict[str, str]) -> None:
    result = cli("runs", "search", "metrics.mse <<< 5")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.output


def test_show_run(cli: Cli, client: Client, seeded: dict[str, str], tmp_path: Path) -> None:
    run_id = seeded["ridge-a"]
    client.tracking.log_bytes(run_id, b"x" * 2048, "model/weights.bin")
    result = cli("runs", "show", run_id)
    assert result.exit_code == 0, result.output
    text = result.stdout
    for expected in ("ridge-a", run_id, "abalone", "FINISHED", "Params", "alpha", "0.5", "Metrics", "mse",
                     "Tags", "team", "fish", "Artifacts", "model/weights.bin", "2.0 KiB"):
        assert expected in text
    mse_row = next(line for line in text.splitlines() if line.split()[:1] == ["mse"])
    assert mse_row.split()[1:3] == ["4", "2"]  # the latest value, at step 2

    data = json.loads(cli("runs", "show", run_id, "--json").stdout)
    assert data["id"] == run_id and data["params"] == {"alpha": "0.5", "model": "ridge"}
    assert [a["path"] for a in data["artifacts"]] == ["model/weights.bin"]


def test_show_unknown_run(cli: Cli) -> None:
    result = cli("runs", "show", "01nosuchrun")
    assert result.exit_code == 2
    assert result.stderr == "error: run '01nosuchrun' does not exist\n"


def test_unreachable_server_is_one_error_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_SERVER_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("SLIPWAY_RETRY_BACKOFF", "0.01")  # a read is tried 3 more times first
    result = cli("runs", "list")
    assert result.exit_code == 4  # ServiceUnavailable
    assert result.stderr.startswith("error: cannot reach the Slipway server at http://127.0.0.1:1")
    assert len(result.stderr.splitlines()) == 1


def test_nan_and_infinity_are_shown(cli: Cli, client: Client) -> None:
    with slipway.start_run("odd", client=client) as run:
        run.log_metrics({"loss": float("nan"), "gain": float("inf")})
    text = cli("runs", "show", run.id).stdout
    assert "NaN" in text and "Infinity" in text
    data = json.loads(cli("runs", "show", run.id, "--json").stdout)
    assert data["metrics"]["loss"]["value"] == "NaN"


def test_compare_highlights_differing_params(cli: Cli, seeded: dict[str, str]) -> None:
    result = cli("runs", "compare", seeded["ridge-a"], seeded["ridge-c"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert seeded["ridge-a"] in result.stdout and seeded["ridge-c"] in result.stdout
    alpha = next(line for line in lines if "params.alpha" in line)
    assert alpha.split() == ["≠", "params.alpha", "0.5", "2.0"]
    model = next(line for line in lines if "params.model" in line)
    assert model.split() == ["params.model", "ridge", "ridge"]
    assert next(line for line in lines if "metrics.mse" in line).split() == ["metrics.mse", "4", "9"]
    assert "≠ marks the 1 param(s) that differ" in result.stdout

    data = json.loads(cli("runs", "compare", seeded["ridge-a"], seeded["ridge-c"], "--json").stdout)
    assert data["differing_params"] == ["alpha"] and data["params"]["alpha"] == ["0.5", "2.0"]


def test_history(cli: Cli, seeded: dict[str, str]) -> None:
    result = cli("runs", "history", seeded["ridge-c"], "mse")
    assert result.exit_code == 0
    values = [line.split()[:2] for line in result.stdout.splitlines() if line[:1].isdigit()]
    assert values == [["0", "11"], ["1", "10"], ["2", "9"]]
    data = json.loads(cli("runs", "history", seeded["ridge-c"], "mse", "--json").stdout)
    assert [(p["step"], p["value"]) for p in data] == [(0, 11.0), (1, 10.0), (2, 9.0)]
    assert "no points" in cli("runs", "history", seeded["ridge-c"], "r2").stdout


def test_download(cli: Cli, client: Client, seeded: dict[str, str], tmp_path: Path) -> None:
    run_id = seeded["ridge-a"]
    client.tracking.log_bytes(run_id, b"w" * 5000, "model/weights.bin")
    client.tracking.log_bytes(run_id, b"{}", "model/conf/config.json")
    client.tracking.log_bytes(run_id, b"hello", "notes.txt")

    everything = cli("runs", "download", run_id, "--dest", str(tmp_path / "all"))
    assert everything.exit_code == 0, everything.output
    assert "Downloaded 3 file(s), 4.9 KiB" in everything.stdout
    assert "5.0/5.0 kB" in everything.stderr  # the progress bar, by bytes
    assert (tmp_path / "all" / "model" / "weights.bin").read_bytes() == b"w" * 5000
    assert (tmp_path / "all" / "notes.txt").read_text() == "hello"

    folder = cli("runs", "download", run_id, "model", "-d", str(tmp_path / "f"))
    assert folder.exit_code == 0
    assert (tmp_path / "f" / "model" / "conf" / "config.json").read_bytes() == b"{}"
    assert not (tmp_path / "f" / "notes.txt").exists()

    one = cli("runs", "download", run_id, "model/conf/config.json", "-d", str(tmp_path / "one"))
    assert one.exit_code == 0
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["config.json"]

    missing = cli("runs", "download", run_id, "nope.txt", "-d", str(tmp_path / "x"))
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: ") and "nope.txt" in missing.stderr


def test_download_of_a_run_without_artifacts(cli: Cli, seeded: dict[str, str],
                                             tmp_path: Path) -> None:
    result = cli("runs", "download", seeded["ridge-b"], "-d", str(tmp_path / "d"))
    assert result.exit_code == 0
    assert "Nothing to download" in result.stdout


def test_child_runs_are_listed_under_their_parent_and_shown_with_it(cli: Cli, client: Client) -> None:
    exp = client.tracking.create_experiment("nested")
    parent = client.tracking.create_run(exp.id, name="sweep", start_time=1_700_000_000_000)
    kids = [client.tracking.create_run(exp.id, name=f"trial-{i}", parent_run_id=parent.id,
                                       start_time=1_700_000_000_000 + i) for i in (1, 2)]
    client.tracking.create_run(exp.id, name="solo", start_time=1_700_000_000_009)
    client.tracking.log_inputs(parent.id, [{"name": "abalone", "digest": "9f3c", "context": "training",
                                            "source_type": "local", "source": '{"uri": "abalone.csv"}'}])

    listed = cli("runs", "list", "--experiment", "nested")
    names = [line.split()[1:3] for line in listed.stdout.splitlines() if line.startswith("01")]
    assert names == [["solo", "nested"], ["sweep", "nested"], ["└", "trial-2"], ["└", "trial-1"]]

    shown = cli("runs", "show", parent.id)
    datasets = shown.stdout.split("Datasets")[1].split("Child runs")[0]
    assert datasets.split("\n")[3].split()[:4] == ["abalone", "9f3c", "training", "local"]
    children = shown.stdout.split("Child runs")[1].split("Artifacts")[0]
    assert [line.split()[:2] for line in children.splitlines() if line.startswith("01")] == [
        [kids[1].id, "trial-2"], [kids[0].id, "trial-1"],
    ]
    as_json = json.loads(cli("runs", "show", parent.id, "--json").stdout)
    assert as_json["inputs"][0]["name"] == "abalone" and as_json["child_run_ids"] == [kids[1].id, kids[0].id]
    assert "No dataset inputs logged." in cli("runs", "show", kids[0].id).stdout
