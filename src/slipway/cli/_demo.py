"""``slipway demo``: the README's main job, on the bundled abalone data with nothing to set up."""

from __future__ import annotations

from slipway._config import load_settings
from slipway.cli import _output
from slipway.client import Client


def demo() -> None:
    """Run the end-to-end demo on the bundled abalone data and say where to look at the results.

    Today the demo trains a small sweep of ridge models (one tracked run each, with metric
    histories and a model artifact) and ranks them by test MSE. It writes into the store the
    settings name (`./.slipway` unless `SLIPWAY_HOME` or `SLIPWAY_SERVER_URL` say otherwise).
    """
    # Imported here: the demo needs pandas and NumPy, which no other command should pay for at start-up.
    from slipway.demo import run_tracking_demo

    settings = load_settings()
    console = _output.stdout()
    with Client(settings) as client:
        console.print("[bold]Slipway demo[/bold]: a hyperparameter sweep on the abalone data, every run tracked")
        ranked = run_tracking_demo(client, say=console.print)
        experiment = client.tracking.get_experiment(ranked[0].experiment_id)
        summary = _output.table("run", "alpha", "test MSE", "epochs", title="Runs, best first")
        for run in ranked:
            summary.add_row(
                run.name, run.params["alpha"], _output.fmt_number(run.metrics["mse"].value), run.params["epochs"]
            )
        console.print(summary)
        best = ranked[0]
        where = settings.server_url or f"{settings.home} (database {settings.db_url})"
        console.print(
            f"\nBest run: [bold]{best.name}[/bold] with test MSE {best.metrics['mse'].value:.3f}.\n"
            f"Results are in {where}. Look around with:\n\n"
            f"  slipway runs list --experiment {experiment.name}\n"
            f"  slipway runs show {best.id}\n"
            f"  slipway runs compare {' '.join(r.id for r in ranked[:2])}\n"
            f'  slipway runs search "metrics.mse < {best.metrics["mse"].value + 0.1:.1f}"\n'
            f"  slipway runs history {best.id} test_mse\n"
        )
