"""Several uvicorn worker processes on one listening socket, for ``slipway server`` and ``slipway serve``.

uvicorn's own ``workers=N`` makes the shared socket as ``socket.socket(family)``, whose protocol
is 0; asyncio sets TCP_NODELAY only on connections accepted from a socket whose protocol is
IPPROTO_TCP, so every response's body then waits for the client's delayed ACK of its headers,
~40 ms a request. Both commands start their workers here instead, on a socket made with its
protocol named.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from uvicorn.supervisors import Multiprocess

# A worker loading its models may not answer the supervisor's ping for a while on a busy
# machine; uvicorn's default 5 s would have it killed and restarted, over and over.
WORKER_HEALTHCHECK_S = 60


def run_workers(app_factory: str, count: int, *, host: str, port: int, log_level: str) -> None:
    """Run ``count`` processes of the app built by ``app_factory`` ("module:function") until stopped (blocks)."""
    config = uvicorn.Config(app_factory, factory=True, workers=count, log_level=log_level,
                            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S)
    with _listening(host, port) as sock:
        Multiprocess(config, sockets=[sock]).run()


@contextlib.contextmanager
def _listening(host: str, port: int) -> Iterator[socket.socket]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.set_inheritable(True)
        yield sock
    finally:
        sock.close()
