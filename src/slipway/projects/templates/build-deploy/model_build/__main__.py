"""``python -m model_build``: run the build pipeline once, as CI does after every push.

The steps run here, on this machine's worker processes, and record into the store the settings
name: ``./.slipway`` by default; in CI the team's shared store, given by ``SLIPWAY_DB_URL`` and
``SLIPWAY_ARTIFACT_URL``, so the server sees the version at once. With ``SLIPWAY_SERVER_URL`` set
the server would run the steps, and it can only if this project is installed where it runs and
its ``pipeline_modules`` setting lists ``model_build``: say so with ``--on-server``.

It prints the execution and the version it registered, and exits 1 when the pipeline failed (for
example when the model's MSE was above the threshold), so CI marks the build red.
"""

from __future__ import annotations

import argparse

from slipway import Client
from slipway.pipelines import ExecutionStatus

from model_build.config import load_config
from model_build.pipeline import build_pipeline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model_build", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--input-data", help="a CSV to train on instead of the bundled abalone data")
    parser.add_argument("--alpha", type=float, help="ridge regularisation strength")
    parser.add_argument("--on-server", action="store_true", help="with SLIPWAY_SERVER_URL: let the server run it")
    args = parser.parse_args(argv)
    config = load_config()
    parameters = {k: v for k, v in {"input_data": args.input_data, "alpha": args.alpha}.items() if v is not None}
    with Client() as client:
        if client.remote and not args.on_server:
            parser.error(
                "SLIPWAY_SERVER_URL is set, so the server would run the steps, and it can only import them "
                "if this project is installed there and allowed by its pipeline_modules setting (then pass "
                "--on-server). To run them here, "
                "unset it and set SLIPWAY_DB_URL and SLIPWAY_ARTIFACT_URL to the shared store instead."
            )
        pipeline = build_pipeline(config.model_group, mse_threshold=config.mse_threshold)
        execution = client.pipelines.run(pipeline, parameters=parameters)
        print(f"pipeline {pipeline.name}: execution {execution.id} {execution.status.value}")
        if execution.status is not ExecutionStatus.SUCCEEDED:
            print(f"  {execution.failure_reason}")
            return 1
        version = (execution.step("Register").properties or {})["version"]
        print(f"registered {config.model_group} version {version}; approve it to deploy it to staging")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
