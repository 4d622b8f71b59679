"""``slipway endpoints`` in embedded mode: create, list, show, invoke, update, rollback, delete."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from _serving_models import register, write_line
from typer.testing import Result

from slipway import Client
from slipway.serving import IngressReplicas


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_line(tmp_path_factory.mktemp("endpoints-cli") / "line")


def test_endpoint_commands(cli: Callable[..., Result], client: Client, package: Path, tmp_path: Path) -> None:
    v1, v2 = register(client.registry, package), register(client.registry, package)  # type: ignore[arg-type]
    created = cli("endpoints", "create", "rings", "-m", v1, "-w", "9", "-m", v2, "-w", "1", "--capture", "50", "--json")
    assert created.exit_code == 0, created.stderr
    assert [v["weight"] for v in json.loads(created.stdout)["variants"]] == [9, 1]
    listed = cli("endpoints", "list")
    assert "rings" in listed.stdout and "line/1×9" in listed.stdout
    changed = cli("endpoints", "update", "rings", "--capture-interval", "30", "--json")  # the percentage stays
    assert json.loads(changed.stdout)["capture"] == {
        "sampling_percent": 50, "max_records_per_file": 1000, "flush_interval_seconds": 30}
    assert cli("endpoints", "update", "rings", "--capture", "100").exit_code == 0

    invoked = cli(
        "endpoints", "invoke", "rings", "--data", '{"inputs": {"a": [1.0], "b": [2.0]}}', "--variant", "line-v2"
    )
    assert invoked.exit_code == 0, invoked.stderr
    answer = json.loads(invoked.stdout)
    assert answer["predictions"] == pytest.approx([0.5]) and answer["variant"] == "line-v2"
    csv = tmp_path / "rows.csv"
    csv.write_text("a,b\n1,2\n3,1\n")
    assert json.loads(cli("endpoints", "invoke", "rings", "--data", f"@{csv}").stdout)["predictions"] == pytest.approx(
        [0.5, 5.5]
    )
    bad = cli("endpoints", "invoke", "rings", "--data", '{"inputs": {"a": [1.0]}}')
    assert bad.exit_code == 2 and "'b'" in bad.stderr
    captured = cli("endpoints", "capture", "rings")  # each invoke above served in this process, then stored
    assert captured.exit_code == 0 and "2 file(s), 2 record(s)" in captured.stdout, captured.stdout
    files = json.loads(cli("endpoints", "capture", "rings", "--json").stdout)
    downloaded = cli("endpoints", "capture", "rings", "--download", str(tmp_path / "capture"))
    assert downloaded.exit_code == 0 and "2 file(s)" in downloaded.stdout
    assert sorted(p.relative_to(tmp_path / "capture").as_posix() for p in (tmp_path / "capture").rglob("*.jsonl")) == (
        sorted(f["path"] for f in files))

    updated = cli("endpoints", "update", "rings", "-m", v2, "--strategy", "canary", "--share", "0.2", "--json")
    assert json.loads(updated.stdout)["deployment"]["share"] == 0.2
    # During the rollout the canary answers its share, and the variants table says so.
    during = cli("endpoints", "show", "rings")
    rows = {line.split()[0]: line.split()[1:] for line in during.stdout.splitlines() if line.startswith("line-v")}
    assert rows == {
        "line-v1": [v1, "9", "72%", "1", "—", "live"],
        "line-v2": [v2, "1", "8%", "1", "—", "live"],
        "line-v2-canary": [v2, "1", "20%", "1", "—", "canary"],
    }
    rolled = cli("endpoints", "rollback", "rings", "--reason", "too early")
    assert rolled.exit_code == 0 and "too early" in rolled.stdout
    shown = cli("endpoints", "show", "rings", "--json")
    assert json.loads(shown.stdout)["deployments"][0]["status"] == "RolledBack"
    assert cli("endpoints", "delete", "rings").exit_code == 0
    assert cli("endpoints", "show", "rings").exit_code == 2


def test_weights_must_pair_with_models(cli: Callable[..., Result]) -> None:
    result = cli("endpoints", "create", "e", "-m", "a/1", "-m", "a/2", "-w", "1")
    assert result.exit_code == 2 and "--weight" in result.stderr


def test_autoscaling_settings_per_variant(cli: Callable[..., Result], client: Client, package: Path) -> None:
    v1, v2 = register(client.registry, package), register(client.registry, package)  # type: ignore[arg-type]
    created = cli("endpoints", "create", "scaled", "-m", v1, "-m", v2, "--min-replicas", "1", "--min-replicas", "2",
                  "--max-replicas", "4", "--target-ongoing", "3", "--json")
    assert created.exit_code == 0, created.stderr
    assert [v["autoscaling"] for v in json.loads(created.stdout)["variants"]] == [
        {"min_replicas": m, "max_replicas": 4, "target_ongoing": 3.0, "upscale_delay_seconds": 30.0,
         "downscale_delay_seconds": 600.0, "look_back_seconds": 30.0} for m in (1, 2)
    ]
    ingress = {"running": 2, "autoscaling": {"min_replicas": 2, "max_replicas": 3, "target_ongoing": 8}}
    client.backend.serving.report_replicas(  # type: ignore[attr-defined]  # what slipway serve --engine ray reports
        "scaled", {}, IngressReplicas.model_validate(ingress)
    )
    shown = cli("endpoints", "show", "scaled").stdout
    assert "1-4 replicas, 3 ongoing each" in shown and "2-4 replicas, 3 ongoing each" in shown
    assert "Ingress (Ray Serve)" in shown and "2 running; 2-3 replicas, 8 ongoing each" in shown
    refused = cli("endpoints", "create", "e", "-m", v1, "--min-replicas", "3", "--max-replicas", "2")
    assert refused.exit_code == 2 and "variants.0.autoscaling" in refused.stderr
    miscounted = cli("endpoints", "create", "e", "-m", v1, "-m", v2, "--min-replicas", "1", "1", "1")
    assert miscounted.exit_code == 2
