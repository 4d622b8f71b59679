"""Distributed work benchmark (issue 19): tuning trials on Ray, and (later sections) monitoring on Ray Data.

Run by hand::

    .venv/bin/python bench/distributed.py                  # every workload
    .venv/bin/python bench/distributed.py --only monitor    # some of: overhead, speedup, monitor, resume
    .venv/bin/python bench/distributed.py --quick           # every size / 10: a smoke run

Workloads:

- **overhead**: 200 TPE trials (seeded alike) of one objective, :func:`constant` (it fits the smallest
  model and returns its loss), one trial at a time, both studies on the same storage: Optuna's RDB
  storage beside the store's metadata database (the ``<stem>-optuna.db`` SQLite file in WAL mode
  that Slipway's distributed studies use, opened the same way). Optuna's own figure:
  ``study.optimize`` there. Slipway's: a ``TuningStep`` with ``executor="ray"`` (the step itself in
  a local worker process, connected to the cluster by ``RAY_ADDRESS``), each trial run on Ray and
  opening the shared study, a tracked child run (params, metrics, state; the model logged on it when
  the trial may be the job's best). Both figures are read from the studies alike: from the first
  trial's start to the last one's completion (Optuna's own timestamps, set when a trial is asked and
  when it is told), over the trials; both studies must hold every trial complete, and Slipway's job
  as many finished child runs. What Slipway adds per trial is the child run, the models of the
  trials that improved on the best, and the hop to Ray and back. Also printed, as a loaded machine
  stretches it less: the CPU seconds per trial of this process and every one below it (the step's
  worker process, the Ray cluster) while each side ran.
- **monitor**: a data-quality check of a 10M-row Parquet folder (10 files, row groups of 250,000 rows;
  a float column with 5 % missing, an integer and a 3-valued text column) against a baseline: the
  local engine in a subprocess of its own (one process, chunked) against ``engine="ray"`` on a local
  cluster of 2 CPUs (blocks of about 1M rows). Wall time, and peak resident memory (VmHWM) of each
  process: the local one, and Ray's driver and its worker processes; the two results must agree.
- **speedup**: 24 trials of an objective that computes for 100 ms (a busy loop), ``executor="ray"``,
  ``max_parallel_trials`` 1 and then 2, on a local Ray cluster of 2 CPUs: the wall time of the step's
  trials, and the speed-up of 2 over 1 (goal ≥ 1.7×).
- **resume**: kill-to-resume of a pipeline execution (goal ≤ 2 lease periods): two ``slipway worker``
  processes on a scratch database of PostgreSQL (``--pg``, 127.0.0.1:5432), a short lease
  (``--lease``, 2 s); the holder of an execution is killed (-9, its step's process too) while its
  step runs, and the other worker takes it over. From the kill: the other's claim, and the step
  running again there; a few repeats (``--repeats``), each figure against the lease period.

The load average is printed: on a shared machine the figures move with it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from slipway import load_settings
from slipway._backend import Backend
from slipway.pipelines import FloatRange, LocalExecutor, Pipeline, PipelineService, ServiceSpec, TuningStep

TARGET_SPEEDUP = 1.7


def _model(loss: float) -> Any:
    from sklearn.dummy import DummyRegressor

    from slipway.pipelines import TrainingResult

    return TrainingResult(model=DummyRegressor(constant=loss).fit([[0.0]], [loss]), metrics={"loss": loss})


def constant(x: float) -> Any:
    """The objective of the overhead workload: nothing but a number (and the smallest model to store)."""
    return _model((x - 2.0) ** 2)


def busy(x: float, seconds: float) -> Any:
    """The objective of the speed-up workload: ``seconds`` of arithmetic on one CPU."""
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return _model((x - 2.0) ** 2)


def _service(work: Path) -> tuple[Backend, PipelineService]:
    """One store and one warm step worker for every execution: the worker stays one Ray job, whose
    Ray workers stay warm (Ray keeps a job's workers for its next tasks)."""
    backend = Backend(load_settings(env={}, cwd=work, home=str(work / "home")))
    pool = LocalExecutor(max_workers=1)
    return backend, PipelineService(backend.db, backend.artifacts, ServiceSpec(Backend, backend.settings),
                                    local_executor=pool)


def _study_span(study: Any, trials: int) -> float:
    """Seconds from the first trial's start to the last one's completion, as the study recorded them;
    the study must hold ``trials`` trials, every one complete."""
    done = study.get_trials(deepcopy=False)
    states = {t.state.name for t in done}
    if len(done) != trials or states != {"COMPLETE"}:
        raise RuntimeError(f"the study {study.study_name} holds {len(done)} trials ({states}), not {trials} complete")
    return (max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)).total_seconds()


