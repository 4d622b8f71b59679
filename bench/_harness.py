"""Shared plumbing for Slipway's benchmarks: timing, temp folders, server subprocesses, the report.

A benchmark script builds :class:`Row` objects (one per workload and engine, Slipway's figure next
to a baseline's) and hands them to :func:`render` and :func:`write_json`. Everything it starts goes
through a :class:`Session`, which removes its temp folders and stops its servers on exit, on an
exception, on Ctrl-C and on SIGTERM.

Only loopback addresses are ever used: servers bind 127.0.0.1 on a free port chosen here.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"


def peak_mib() -> float:
    """This process's peak resident memory since it started (``VmHWM``: not ``ru_maxrss``, which on Linux
    counts the parent a child was forked from), MiB; ``ru_maxrss`` off Linux. Standard library only: the
    incumbents' side scripts, run in their own virtualenvs, import it too."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Keep MLflow (client and server) off the network and quiet. Set before `import mlflow`.
MLFLOW_QUIET_ENV: dict[str, str] = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING": "false",
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # no background job runner in `mlflow server`
    "MLFLOW_SERVER_JOB_ENABLE_PERIODIC_TASKS": "false",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",  # a broken server fails the row fast instead of backing off
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
    "MLFLOW_LOGGING_LEVEL": "ERROR",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",  # also spares set_terminated a get_run round trip
    "GIT_PYTHON_REFRESH": "quiet",
    "PYTHONWARNINGS": "ignore",
}


# --------------------------------------------------------------------------- outcomes


class NotAvailable(Exception):
    """A figure that cannot be measured here, for a reason that is not a failure (shown as n/a)."""


@dataclass
class Measurement:
    """One engine's figure for one workload: a value, or why there is none."""

    value: float | None = None
    p95: float | None = None
    na: str | None = None  # not applicable / not available (not a failure)
    error: str | None = None  # the workload failed
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.value is not None

    def cell(self, unit: str) -> str:
        if self.error is not None:
            return f"error: {self.error}"
        if self.na is not None:
            return f"n/a ({self.na})"
        if self.value is None:
            return "—"
        text = f"{fmt_number(self.value)} {unit}"
        if self.p95 is not None:
            text += f" (p95 {fmt_number(self.p95)})"
        return text


def attempt(fn: Callable[[], Measurement]) -> Measurement:
    """Run one measurement; a failure becomes an error cell instead of ending the benchmark."""
    try:
        return fn()
    except NotAvailable as exc:
        return Measurement(na=str(exc))
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - the report shows it; the other rows still run
        text = " ".join(f"{type(exc).__name__}: {exc}".split())
        return Measurement(error=text[:160])


@dataclass(frozen=True)
class Target:
    """What counts as met: Slipway at least ``value``× faster, at most (``max``) or at least (``min``)
    ``value`` in the row's unit."""

    kind: str  # "ratio", "max" or "min"
    value: float
    than: str = "MLflow"  # what a ratio is over (the row's second column)

    def describe(self, unit: str) -> str:
        if self.kind == "ratio":
            return f"≥ {self.value:g}× {self.than}"
        if self.kind == "min":
            return f"≥ {fmt_number(self.value)} {unit}"
        return f"< {self.value:g} {unit} median"


@dataclass
class Row:
    workload: str
    engine: str
    unit: str
    higher_is_better: bool
    slipway: Measurement
    mlflow: Measurement
    target: Target | None = None

    @property
    def ratio(self) -> float | None:
        """How many times faster Slipway is (>1: faster), when both figures exist."""
        s, m = self.slipway.value, self.mlflow.value
        if s is None or m is None or s <= 0 or m <= 0:
            return None
        return s / m if self.higher_is_better else m / s

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        if self.target.kind == "ratio":
            return None if self.ratio is None else self.ratio >= self.target.value
        value = self.slipway.value
        if value is None:
            return None
        return value >= self.target.value if self.target.kind == "min" else value < self.target.value

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        data["met"] = self.met
        return data


