"""`slipway demo`, the README's main job: it tracks a real sweep and says where to look."""

from __future__ import annotations

from collections.abc import Callable

from typer.testing import Result

from slipway import Client


def test_demo_tracks_a_sweep_and_points_at_the_results(cli: Callable[..., Result], client: Client) -> None:
    result = cli("demo")
    assert result.exit_code == 0, result.output
    assert "Best run: ridge-alpha-" in result.stdout
    assert "slipway runs show" in result.stdout

    exp = client.tracking.get_experiment_by_name("abalone-demo")
    runs = client.tracking.search_runs([exp.id], order_by=["metrics.mse ASC"]).runs
    assert len(runs) == 4 and all(r.status == "FINISHED" for r in runs)
    best = runs[0]
    assert 3.0 < best.metrics["mse"].value < 8.0  # a ridge model on abalone, not a diverged one
    history = client.tracking.get_metric_history(best.id, "test_mse")
    assert len(history) == 300 and history[-1].value < history[0].value
    assert [a.path for a in client.tracking.list_artifacts(best.id, "model")] == ["model/coefficients.json"]
