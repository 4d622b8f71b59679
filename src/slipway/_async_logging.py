"""Asynchronous metric logging: ``log_metric(..., synchronous=False)`` returns before the point is stored.

A :class:`MetricQueue` belongs to one run. Points are checked when logged (a bad key or value
fails the call, as in synchronous mode), stamped with the time of the call, and written by one
background thread in batches of up to :data:`BATCH` points through the client's ``log_batch``
(so embedded and remote runs behave alike).

Durability: a point is *acknowledged* once :meth:`MetricQueue.flush` has returned after it was
logged; ``ActiveRun.end`` (and leaving ``with start_run()``) flushes, and so does the
interpreter's exit (``atexit``). Only unacknowledged points can be lost: by a crash or kill of
the process, or by a write that fails in the background, whose error the next ``flush`` (or
``end``) raises. Acknowledged points are as durable as a synchronous call's (the store's
``db_synchronous`` level).
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from slipway._time import now_ms
from slipway.tracking.validation import check_metric

BATCH = 1000  # points per background write: one transaction (one request, remote)

_live: weakref.WeakSet[MetricQueue] = weakref.WeakSet()


class MetricQueue:
    """Metric points of one run, written in the background in order.

    Args:
        write: called with the run id and a list of point mappings (``key``, ``value``, ``step``,
            ``timestamp``): the client's ``tracking.log_batch(run_id, metrics=...)``.
        run_id: the run the points belong to.
    """

    def __init__(self, write: Callable[..., Any], run_id: str) -> None:
        self._write = write
        self.run_id = run_id
        self._points: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._queued = 0  # points ever queued
        self._done = 0  # points ever handed to a write (stored, or lost with an error)
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._drain, name=f"slipway-metrics-{run_id[:8]}", daemon=True)
        self._thread.start()
        _live.add(self)

    def put(self, key: str, value: float, step: int = 0) -> None:
        """Queue one point (checked now, stamped now); returns without waiting for the store."""
        key, value, step = check_metric(key, value, step)
        self.put_many([{"key": key, "value": value, "step": step, "timestamp": now_ms()}])

    def put_checked(self, values: Sequence[tuple[str, float]], step: int = 0) -> None:
        """Queue several points of one step, checked and stamped now."""
        at = now_ms()
        points = []
        for k, val in values:
            key, value, checked_step = check_metric(k, val, step)
            points.append({"key": key, "value": value, "step": checked_step, "timestamp": at})
        self.put_many(points)

    def put_many(self, points: list[dict[str, Any]]) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError(f"run {self.run_id}'s asynchronous logging has been closed")
            self._points.extend(points)
            self._queued += len(points)
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every point queued before this call is written; raise a background error.

        Raises:
            TimeoutError: if the points are not written within ``timeout`` seconds.
            Exception: the first error a background write met (those points are lost).
        """
        with self._cond:
            target = self._queued
            if not self._cond.wait_for(lambda: self._done >= target or not self._thread.is_alive(), timeout):
                raise TimeoutError(f"{target - self._done} metric points of run {self.run_id} not written yet")
            error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self, timeout: float | None = None) -> None:
        """Flush, then stop the background thread."""
        try:
            self.flush(timeout)
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
            self._thread.join(timeout)
            _live.discard(self)

    def _drain(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._points) or self._closed)
                if not self._points and self._closed:
                    return
                batch, self._points = self._points[:BATCH], self._points[BATCH:]
            try:
                self._write(self.run_id, metrics=batch)
            except BaseException as exc:  # noqa: BLE001 - kept for the next flush to raise
                with self._cond:
                    self._error = self._error or exc
            with self._cond:
                self._done += len(batch)
                self._cond.notify_all()


@atexit.register
def _flush_at_exit() -> None:
    """Write what is still queued when the interpreter exits (errors cannot be raised any more)."""
    for queue in list(_live):
        with contextlib.suppress(BaseException):  # at exit there is no caller left to tell
            queue.close(timeout=60)
