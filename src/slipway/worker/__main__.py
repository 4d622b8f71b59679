"""``python -m slipway.worker [PARENT_PID]``: the worker ``slipway server`` starts beside its API.

With a parent pid, the worker exits when that process is gone (the server was killed): its
claims then run out and another worker takes its work over.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from slipway._config import load_settings
from slipway.worker._loop import Worker

_WATCH_PARENT_S = 1.0


def _watch(parent: int) -> None:
    while True:
        time.sleep(_WATCH_PARENT_S)
        if os.getppid() != parent:
            os._exit(1)  # orphaned: the server is gone, and whatever this worker held is taken over


def main(argv: list[str]) -> None:
    worker = Worker.for_settings(load_settings())
    if argv:
        threading.Thread(target=_watch, args=(int(argv[0]),), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: worker.stop(timeout=0))
    try:
        worker.run()
    finally:
        worker.backend.close()


if __name__ == "__main__":
    main(sys.argv[1:])
