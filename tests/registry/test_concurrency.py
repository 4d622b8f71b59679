"""Processes racing on one registry lose no update, on SQLite and on PostgreSQL.

Each worker (in ``tests/_registry_workers.py``) is a fresh process (spawn), with its own engine
and connection pool, as two ``slipway`` commands or two servers would be. A barrier releases them
together so their transactions really overlap.
"""

import multiprocessing as mp
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import _registry_workers as race
import pytest

from slipway.registry import ApprovalStatus, RegistryService

JOIN_TIMEOUT_S = 240
VERSIONS = 6


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def shared(store_url: str, tmp_path: Path, package: Path) -> Iterator[RegistryService]:
    """The registry the test reads, holding ``VERSIONS`` versions of the group ``race``.

    The workers open their own over the same engines.
    """
    db, registry = race.open_registry(store_url, str(tmp_path))
    for _ in range(VERSIONS):
        registry.register_model("race", package)
    yield registry
    db.dispose()


def _run(target: Callable[..., None], args: list[tuple[Any, ...]]) -> None:
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=target, args=a) for a in args]
    for p in procs:
        p.start()
    for p in procs:
        p.join(JOIN_TIMEOUT_S)
    assert [p.exitcode for p in procs] == [0] * len(procs), "a worker failed (see its traceback above)"


def test_concurrent_registrations_get_consecutive_numbers(
    shared: RegistryService, store_url: str, tmp_path: Path, package: Path
) -> None:
    workers, each = 4, 3
    barrier = mp.get_context("spawn").Barrier(workers)
    _run(race.register, [(store_url, str(tmp_path), str(package), barrier, each) for _ in range(workers)])
    numbers = sorted(v.version for v in shared.list_versions("race"))
    total = VERSIONS + workers * each
    assert numbers == list(range(1, total + 1))
    assert shared.get_group("race").latest_version == total


def test_approve_and_reject_at_once_each_land_with_their_own_history_entry(
    shared: RegistryService, store_url: str, tmp_path: Path
) -> None:
    rounds = VERSIONS
    ctx = mp.get_context("spawn")
    barrier, conflicts = ctx.Barrier(2), ctx.Value("i", 0)
    _run(
        race.set_status,
        [
            (store_url, str(tmp_path), barrier, who, status, rounds, False, conflicts)
            for who, status in (("approver", "Approved"), ("rejecter", "Rejected"))
        ],
    )
    assert conflicts.value == 0
    for number in range(1, rounds + 1):
        history = shared.status_history("race", number)
        # Both changes landed, one after the other: neither was lost or overwritten unseen.
        assert len(history) == 2, history
        assert history[0].from_status is ApprovalStatus.PENDING
        assert history[1].from_status is history[0].to_status
        assert {h.changed_by for h in history} == {"approver", "rejecter"}
        assert shared.get_version("race", number).status is history[1].to_status


def test_with_expected_status_the_loser_gets_a_conflict(
    shared: RegistryService, store_url: str, tmp_path: Path
) -> None:
    rounds = VERSIONS
    ctx = mp.get_context("spawn")
    barrier, conflicts = ctx.Barrier(2), ctx.Value("i", 0)
    _run(
        race.set_status,
        [
            (store_url, str(tmp_path), barrier, who, status, rounds, True, conflicts)
            for who, status in (("approver", "Approved"), ("rejecter", "Rejected"))
        ],
    )
    assert conflicts.value == rounds  # exactly one loser per round
    for number in range(1, rounds + 1):
        history = shared.status_history("race", number)
        assert len(history) == 1
        assert shared.get_version("race", number).status is history[0].to_status


def test_concurrent_alias_moves_leave_the_alias_on_one_version(
    shared: RegistryService, store_url: str, tmp_path: Path
) -> None:
    workers, moves, versions = 4, 10, 3
    for number in range(1, versions + 1):
        shared.approve("race", number)  # prod points only at Approved versions
    barrier = mp.get_context("spawn").Barrier(workers)
    _run(race.move_alias, [(store_url, str(tmp_path), barrier, w, moves, versions) for w in range(workers)])
    holders = [v.version for v in shared.list_versions("race") if "prod" in v.aliases]
    assert len(holders) == 1
    assert shared.get_group("race").aliases == {"prod": holders[0]}
    history = shared.alias_history("race", "prod")
    assert history[0].previous_version is None
    for before, after in zip(history, history[1:], strict=False):
        assert after.previous_version == before.version  # each move saw the one before it
        assert after.changed_at >= before.changed_at
    assert history[-1].version == holders[0]
    assert shared.alias_at("race", "prod", history[-1].changed_at).version == holders[0]  # type: ignore[union-attr]
