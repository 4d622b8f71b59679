"""Light steps: run in the orchestrator's own thread, with no worker process around them.

A step marked ``light`` (``ProcessingStep(..., light=True)``) skips the hop to a worker: no pipe,
no pickling, no process switch, so a short step costs little more than its state transitions. It
goes through the same :func:`~slipway.pipelines._worker.run_task` as a worker's step: its outputs
and logs are stored, its transitions recorded, its result cached, retried and linked in lineage
like any other. What it gives up is isolation:

- its code shares the orchestrator's process: its memory, its imports, and its fate (a crash or a
  hang of the step is the orchestrator's);
- it cannot be killed: a stop waits for it to return, and it may have no timeout;
- only what it writes through Python's ``sys.stdout`` and ``sys.stderr`` from its own thread is
  its log (:class:`ThreadCapture`); a subprocess's or native code's output goes to the
  orchestrator's.

Which code may run light on a server is the server's decision, never a request's: see
:func:`slipway.pipelines._admission.check_definition` and the ``light_step_modules`` setting.
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from slipway.pipelines._worker import Assignment, LogCapture, TaskResult, run_task

_LOCAL = threading.local()  # the buffers of the light step this thread runs, if any
_INSTALL_LOCK = threading.Lock()
_USERS = 0  # light steps running in this process: the streams are swapped while there is one


class _ThreadStream:
    """Stands in for ``sys.stdout`` or ``sys.stderr`` while light steps run: a write from a thread
    running one goes to its buffer, any other to the stream it replaced."""

    def __init__(self, which: str, original: TextIO) -> None:
        self._which = which
        self.original = original

    def _target(self) -> TextIO:
        buffer: TextIO | None = getattr(_LOCAL, self._which, None)
        return self.original if buffer is None else buffer

    def write(self, text: str) -> int:
        return self._target().write(text)

    def writelines(self, lines: Any) -> None:
        self._target().writelines(lines)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, isatty, ...: the real stream's
        return getattr(self.original, name)


def _install() -> None:
    global _USERS
    with _INSTALL_LOCK:
        if _USERS == 0:
            sys.stdout = _ThreadStream("stdout", sys.stdout)  # type: ignore[assignment]
            sys.stderr = _ThreadStream("stderr", sys.stderr)  # type: ignore[assignment]
        _USERS += 1


def _uninstall() -> None:
    global _USERS
    with _INSTALL_LOCK:
        _USERS -= 1
        if _USERS == 0:
            # Put back what was replaced, unless someone swapped the stream again since.
            if isinstance(sys.stdout, _ThreadStream):
                sys.stdout = sys.stdout.original
            if isinstance(sys.stderr, _ThreadStream):
                sys.stderr = sys.stderr.original


class ThreadCapture(LogCapture):
    """What the calling thread writes to ``sys.stdout`` and ``sys.stderr``, kept in memory."""

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}

    @contextlib.contextmanager
    def captured(self) -> Iterator[None]:
        out, err = io.StringIO(), io.StringIO()
        _install()
        _LOCAL.stdout, _LOCAL.stderr = out, err
        try:
            yield
        finally:
            _LOCAL.stdout = _LOCAL.stderr = None
            _uninstall()
            self._texts = {"stdout.txt": out.getvalue(), "stderr.txt": err.getvalue()}

    def logs(self) -> Iterator[tuple[str, Path | bytes]]:
        for name, text in self._texts.items():
            if text:
                yield name, text.encode("utf-8", errors="surrogateescape")


def run_light(assignment: Assignment, step: Any) -> TaskResult:
    """Run one attempt of a light step in the calling thread and return how it ended."""
    return run_task(assignment, step, ThreadCapture())


__all__ = ["ThreadCapture", "run_light"]
