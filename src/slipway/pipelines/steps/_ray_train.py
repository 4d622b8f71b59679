"""Data-parallel training on Ray Train: one training function on ``num_workers`` workers, one tracked run.

Every worker calls the step's function with the same inputs and hyperparameters; its ``ctx`` says
its ``rank`` and ``world_size``, ``ctx.shard(data)`` gives it its part of the rows and
``ctx.prepare_model(module)`` wraps a PyTorch module for DistributedDataParallel (gradients
averaged across workers). With ``framework="xgboost"`` Ray Train opens XGBoost's collective
around the function, so ``xgboost.train`` on each worker's shard grows one model together.

Only rank 0 writes to the run: the hyperparameters, each ``ctx.report``/``ctx.log_metric`` (so an
epoch is logged once) and the model, stored from its return value as any training step's. The
step ends the run once every worker is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slipway._ray import connect_ray
from slipway.pipelines._context import ServiceSpec, StepContext, TaskInfo
from slipway.pipelines.steps._base import Resources
from slipway.pipelines.steps._fitting import train_into
from slipway.pipelines.steps._function import UserFunction
from slipway.pipelines.steps._remote import pack, remote_context, unpack

FRAMEWORKS = ("torch", "xgboost")


@dataclass(frozen=True)
class TrainJob:
    """What each Ray Train worker is sent."""

    run_id: str
    inputs: dict[str, Any]
    hyperparameters: dict[str, Any]
    function: UserFunction
    flavor: str | None
    info: TaskInfo
    services: ServiceSpec


def worker_loop(config: dict[str, Any]) -> None:
    """Ray Train's function on each worker: copy the inputs in, call the step's function."""
    import ray.train

    job: TrainJob = unpack(config["payload"])
    context = ray.train.get_context()
    rank, world_size = context.get_world_rank(), context.get_world_size()
    with remote_context(job.info, job.services, "slipway-train-") as ctx:
        inputs = ctx.localize(job.inputs)
        if rank == 0:
            train_into(
                ctx,
                job.function,
                inputs,
                job.hyperparameters,
                run_id=job.run_id,
                package=ctx.work_dir / "model",
                flavor=job.flavor,
                world_size=world_size,
                end=False,
            )
        else:
            user_ctx = StepContext(
                job.info.execution_id,
                job.info.step_name,
                ctx,
                params=dict(job.hyperparameters),
                rank=rank,
                world_size=world_size,
            )
            job.function({**inputs, **job.hyperparameters}, user_ctx)


def fit(job: TrainJob, framework: str, num_workers: int, resources: Resources, storage: Path) -> None:
    """Run ``job`` on ``num_workers`` Ray Train workers, each reserving ``resources``.

    Raises:
        Exception: Ray Train's error when a worker failed (its message holds the worker's traceback).
    """
    connect_ray()
    from ray.train import RunConfig, ScalingConfig

    per_worker: dict[str, float] = {"CPU": resources.cpus}
    if resources.gpus:
        per_worker["GPU"] = resources.gpus
    if resources.memory_mb:
        per_worker["memory"] = resources.memory_mb * 2**20
    scaling = ScalingConfig(num_workers=num_workers, use_gpu=resources.gpus > 0, resources_per_worker=per_worker)
    run_config = RunConfig(storage_path=str(storage), name=f"slipway-{job.run_id}")
    trainer_class: Any
    if framework == "xgboost":
        from ray.train.xgboost import XGBoostTrainer as trainer_class
    else:
        from ray.train.torch import TorchTrainer as trainer_class
    trainer = trainer_class(
        worker_loop,
        train_loop_config={"payload": pack(job, job.function)},
        scaling_config=scaling,
        run_config=run_config,
    )
    trainer.fit()
