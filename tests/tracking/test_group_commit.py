"""Single metric points from many threads share commits, and each caller still learns its own outcome."""

import threading
from collections.abc import Sequence

import pytest
from _polling import until

from slipway.errors import Conflict, NotFound
from slipway.tracking import TrackingService
from slipway.tracking._group_commit import GroupCommit


def test_threads_logging_at_once_lose_nothing_and_each_sees_its_own_error(tracking: TrackingService) -> None:
    runs = [tracking.create_run(name=f"r{i}").id for i in range(4)]
    gone = tracking.create_run(name="gone").id
    tracking.delete_run(gone)
    failures: list[BaseException] = []

    def log(run_id: str) -> None:
        for step in range(60):
            tracking.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)

    def log_to_deleted() -> None:
        for step in range(20):
            try:
                tracking.log_metric(gone, "loss", 1.0, step=step)
            except Conflict as exc:
                failures.append(exc)

    threads = [threading.Thread(target=log, args=(r,)) for r in runs] + [threading.Thread(target=log_to_deleted)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(failures) == 20, "every point of the deleted run is refused, to its own caller"
    for run_id in runs:
        assert [m.step for m in tracking.get_metric_history(run_id, "loss")] == list(range(60))
        assert tracking.get_run(run_id).metrics["loss"].step == 59
    with pytest.raises(NotFound):
        tracking.log_metric("no-such-run", "loss", 1.0)


def test_writers_queued_behind_a_commit_share_the_next_one() -> None:
    groups: list[list[str]] = []
    first_started, release = threading.Event(), threading.Event()

    def write(items: Sequence[str]) -> list[BaseException | None]:
        groups.append(list(items))
        if len(groups) == 1:
            first_started.set()
            release.wait(30)
        return [ValueError(i) if i == "bad" else None for i in items]

    group: GroupCommit[str] = GroupCommit(write)
    errors: dict[str, BaseException | None] = {}

    def submit(item: str) -> None:
        try:
            group.submit(item)
            errors[item] = None
        except ValueError as exc:
            errors[item] = exc

    leader = threading.Thread(target=submit, args=("first",))
    leader.start()
    first_started.wait(30)
    followers = [threading.Thread(target=submit, args=(i,)) for i in ("a", "bad", "b")]
    for t in followers:
        t.start()
    until(lambda: len(group._queued) == 3, 30, "three writers queued behind the first commit")
    release.set()
    for t in [leader, *followers]:
        t.join(30)
    assert groups[0] == ["first"]
    assert sorted(groups[1]) == ["a", "b", "bad"], "the three waiting writers share one commit"
    assert errors["a"] is None and errors["b"] is None and errors["first"] is None
    assert isinstance(errors["bad"], ValueError)
