"""Is the process that orchestrates an execution still alive?

Each orchestrator writes who it is (``host:pid:start``, where ``start`` is when the process
began, so a recycled pid is not mistaken for it) and a heartbeat every few seconds. On the same
host the answer comes from the process table at once; from another host, a heartbeat older than
:data:`STALE_AFTER_MS` means the orchestrator is gone.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path

HEARTBEAT_INTERVAL_S = 2.0
STALE_AFTER_MS = 30_000


def _start_time(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, Linux), or None if it is not running."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; the fields after it are space-separated.
    return stat.rsplit(")", 1)[1].split()[19]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orchestrator_id() -> str:
    """Who this process is, as stored with the executions it runs."""
    return _identity(os.getpid())


@functools.lru_cache(maxsize=4)
def _identity(pid: int) -> str:
    """Read once per process (keyed by pid, so a forked child is itself)."""
    return f"{socket.gethostname()}:{pid}:{_start_time(pid) or '?'}"


def is_alive(orchestrator: str | None, heartbeat_at: int | None, now_ms: int) -> bool:
    """Whether the orchestrator named ``orchestrator`` is still running its execution."""
    if not orchestrator:
        return False
    if orchestrator == orchestrator_id():  # this process: alive, as it asks
        return True
    host, _, rest = orchestrator.partition(":")
    pid_text, _, started = rest.partition(":")
    if host == socket.gethostname() and pid_text.isdigit():
        pid = int(pid_text)
        if started != "?" and Path("/proc").is_dir():
            return _start_time(pid) == started
        return _running(pid)
    return heartbeat_at is not None and now_ms - heartbeat_at < STALE_AFTER_MS
