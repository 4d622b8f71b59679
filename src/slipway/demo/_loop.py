"""The closed loop on the abalone data: build, approve, serve, watch, detect drift, retrain, roll out.

Every stage calls the public services of one embedded :class:`~slipway._backend.Backend`, as a
user's code would; traffic goes through the in-process serving host (the same code ``slipway
serve`` runs), so nothing listens on a port. The retraining is not called by the demo: a rule on
``alarm.state_changed`` starts it, and a rule on ``model_version.status_changed`` rolls the
approved version out, both run by :meth:`AutomationService.dispatch_pending` as ``slipway server``'s
scheduler would.

The drifted population is invented for the demo: the held-out abalone with every weight 60%
higher (say, farmed and fed), their ring counts unchanged, so the first model over-estimates
their age and the retrained one, which also learnt from them, does not.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from slipway._backend import Backend
from slipway._principal import Principal, acting_as
from slipway.automation import ActionRun, Deploy, StartPipeline
from slipway.demo._data import TARGET, encode, load_abalone
from slipway.demo._pipeline import build_pipeline
from slipway.errors import MissingExtra, NotFound, SlipwayError
from slipway.monitoring import Alarm, MonitorExecution
from slipway.pipelines import ExecutionStatus, PipelineExecution
from slipway.registry import ModelVersion
from slipway.serving import Endpoint, ServingHost

Say = Callable[[str], None]

HISTORY_ROWS = 3000  # what the first model learns from; the other 1,177 rows are the "live" abalone
TRAFFIC_ROWS = 300  # per traffic phase
BATCH_ROWS = 10  # rows per request
WEIGHTS = ("whole weight", "shucked weight", "viscera weight", "shell weight")
DRIFT_FACTOR = 1.6
CANARY = {"kind": "canary", "share": 0.25, "bake_seconds": 2.0}
CANARY_TIMEOUT_SECONDS = 60.0
APPROVER = Principal("demo-approver", source="demo")


@dataclass(frozen=True)
class DemoNames:
    """The names of everything one demo run creates, all derived from one prefix.

    The prefix names the pipeline, the model group, the endpoint and the baseline.
    """

    prefix: str
    monitor: str = field(init=False)
    alarm: str = field(init=False)
    retrain_rule: str = field(init=False)
    rollout_rule: str = field(init=False)

    def __post_init__(self) -> None:
        for name, suffix in (
            ("monitor", "quality"),
            ("alarm", "drift"),
            ("retrain_rule", "retrain-on-drift"),
            ("rollout_rule", "canary-on-approval"),
        ):
            object.__setattr__(self, name, f"{self.prefix}-{suffix}")


@dataclass(frozen=True)
class DemoResult:
    """What the loop made, for the summary: the versions, the endpoint, the checks and the automation."""

    names: DemoNames
    versions: list[ModelVersion]
    endpoint: Endpoint
    executions: list[MonitorExecution]
    violations: list[dict[str, str]]  # the entries of constraint_violations.json
    alarm: Alarm
    retraining: PipelineExecution
    automation_runs: list[ActionRun]


def free_names(backend: Backend, base: str = "abalone-demo") -> DemoNames:
    """``abalone-demo``, or ``abalone-demo-2``, ... when an earlier run in this store took the name."""
    for n in range(1, 1000):
        prefix = base if n == 1 else f"{base}-{n}"
        try:
            backend.serving.get_endpoint(prefix)
        except NotFound:
            try:
                backend.registry.get_group(prefix)
            except NotFound:
                return DemoNames(prefix)
    raise SlipwayError(f"every demo name from {base} to {base}-999 is taken; use a fresh SLIPWAY_HOME")


def _need_sklearn() -> None:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise MissingExtra("sklearn", "sklearn") from None


def _write_data(folder: Path) -> tuple[Path, Path, pd.DataFrame, pd.DataFrame]:
    """The history CSV, the CSV after new labels arrived, and the normal and drifted traffic rows."""
    rows = load_abalone().sample(frac=1.0, random_state=7).reset_index(drop=True)
    history, live = rows.iloc[:HISTORY_ROWS], rows.iloc[HISTORY_ROWS:].reset_index(drop=True)
    normal = live.iloc[:TRAFFIC_ROWS]
    drifted = live.iloc[TRAFFIC_ROWS:].copy()
    drifted[list(WEIGHTS)] *= DRIFT_FACTOR
    folder.mkdir(parents=True, exist_ok=True)
    history_csv, relabelled_csv = folder / "abalone-history.csv", folder / "abalone-with-new-labels.csv"
    history.to_csv(history_csv, index=False)
    pd.concat([history, drifted], ignore_index=True).to_csv(relabelled_csv, index=False)
    features = encode(pd.concat([normal, drifted], ignore_index=True)).drop(columns=[TARGET])
    return history_csv, relabelled_csv, features.iloc[:TRAFFIC_ROWS], features.iloc[TRAFFIC_ROWS:]


@contextlib.contextmanager
def _serving(backend: Backend) -> Iterator[ServingHost]:
    """An in-process serving host; closing it flushes the captured requests into the store."""
    host = ServingHost(backend.serving, backend.registry, backend.artifacts, poll_seconds=0.2)
    try:
        yield host
    finally:
        host.close()


def _send(host: ServingHost, endpoint: str, rows: pd.DataFrame) -> list[str]:
    """Send ``rows`` in requests of BATCH_ROWS; the variant that answered each."""
    runtime = host.start(endpoint)
    answered = []
    for start in range(0, len(rows), BATCH_ROWS):
        body = {"dataframe_split": rows.iloc[start : start + BATCH_ROWS].to_dict(orient="split", index=False)}
        answered.append(runtime.invoke(json.dumps(body).encode(), "application/json", {}).variant)
    return answered


def _traffic(backend: Backend, endpoint: str, rows: pd.DataFrame) -> tuple[dt.datetime, dt.datetime]:
    """Send one phase of traffic; the window it was captured in."""
    start = dt.datetime.now(dt.UTC)
    with _serving(backend) as host:
        _send(host, endpoint, rows)
    return start, dt.datetime.now(dt.UTC)


def _follow(backend: Backend, execution_id: str, say: Say) -> PipelineExecution:
    """Print each step of a running execution as it ends; the execution once it has ended.

    Raises:
        SlipwayError: if it did not succeed, with the reason.
    """
    shown: set[str] = set()
    while True:
        try:
            execution = backend.pipelines.wait(execution_id, timeout=0.25)
        except TimeoutError:
            execution = backend.pipelines.get_execution(execution_id)
        for step in execution.steps:
            if step.status.terminal and step.step_name not in shown:
                shown.add(step.step_name)
                took = f"{step.duration.total_seconds():.1f} s" if step.duration else ""
                say(f"    {step.step_name:<10} {step.status.value:<10} {took}")
        if execution.status.terminal or execution.status is ExecutionStatus.INTERRUPTED:
            break
    if execution.status is not ExecutionStatus.SUCCEEDED:
        raise SlipwayError(f"pipeline execution {execution.id} {execution.status.value}: {execution.failure_reason}")
    return execution


def _registered(backend: Backend, execution: PipelineExecution) -> ModelVersion:
    props = execution.step("Register").properties or {}
    return backend.registry.get_version(props["group"], int(props["version"]))


def _mse(version: ModelVersion) -> str:
    return str(version.metrics["mse"])


def run_loop_demo(backend: Backend, say: Say = print) -> DemoResult:
    """Run the whole loop in ``backend``'s store, printing each stage through ``say``.

    Raises:
        MissingExtra: without scikit-learn (``pip install 'slipway-mlops[sklearn]'``).
        SlipwayError: if a stage does not end as it should (a failed pipeline, a rollout that does
            not finish), naming the stage.
    """
    _need_sklearn()
    names = free_names(backend)
    group = endpoint = names.prefix
    history_csv, relabelled_csv, normal, drifted = _write_data(backend.settings.home / "demo" / names.prefix)
    say(f"abalone: {HISTORY_ROWS} labelled rows to learn from, {len(normal) + len(drifted)} live ones to serve")

    say("\n[1/9] build: Prepare → Train → Evaluate → CheckMSE → Register")
    pipeline = build_pipeline(names.prefix, group, str(history_csv))
    first = _registered(backend, _follow(backend, backend.pipelines.start(pipeline).id, say))
    say(f"  registered {group} version {first.version} (MSE {_mse(first)}): {first.status.value}")

    say("[2/9] approve")
    with acting_as(APPROVER):  # not the one who registered it: the audit shows two people
        first = backend.registry.approve(group, first.version, comment="MSE checked")
    say(f"  {group} version {first.version}: {first.status.value} by {APPROVER.name}")

    say("[3/9] deploy with data capture")
    backend.serving.create_endpoint(
        endpoint,
        [{"model": f"{group}/{first.version}"}],
        capture={"sampling_percent": 100},
        alarms={"max_error_rate": 0.05, "min_requests": 10},
    )
    window = _traffic(backend, endpoint, normal)
    say(f"  endpoint {endpoint} serves {group}/{first.version}; {len(normal)} rows sent, every request captured")

    say("[4/9] baseline and monitor")
    monitoring = backend.monitoring
    monitoring.create_baseline(
        names.prefix, encode(pd.read_csv(history_csv)).drop(columns=[TARGET]), model=f"{group}/{first.version}"
    )
    monitoring.create_monitor(names.monitor, baseline=names.prefix, endpoint=endpoint)
    monitoring.create_alarm(
        names.alarm, monitor=names.monitor, metric="violations.baseline_drift_check", threshold=0, evaluation_periods=1
    )
    calm = monitoring.run_monitor(names.monitor, start=window[0], end=window[1])
    say(f"  monitor {names.monitor} on the captured traffic: {calm.status}, {calm.violation_count} violation(s)")

    say("[5/9] rules: retrain when the drift alarm fires; roll out a version when it is approved")
    automation = backend.automation
    automation.create_rule(
        names.retrain_rule,
        "alarm.state_changed",
        StartPipeline(names.prefix, {"input_data": str(relabelled_csv)}),
        filters={"alarm": names.alarm, "new_state": "ALARM"},
    )
    automation.create_rule(
        names.rollout_rule,
        "model_version.status_changed",
        Deploy(endpoint, "{event.group}/{event.version}", CANARY),
        filters={"group": group, "to": "Approved"},
    )

    say("[6/9] drifted traffic: heavier abalone")
    window = _traffic(backend, endpoint, drifted)
    checked = monitoring.run_monitor(names.monitor, start=window[0], end=window[1])
    violations = monitoring.read_violations(checked.id)
    alarm = monitoring.get_alarm(names.alarm)
    say(
        f"  monitor: {checked.status}, {len(violations)} violation(s): "
        + ", ".join(sorted({v["feature_name"] for v in violations}))
    )
    say(f"  alarm {alarm.name}: {alarm.state}")

    say("[7/9] the rule starts the retraining pipeline")
    runs = automation.dispatch_pending()
    started = [r for r in runs if r.source_name == names.retrain_rule]
    if not started or started[0].result is None:
        raise SlipwayError(f"rule {names.retrain_rule} did not start the pipeline: {runs}")
    retraining = _follow(backend, started[0].result["execution"], say)
    second = _registered(backend, retraining)
    say(f"  registered {group} version {second.version} (MSE {_mse(second)}): {second.status.value}")

    say("[8/9] approve; the rule rolls it out as a canary")
    with acting_as(APPROVER):
        second = backend.registry.approve(group, second.version, comment="retrained on the new labels; MSE checked")
    runs += automation.dispatch_pending()
    rolling = backend.serving.get_endpoint(endpoint)
    if rolling.deployment is None:
        raise SlipwayError(f"rule {names.rollout_rule} did not start a deployment on {endpoint}")
    share = rolling.deployment.share
    say(f"  {group}/{second.version} gets {share:.0%} of traffic for {CANARY['bake_seconds']:g} s")
    served = _bake(backend, endpoint, pd.concat([normal, drifted]), say)

    say("[9/9] done")
    return DemoResult(
        names=names,
        versions=[backend.registry.get_version(group, v.version) for v in (first, second)],
        endpoint=served,
        executions=[calm, checked],
        violations=violations,
        alarm=monitoring.get_alarm(names.alarm),
        retraining=retraining,
        automation_runs=runs,
    )


def _bake(backend: Backend, endpoint: str, rows: pd.DataFrame, say: Say) -> Endpoint:
    """Keep traffic flowing while the canary bakes, until the rollout finishes (or is rolled back)."""
    deadline = time.monotonic() + CANARY_TIMEOUT_SECONDS
    seen: dict[str, int] = {}
    rng = np.random.default_rng(0)
    with _serving(backend) as host:
        while time.monotonic() < deadline:
            for variant in _send(host, endpoint, rows.sample(50, random_state=int(rng.integers(1 << 31)))):
                seen[variant] = seen.get(variant, 0) + 1
            current = backend.serving.get_endpoint(endpoint)
            if current.deployment is None:
                say("  requests answered during the bake: " + ", ".join(f"{k} {n}" for k, n in sorted(seen.items())))
                last = backend.serving.list_deployments(endpoint)[0]
                say(f"  deployment {last.status.value}" + (f": {last.reason}" if last.reason else ""))
                return current
    raise SlipwayError(f"the canary on {endpoint} did not finish within {CANARY_TIMEOUT_SECONDS:g} s")
