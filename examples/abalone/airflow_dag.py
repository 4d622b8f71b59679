"""The abalone loop as an Airflow DAG, against a ``slipway server``: train, check, register, approve, deploy.

1. ``train``: start the stored ``abalone`` pipeline (preprocess, train, evaluate, check the MSE,
   register the model if it is good enough) with the DAG's parameters; returns at once.
2. ``wait``: wait for that execution in Airflow's triggerer (deferred); fails if it failed, and
   publishes the version it registered (XCom ``model_version``).
3. ``approve``: approve that version through a second connection, an approver's (someone other
   than who registered it, where the server keeps separation of duties).
4. ``deploy``: serve it on the endpoint: created if new, else moved to by a canary deployment.

Set up once (see docs/airflow.md): the pipeline stored on the server, whose pipeline_modules
allow ``examples.abalone`` and whose dataset_roots hold the abalone CSV (``slipway pipelines
register examples.abalone.pipeline:pipeline`` with SLIPWAY_SERVER_URL set), and two Airflow
connections of type ``slipway``::

    AIRFLOW_CONN_SLIPWAY_DEFAULT='{"conn_type": "slipway", "host": "http://slipway:5000", "password": "<a scientist's token>"}'
    AIRFLOW_CONN_SLIPWAY_APPROVER='{"conn_type": "slipway", "host": "http://slipway:5000", "password": "<an approver's token>"}'

Then ``airflow dags test slipway_abalone``, or trigger it from Airflow's UI.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, Param

from slipway.airflow.operators import (
    SlipwayApproveModelOperator,
    SlipwayDeployModelOperator,
    SlipwayPipelineOperator,
)
from slipway.airflow.sensors import SlipwayPipelineSensor

with DAG(
    dag_id="slipway_abalone",
    description="Train, check, register, approve and deploy the abalone model on a slipway server",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    params={
        "alpha": Param(1.0, type="number", description="ridge regularisation strength"),
        "mse_threshold": Param(6.0, type="number", description="the highest test MSE worth registering"),
        "endpoint": Param("abalone", type="string", description="the endpoint to deploy to"),
    },
    tags=["slipway"],
):
    train = SlipwayPipelineOperator(
        task_id="train",
        pipeline="abalone",
        parameters={"alpha": "{{ params.alpha }}", "mse_threshold": "{{ params.mse_threshold }}"},
        wait_for_completion=False,
    )
    wait = SlipwayPipelineSensor(
        task_id="wait",
        execution_id="{{ ti.xcom_pull(task_ids='train') }}",
        deferrable=True,
        poke_interval=2,
    )
    approve = SlipwayApproveModelOperator(
        task_id="approve",
        group="abalone",
        version="{{ ti.xcom_pull(task_ids='wait', key='model_version') }}",
        comment="approved by Airflow run {{ run_id }}",
        slipway_conn_id="slipway_approver",
    )
    deploy = SlipwayDeployModelOperator(
        task_id="deploy",
        endpoint="{{ params.endpoint }}",
        group="abalone",
        version="{{ ti.xcom_pull(task_ids='approve') }}",
        strategy={"kind": "canary", "share": 0.1, "bake_seconds": 600},
    )
    train >> wait >> approve >> deploy