def optuna_own(trials: int, store: tuple[Backend, PipelineService]) -> dict[str, float]:
    """Seconds per trial of Optuna alone, TPE, one at a time, on the storage Slipway's studies use."""
    import optuna

    from slipway.pipelines._studies import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=open_storage(store[0].settings.db_url), study_name="optuna-own",
                                sampler=optuna.samplers.TPESampler(seed=1))
    started, cpu = time.perf_counter(), _tree_cpu_s()
    study.optimize(lambda t: constant(t.suggest_float("x", 0.0, 4.0)).metrics["loss"], n_trials=trials)
    wall, cpu = time.perf_counter() - started, _tree_cpu_s() - cpu
    return {"per_trial_s": _study_span(study, trials) / trials, "wall_s": wall, "cpu_per_trial_s": cpu / trials}


def slipway_step(
    trials: int, parallel: int, fn: Any, fixed: dict[str, Any], store: tuple[Backend, PipelineService]
) -> dict[str, float]:
    """Seconds per trial of a TuningStep on Ray (from the first trial's start to the last one's end,
    as its study recorded them), and of the step as a whole; every trial complete, with its child run
    finished."""
    import optuna

    from slipway.pipelines._studies import open_storage

    backend, service = store
    tune = TuningStep(
        "Tune", fn, search_space={"x": FloatRange(0.0, 4.0)}, objective="loss", hyperparameters=fixed,
        sampler="tpe", seed=1, max_trials=trials, max_parallel_trials=parallel, executor="ray",
        cache=False,
    )
    started, cpu = time.perf_counter(), _tree_cpu_s()
    execution = service.run(Pipeline(f"bench-{parallel}", [tune]))
    total, cpu = time.perf_counter() - started, _tree_cpu_s() - cpu
    if execution.failure_reason:
        raise RuntimeError(execution.failure_reason)
    props = execution.step("Tune").properties or {}
    study = optuna.load_study(study_name=props["study"], storage=open_storage(backend.settings.db_url))
    span = _study_span(study, trials)
    runs = backend.tracking.search_runs(filter=f"parent_run_id = '{props['run_id']}'", max_results=10_000).runs
    finished = [r for r in runs if r.status.value == "FINISHED" and r.end_time]
    if len(finished) != trials:
        raise RuntimeError(f"{len(finished)} finished child runs of {len(runs)}, not {trials}")
    durations = sorted((r.end_time - r.start_time).total_seconds() for r in finished)
    return {"per_trial_s": span / trials, "trials_s": span, "execution_s": total, "cpu_per_trial_s": cpu / trials,
            "median_trial_run_s": durations[len(durations) // 2]}


def _peak_kib(pid: int | str = "self") -> int:
    """A process's peak resident memory (VmHWM), KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _reset_peak(pid: int | str = "self") -> None:
    """Start a process's VmHWM again from its current resident memory (Linux: clear_refs 5)."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def _processes() -> tuple[dict[int, int], dict[int, bytes], dict[int, float]]:
    """Every process's parent, command line and CPU seconds (user + system) so far."""
    parents: dict[int, int] = {}
    titles: dict[int, bytes] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parents[int(entry.name)] = int(fields[1])
            cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
            titles[int(entry.name)] = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
    return parents, titles, cpu


def _ours(parents: dict[int, int], pid: int) -> bool:
    """Whether ``pid`` is this process or one below it."""
    while pid > 1:
        if pid == os.getpid():
            return True
        pid = parents.get(pid, 0)
    return False


def _ray_worker_pids() -> list[int]:
    """The Ray worker processes (titles starting ``ray::``) below this one: the cluster it started."""
    parents, titles, _ = _processes()
    return [pid for pid, title in titles.items() if title.startswith(b"ray::") and _ours(parents, pid)]


def _tree_cpu_s() -> float:
    """CPU seconds so far of this process and every process below it (the step's worker process, the
    Ray cluster's processes): the CPU a workload costs, which a loaded machine stretches less than
    its wall time."""
    parents, _, cpu = _processes()
    return sum(seconds for pid, seconds in cpu.items() if _ours(parents, pid))


def _ray_worker_peaks_kib() -> list[int]:
    """VmHWM of the Ray worker processes this process started."""
    return [_peak_kib(pid) for pid in _ray_worker_pids()]


_WRITE_PARQUET = """
import sys
from pathlib import Path
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
folder, rows = Path(sys.argv[1]), int(sys.argv[2])
folder.mkdir(parents=True)
rng = np.random.default_rng(0)
for i in range(10):
    n = rows // 10
    x = rng.normal(10.5, 2.0, n)
    x[rng.random(n) < 0.05] = np.nan
    table = pa.table({"x": x, "n": rng.integers(0, 1_000, n), "kind": rng.choice(["a", "b", "c"], n)})
    pq.write_table(table, folder / f"part-{i:02d}.parquet", row_group_size=250_000)
"""

_LOCAL_CHECK = """
import json, sys, time, resource
from slipway.monitoring import Baseline, check_data
started = time.perf_counter()
result = check_data(sys.argv[1], Baseline.read(sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - started, "rows": result.statistics.item_count,
                  "violations": result.violations_document(),
                  "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def monitor(rows: int, work: Path) -> dict[str, Any]:
    """A check of a ``rows``-row Parquet folder: the local engine in a subprocess, then on Ray here."""
    import subprocess

    import numpy as np
    import pyarrow as pa

    from slipway.monitoring import Baseline, check_data, compute_baseline

    folder = work / "today"
    # Written by a process of its own, so the data's making weighs on no process measured here.
    subprocess.run([sys.executable, "-c", _WRITE_PARQUET, str(folder), str(rows)], check=True)
    rng = np.random.default_rng(1)
    train = pa.table({"x": rng.normal(10.0, 2.0, 100_000), "n": rng.integers(0, 1_000, 100_000),
                      "kind": rng.choice(["a", "b"], 100_000)}).to_pandas()
    compute_baseline(train).write(work / "baseline")
    local = subprocess.run([sys.executable, "-c", _LOCAL_CHECK, str(folder), str(work / "baseline")],
                           check=True, capture_output=True, text=True)
    mine = json.loads(local.stdout.strip().splitlines()[-1])
    baseline = Baseline.read(work / "baseline")
    check_data(str(folder / "part-00.parquet"), baseline, engine="ray")  # warm: workers started, imports done
    for pid in ["self", *_ray_worker_pids()]:
        _reset_peak(pid)
    started = time.perf_counter()
    result = check_data(str(folder), baseline, engine="ray")
    ray_s = time.perf_counter() - started
    ours = [(v["feature_name"], v["constraint_check_type"]) for v in result.violations_document()["violations"]]
    theirs = [(v["feature_name"], v["constraint_check_type"]) for v in mine["violations"]["violations"]]
    return {
        "rows": rows,
        "local_s": mine["seconds"],
        "local_peak_mib": mine["peak_kib"] / 1024,
        "ray_s": ray_s,
        "ray_driver_peak_mib": _peak_kib() / 1024,
        "ray_worker_peak_mib": max(_ray_worker_peaks_kib() or [0]) / 1024,
        "same_rows": result.statistics.item_count == mine["rows"],
        "same_violations": ours == theirs,  # the same checks fail (a drift distance within the sketches' error)
    }


PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RESUME_GOAL_LEASES = 2.0


def _ready_workers(service: PipelineService, timeout: float) -> None:
    """Wait until an idle worker has run a quick execution: it is warm and claiming."""
    from _resume_steps import readiness

    done = service.wait(service.start(readiness).id, timeout=timeout)
    if done.failure_reason:
        raise RuntimeError(done.failure_reason)


def kill_to_resume(lease_s: float, repeats: int, work: Path, admin_url: str) -> dict[str, Any]:
    """Seconds from a kill -9 of an execution's orchestrator (mid-step) to the other worker's resuming it.

    Two ``slipway worker`` processes (one execution at a time each) on a scratch database of the
    PostgreSQL server at ``admin_url``, ``SLIPWAY_LEASE_SECONDS=lease_s``. Each repeat queues a
    one-step execution whose step sleeps; once the step runs, a quick execution proves the other
    worker warm and claiming; then the holder's process group (worker and step process) is killed.
    Two figures per repeat, from the kill: the claim of the other worker (its audited claim's time)
    and the step running again there (the step's own clock). The killed worker is replaced.
    """
    import signal
    import subprocess

    from _resume_steps import resumable
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"slipway_bench_resume_{os.getpid()}"
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    env = {"SLIPWAY_DB_URL": url, "SLIPWAY_HOME": str(work / "home"), "SLIPWAY_LEASE_SECONDS": str(lease_s),
           "SLIPWAY_PIPELINE_MODULES": "_resume_steps", "SLIPWAY_SCHEDULER_INTERVAL": "0"}
    bench = str(Path(__file__).resolve().parent)
    path = os.pathsep.join(filter(None, [bench, os.environ.get("PYTHONPATH")]))
    worker_env = {**os.environ, **env, "PYTHONPATH": path}
    slipway = str(Path(sys.executable).parent / "slipway")
    logs = work / "logs"
    logs.mkdir(parents=True)

    def start_worker() -> subprocess.Popen[bytes]:
        with (logs / f"worker-{time.monotonic_ns()}.log").open("wb") as log:
            return subprocess.Popen([slipway, "worker", "--max-executions", "1"], cwd=work, env=worker_env,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    claims, resumes = [], []
    workers: list[subprocess.Popen[bytes]] = []
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(admin.dispose)

        @cleanup.callback
        def _drop() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

        subprocess.run([slipway, "db", "upgrade"], env=worker_env, cwd=work, check=True, capture_output=True)
        backend = Backend(load_settings(env=env, cwd=work))
        cleanup.callback(backend.close)
        backend.orchestrates = False
        service = PipelineService(backend.db, backend.artifacts, ServiceSpec(Backend, backend.settings),
                                  queue=True, orchestrate=False, lease_seconds=lease_s)
        cleanup.callback(service.close)

        @cleanup.callback
        def _stop_workers() -> None:
            for w in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(w.pid, signal.SIGKILL)
                w.wait()

        workers.extend([start_worker(), start_worker()])
        _ready_workers(service, 300)
        for i in range(repeats):
            marker = work / f"marker-{i}"
            started = service.start(resumable, parameters={"marker": str(marker)})
            deadline = time.monotonic() + 300
            while not marker.exists():
                if time.monotonic() > deadline:
                    raise RuntimeError("no worker ran the slow step")
                time.sleep(0.01)
            holder = service.get_execution(started.id).orchestrator or ""
            _ready_workers(service, 300)  # the other one: only it has room
            (victim,) = [w for w in workers if w.pid == int(holder.split(":")[1])]
            killed_at = time.time()
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait()
            with contextlib.suppress(ProcessLookupError, ValueError):  # the step's process, if it left the group
                os.kill(int(marker.read_text().split()[1]), signal.SIGKILL)
            done = service.wait(started.id, timeout=300)
            if done.failure_reason or not (done.step("Slow").properties or {}).get("resumed"):
                raise RuntimeError(f"the execution did not resume: {done.failure_reason}")
            taken = [e for e in backend.security.audit_entries(object_id=started.id)
                     if e.action == "pipeline_execution.claim" and e.details.get("previous") == holder]
            claims.append(taken[0].at.timestamp() - killed_at)
            resumes.append(float(Path(f"{marker}.resumed").read_text().split()[0]) - killed_at)
            workers.remove(victim)
            workers.append(start_worker())
    return {"lease_s": lease_s, "repeats": repeats, "claim_s": claims, "resume_s": resumes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every size / 10")
    parser.add_argument("--only", default="overhead,speedup,monitor,resume", help="comma-separated workloads")
    parser.add_argument("--lease", type=float, default=2.0, help="resume: the lease period, seconds")
    parser.add_argument("--repeats", type=int, default=5, help="resume: kills measured")
    parser.add_argument("--pg", default=os.environ.get("SLIPWAY_BENCH_PG_URL", PG_ADMIN_URL),
                        help="resume: a PostgreSQL URL whose server gets a scratch database")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    only = set(args.only.split(","))
    scale = 10 if args.quick else 1
    figures: dict[str, Any] = {"load_before": os.getloadavg()[0], "cpus": os.cpu_count()}
    work = Path(tempfile.mkdtemp(prefix="slipway-bench-distributed-"))
    if "resume" in only:  # before the Ray cluster starts: it needs none, and its processes would load the CPUs
        try:
            figures["resume"] = kill_to_resume(args.lease, max(2, args.repeats // scale), work / "resume", args.pg)
        finally:
            shutil.rmtree(work / "resume", ignore_errors=True)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if only - {"resume"}:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        # The tuning step runs in a local worker process, which reaches this cluster by RAY_ADDRESS; the
        # cluster's two CPUs are the trials'.
        os.environ["RAY_ADDRESS"] = ray.get_runtime_context().gcs_address
    try:
        if "monitor" in only:
            figures["monitor"] = monitor(10_000_000 // scale, work / "monitor")
        # A warm-up execution starts Ray's workers and their imports before any clock.
        store = _service(work / "store")
        if only & {"overhead", "speedup"}:
            slipway_step(4, 2, busy, {"seconds": 0.1}, store)
        if "overhead" in only:
            n = 200 // scale
            figures["overhead"] = {
                "trials": n,
                "optuna_rdb": optuna_own(n, store),
                "slipway_ray": slipway_step(n, 1, constant, {}, store),
            }
        if "speedup" in only:
            n = max(4, 24 // scale)
            one = slipway_step(n, 1, busy, {"seconds": 0.1}, store)
            two = slipway_step(n, 2, busy, {"seconds": 0.1}, store)
            figures["speedup"] = {"trials": n, "one": one, "two": two, "speedup": one["trials_s"] / two["trials_s"]}
        store[1].close()
        store[0].close()
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    figures["load_after"] = os.getloadavg()[0]

    cluster = ", a local Ray cluster of 2" if only - {"resume"} else ""
    print(f"Distributed work on {figures['cpus']} CPUs{cluster} "
          f"(load average {figures['load_before']:.1f} before, {figures['load_after']:.1f} after)")
    print()
    print("| workload | figure | value | goal | met |")
    print("| --- | --- | --- | --- | --- |")
    if "overhead" in figures:
        o = figures["overhead"]
        own, ours = o["optuna_rdb"]["per_trial_s"] * 1000, o["slipway_ray"]["per_trial_s"] * 1000
        print(f"| {o['trials']} TPE trials | Optuna's own RDB storage, per trial | {own:.1f} ms | | |")
        print(f"| | Slipway, executor=ray (child run + best models + Ray task), per trial | {ours:.1f} ms | "
              f"≤ Optuna's own | {'yes' if ours <= own else 'NO'} |")
        own_cpu, our_cpu = o["optuna_rdb"]["cpu_per_trial_s"] * 1000, o["slipway_ray"]["cpu_per_trial_s"] * 1000
        print(f"| | CPU per trial, every process of the bench's (Optuna's own / Slipway's, the whole execution) | "
              f"{own_cpu:.1f} / {our_cpu:.1f} ms | | |")
    if "speedup" in figures:
        s = figures["speedup"]
        print(f"| {s['trials']} trials of 100 ms | 1 at a time | {s['one']['trials_s']:.2f} s | | |")
        print(f"| | 2 at a time | {s['two']['trials_s']:.2f} s | | |")
        print(f"| | speed-up | {s['speedup']:.2f}× | ≥ {TARGET_SPEEDUP}× | "
              f"{'yes' if s['speedup'] >= TARGET_SPEEDUP else 'NO'} |")
    if "monitor" in figures:
        m = figures["monitor"]
        agree = "yes" if m["same_rows"] and m["same_violations"] else "NO"
        print(f"| check of {m['rows']:,} rows | local engine (1 process) | {m['local_s']:.1f} s, "
              f"peak {m['local_peak_mib']:.0f} MiB | | |")
        print(f"| | ray engine (2 workers) | {m['ray_s']:.1f} s, driver peak {m['ray_driver_peak_mib']:.0f} MiB, "
              f"worker peak {m['ray_worker_peak_mib']:.0f} MiB | same rows and violations | {agree} |")
    if "resume" in figures:
        r = figures["resume"]
        goal = RESUME_GOAL_LEASES * r["lease_s"]
        for label, key in (("the other worker claims it", "claim_s"), ("its step runs again", "resume_s")):
            worst = max(r[key])
            print(f"| kill -9 of the holder mid-step, lease {r['lease_s']:g} s | {label}: median, worst of "
                  f"{r['repeats']} | {statistics.median(r[key]):.2f} s, {worst:.2f} s ({worst / r['lease_s']:.2f} "
                  f"leases) | ≤ {goal:g} s | {'yes' if worst <= goal else 'NO'} |")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
