"""Constant traffic to an endpoint from a few threads, for deployments that must drop no request."""

from __future__ import annotations

import threading
from collections import Counter

import httpx

BODY = {"dataframe_records": [{"a": 1.0, "b": 2.0, "c": 0.0}]}


class Traffic:
    """Threads posting to an endpoint until stopped, counting answers by status (0: no answer) and variant."""

    def __init__(self, url: str, threads: int = 4, headers: dict[str, str] | None = None) -> None:
        self.statuses: Counter[int] = Counter()
        self.variants: Counter[str] = Counter()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(url, headers)) for _ in range(threads)]

    def _run(self, url: str, headers: dict[str, str] | None) -> None:
        with httpx.Client(timeout=10, headers=headers) as http:
            while not self._stop.is_set():
                try:
                    resp = http.post(url, json=BODY)
                except httpx.TransportError:  # a dropped connection is a failed request too: status 0
                    with self._lock:
                        self.statuses[0] += 1
                    continue
                with self._lock:
                    self.statuses[resp.status_code] += 1
                    self.variants[resp.headers.get("x-slipway-variant", "")] += 1

    def __enter__(self) -> Traffic:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()
