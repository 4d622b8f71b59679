"""Group commit: writers that arrive while a transaction is being written share the next one.

A call to :meth:`GroupCommit.submit` returns only once its item is committed (or has failed), so
every acknowledged item is as durable as the store's setting makes a commit. When one thread
writes alone, it writes its own item at once: no hand-off to another thread, no wait. When
several threads (a server's request handlers, a training loop's workers) write at once, the
first becomes the *leader*: it takes every item queued so far and writes them in one
transaction; the others wait, and whichever finds its item still queued when that transaction
ends leads the next one. So N concurrent writers pay for about one commit per round, not N.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class _Slot(Generic[T]):
    __slots__ = ("done", "error", "item")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = False
        self.error: BaseException | None = None


class GroupCommit(Generic[T]):
    """Writes items in shared transactions through ``write``.

    Args:
        write: writes a group of items in one transaction and returns, per item, None or the
            error that item alone met (a missing run, say): those items are not stored, the
            others are. An exception it raises fails the whole group; then each of the group's
            items is written again on its own, so only the culprit fails.

    Thread-safe. ``write`` is called by one thread at a time.
    """

    def __init__(self, write: Callable[[Sequence[T]], Sequence[BaseException | None]]) -> None:
        self._write = write
        self._cond = threading.Condition(threading.Lock())
        self._queued: list[_Slot[T]] = []
        self._writing = False

    def submit(self, item: T) -> None:
        """Return once ``item`` is committed; raise the error it met."""
        slot = _Slot(item)
        with self._cond:
            self._queued.append(slot)
            while self._writing and not slot.done:
                self._cond.wait()
            if not slot.done:  # lead: write everything queued so far
                self._writing = True
                group, self._queued = self._queued, []
        if not slot.done:
            try:
                self._write_group(group)
            finally:
                with self._cond:
                    self._writing = False
                    for queued in group:
                        queued.done = True
                    self._cond.notify_all()
        if slot.error is not None:
            raise slot.error

    def _write_group(self, group: list[_Slot[T]]) -> None:
        try:
            errors = self._write([s.item for s in group])
        except Exception as exc:
            if len(group) == 1:
                group[0].error = exc
                return
            for slot in group:  # find the culprit: each item again, in its own transaction
                try:
                    slot.error = self._write([slot.item])[0]
                except Exception as own:  # noqa: BLE001 - handed to the item's caller
                    slot.error = own
            return
        except BaseException as exc:  # an interrupt: nothing of the group is stored
            for slot in group:
                slot.error = exc
            return
        for slot, error in zip(group, errors, strict=True):
            slot.error = error