# --------------------------------------------------------------------------- timing


def fmt_number(x: float) -> str:
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def time_rate(ops: int, body: Callable[[], Any], *, warmup: Callable[[], Any] | None = None) -> Measurement:
    """Run ``body`` (which performs ``ops`` operations) once after ``warmup``; report operations/s."""
    if warmup is not None:
        warmup()
    start = time.perf_counter()
    body()
    elapsed = time.perf_counter() - start
    return Measurement(value=ops / elapsed, extra={"ops": ops, "seconds": round(elapsed, 4)})


def time_calls(calls: Sequence[Callable[[], Any]], *,
               warmup: Sequence[Callable[[], Any]] = ()) -> Measurement:
    """Time each call; report calls/s over the whole loop, plus median and p95 latency (ms) in extra."""
    for call in warmup:
        call()
    lat: list[float] = []
    clock = time.perf_counter
    start = clock()
    for call in calls:
        t0 = clock()
        call()
        lat.append(clock() - t0)
    elapsed = clock() - start
    ms = [x * 1000 for x in lat]
    return Measurement(
        value=len(calls) / elapsed,
        extra={"ops": len(calls), "seconds": round(elapsed, 4), "median_ms": round(statistics.median(ms), 4),
               "p95_ms": round(percentile(ms, 95), 4)},
    )


def time_repeated(body: Callable[[], Any], *, repetitions: int, warmup: int = 3) -> Measurement:
    """Run ``body`` ``warmup`` times untimed, then ``repetitions`` times; report median and p95 in ms."""
    for _ in range(warmup):
        body()
    ms: list[float] = []
    for _ in range(repetitions):
        t0 = time.perf_counter()
        body()
        ms.append((time.perf_counter() - t0) * 1000)
    return Measurement(value=statistics.median(ms), p95=percentile(ms, 95),
                       extra={"repetitions": repetitions, "all_ms": [round(x, 3) for x in ms]})


# --------------------------------------------------------------------------- processes and folders


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET a loopback URL; return (status, body) for any HTTP answer, raise OSError if none."""
    if not url.startswith(f"http://{LOOPBACK}:"):
        raise ValueError(f"refusing a non-loopback URL: {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback only
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class ServerProcess:
    """A server started as a subprocess in its own process group, stopped with the whole group."""

    def __init__(self, name: str, argv: Sequence[str], *, port: int, cwd: Path, env: Mapping[str, str],
                 log_path: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.url = f"http://{LOOPBACK}:{port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(  # noqa: S603 - our own argv
            self.argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_ready(self, probe_path: str, timeout: float = 90.0) -> None:
        """Poll until the server answers HTTP at ``probe_path`` (any status); fail if it exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.proc.returncode}: {self.log_tail()}")
            try:
                http_get(self.url + probe_path, timeout=2.0)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer on {self.url} in {timeout:.0f}s: {self.log_tail()}")

    def log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace)
        # Whatever is left of the group (workers that ignored SIGTERM): kill it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self._log.close()


