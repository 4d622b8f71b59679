"""Producing the next item in a background thread while the caller consumes the current one.

Materializing encodes records (Arrow kernels, which release the GIL) and writes them (SQLite's
B-tree work and Redis's round trips, which do too): with the encoding of chunk n + 1 running
while chunk n is written, the two share the machine's cores instead of taking turns.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """``items``, computed up to ``depth`` ahead in a daemon thread.

    An exception raised while producing is raised here, at the item it replaced. If the caller
    stops early (an exception, or closing the iterator), the thread stops at its next item.
    """
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            put(_Failed(exc))
            return
        put(_DONE)

    threading.Thread(target=produce, name="slipway-prefetch", daemon=True).start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
