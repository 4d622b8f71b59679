"""A local worker process: ``python -m slipway.pipelines._workerproc TASK_FD RESULT_FD PARENT_PID``.

It reads tasks from one pipe and writes results to the other until the task pipe closes, and
exits at once if the process that started it dies, so a killed orchestrator leaves no step running.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from multiprocessing.connection import Connection

from slipway.pipelines._worker import run_payload

_WATCH_PARENT_S = 1.0


def _watch_parent(pid: int) -> None:
    while True:
        time.sleep(_WATCH_PARENT_S)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            pass


def main(argv: list[str]) -> None:
    tasks = Connection(int(argv[0]), writable=False)
    results = Connection(int(argv[1]), readable=False)
    threading.Thread(target=_watch_parent, args=(int(argv[2]),), daemon=True).start()
    while True:
        try:
            payload = tasks.recv_bytes()
        except (EOFError, OSError):
            return
        results.send_bytes(run_payload(payload))


if __name__ == "__main__":
    main(sys.argv[1:])