class Session:
    """Owns a benchmark's temp root and servers; cleans up on exit, errors, Ctrl-C and SIGTERM.

    Example:
        >>> with Session("demo") as s:
        ...     home = s.folder("engine")
    """

    def __init__(self, prefix: str, *, keep: bool = False) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"slipway-bench-{prefix}-"))
        self.keep = keep
        self._servers: list[ServerProcess] = []
        self._old_handlers: dict[int, Any] = {}

    def __enter__(self) -> Session:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._old_handlers[sig] = signal.signal(sig, _exit_on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def folder(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=False)
        return path

    def launch_server(self, name: str, argv: Sequence[str], *, port: int, cwd: Path,
                      env: Mapping[str, str]) -> ServerProcess:
        """Start a server without waiting for it (call its ``wait_ready``); it is stopped on close."""
        server = ServerProcess(name, argv, port=port, cwd=cwd, env=env, log_path=cwd / "server.log")
        self._servers.append(server)
        return server

    def start_server(self, name: str, argv: Sequence[str], *, port: int, cwd: Path, env: Mapping[str, str],
                     probe_path: str, timeout: float = 90.0) -> ServerProcess:
        """Start a server and wait until it answers HTTP at ``probe_path``."""
        server = self.launch_server(name, argv, port=port, cwd=cwd, env=env)
        try:
            server.wait_ready(probe_path, timeout)
        except BaseException:
            self.stop_server(server)
            raise
        return server

    def stop_server(self, server: ServerProcess) -> None:
        server.stop()
        if server in self._servers:
            self._servers.remove(server)

    def close(self) -> None:
        # Ignore further Ctrl-C and SIGTERM while cleaning up, so a second one leaves no orphans behind.
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while self._servers:
                self.stop_server(self._servers[-1])
            if self.keep:
                print(f"kept {self.root}", file=sys.stderr)
            else:
                shutil.rmtree(self.root, ignore_errors=True)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for sig, handler in self._old_handlers.items():
                signal.signal(sig, handler)
            self._old_handlers.clear()


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def clean_env(drop_prefixes: Sequence[str] = ("SLIPWAY_",), **extra: str) -> dict[str, str]:
    """The current environment without variables that could point a child at a real deployment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(tuple(drop_prefixes))}
    env.update(extra)
    return env


def copy_sqlite(src: Path, dst: Path) -> None:
    """Copy a SQLite database consistently (WAL included) with SQLite's backup API."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(src)) as s, contextlib.closing(sqlite3.connect(dst)) as d:
        s.backup(d)


# --------------------------------------------------------------------------- report


def _met_cell(row: Row) -> str:
    met = row.met
    if row.target is None:
        return "—"
    if met is None:
        return "?"
    return "yes" if met else "NO"


def table_rows(rows: Sequence[Row]) -> list[list[str]]:
    out = []
    for row in rows:
        ratio = row.ratio
        out.append([
            row.workload,
            row.engine,
            row.slipway.cell(row.unit),
            row.mlflow.cell(row.unit),
            f"{ratio:.1f}×" if ratio is not None else "—",
            row.target.describe(row.unit) if row.target else "—",
            _met_cell(row),
        ])
    return out


HEADERS = ["Workload", "Engine", "Slipway", "MLflow", "Slipway faster", "Target", "Met"]


def render(rows: Sequence[Row], title: str, *, plain: bool = False,
           columns: tuple[str, str] = ("Slipway", "MLflow")) -> None:
    """Print the results table: with Rich when it is installed, else as aligned plain text.

    ``columns`` names the two figures of each row (Slipway's and MLflow's unless told otherwise).
    """
    body = table_rows(rows)
    headers = ["Workload", "Engine", columns[0], columns[1], f"{columns[0]} faster", "Target", "Met"]
    if not plain:
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            plain = True
    if plain:
        widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(headers)]
        print(title)
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
        print("  ".join("-" * w for w in widths))
        for r in body:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        return
    table = Table(title=title, title_justify="left")
    for i, h in enumerate(headers):
        table.add_column(h, justify="right" if 2 <= i <= 4 else "left", no_wrap=i < 2, overflow="fold")
    for r in body:
        met = r[-1]
        style = {"yes": "green", "NO": "bold red"}.get(met)
        table.add_row(*r[:-1], f"[{style}]{met}[/{style}]" if style else met)
    # A file or pipe gets the whole table unwrapped; a terminal gets its own width.
    console = Console() if sys.stdout.isatty() else Console(width=240)
    console.print(table)


def environment() -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_json(path: Path, rows: Sequence[Row], meta: Mapping[str, Any]) -> None:
    data = {"meta": {**environment(), **meta}, "results": [r.to_dict() for r in rows]}
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


@contextlib.contextmanager
def chdir(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)
