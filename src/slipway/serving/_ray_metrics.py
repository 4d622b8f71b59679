"""``/metrics`` of an endpoint on Ray Serve: every ingress replica's counters, totalled by one actor.

Each ingress replica counts its requests in memory (a :class:`ClusterMetrics`) and pushes a
snapshot of its counters to the endpoint's :class:`MetricsBoard`, a named Ray actor, every
``push_seconds`` when they changed, before it answers a scrape, and when it stops. The board keeps
every replica's latest snapshot, a stopped replica's included, so the totals never go down when
the autoscaler removes a replica, and it spans the cluster's nodes (prometheus_client's
multiprocess folder, which ``slipway serve --workers N`` uses, spans one machine). Whichever
replica answers ``/metrics`` renders the board's totals: its own requests are counted up to the
scrape, the other replicas' up to their last push (at most ``push_seconds`` before).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from typing import Any

from slipway.serving._metrics import Counters, Series, ServingMetrics, add_up, render_counters

_log = logging.getLogger(__name__)
NAMESPACE = "slipway"  # the Ray namespace of the boards: the driver and the Serve replicas find them there
_TIMEOUT = 10.0  # seconds a scrape waits for the board


class MetricsBoard:
    """The latest counters of each ingress replica of one endpoint (a Ray actor; calls run one at a time)."""

    def __init__(self) -> None:
        self._latest: dict[str, dict[tuple[str, str], Counters]] = {}

    def push(self, replica: str, snapshot: dict[tuple[str, str], Counters]) -> None:
        """Keep ``replica``'s counters as they are now (they only grow)."""
        self._latest[replica] = snapshot

    def totals(self) -> dict[tuple[str, str], Counters]:
        """Every replica's counters added up, series by series."""
        return add_up(self._latest.values())

    def requests(self) -> dict[str, int]:
        """Requests each replica answered: how the traffic spread over the replicas."""
        return {replica: sum(c.requests for c in snapshot.values()) for replica, snapshot in self._latest.items()}


def board_name(endpoint: str) -> str:
    return f"slipway.{endpoint}.metrics"


def metrics_board(endpoint: str) -> Any:
    """The handle of ``endpoint``'s board, started by the first caller.

    Detached: it outlives the process that started it (Serve's replicas do too) until
    :func:`drop_board`. It reserves no CPU.
    """
    import ray

    return (
        ray.remote(MetricsBoard)
        .options(name=board_name(endpoint), namespace=NAMESPACE, lifetime="detached", get_if_exists=True, num_cpus=0)
        .remote()
    )


def drop_board(endpoint: str) -> None:
    """Stop ``endpoint``'s board, if it runs (its totals go with it)."""
    import ray

    with contextlib.suppress(ValueError):  # no such actor
        ray.kill(ray.get_actor(board_name(endpoint), namespace=NAMESPACE))


class ClusterMetrics(ServingMetrics):
    """An ingress replica's counters: recorded here, reported (:meth:`snapshot`, :meth:`render`)
    as the totals of every replica of the endpoint (see the module's docstring).

    If the board cannot be reached, a scrape answers this replica's own counters and logs why.
    """

    def __init__(self, board: Any, *, push_seconds: float = 1.0) -> None:
        super().__init__()
        self._board = board
        self._replica = secrets.token_hex(8)
        self._pushed: Series | None = None
        self._push_lock = threading.Lock()  # a snapshot and its push go together: the board never gets an older one
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(push_seconds,), name="slipway-metrics-push",
                                        daemon=True)
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self._push()
            except Exception as exc:  # the next push carries the counters: nothing is lost
                _log.warning("pushing the serving metrics failed: %s", exc)

    def _push(self) -> Any:
        """Send this replica's counters if they changed; returns the call's reference (None: unchanged)."""
        with self._push_lock:
            local = super().snapshot()
            if local == self._pushed:
                return None
            self._pushed = local
            return self._board.push.remote(self._replica, local)

    def snapshot(self) -> dict[tuple[str, str], Counters]:
        """Every replica's counters added up (this one's as they are now)."""
        import ray
        from ray.exceptions import RayError

        try:
            self._push()  # the board runs one call at a time, in order: the totals include it
            totals: dict[tuple[str, str], Counters] = ray.get(self._board.totals.remote(), timeout=_TIMEOUT)
        except (RayError, TimeoutError) as exc:
            _log.warning("the endpoint's metrics board did not answer (%s): this replica's counters only", exc)
            return super().snapshot()
        return totals

    def render(self) -> str:
        return render_counters(self.snapshot())

    def close(self) -> None:
        """Stop pushing, after a last push of this replica's final counters (they stay in the totals)."""
        import ray

        self._stop.set()
        self._thread.join()
        try:
            pushed = self._push()
            if pushed is not None:
                ray.get(pushed, timeout=_TIMEOUT)
        except Exception as exc:
            _log.warning("the last push of the serving metrics failed: %s", exc)
        super().close()


__all__ = ["ClusterMetrics", "MetricsBoard", "drop_board", "metrics_board"]
