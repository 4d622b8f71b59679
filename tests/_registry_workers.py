"""Worker processes for the registry's concurrency tests: importable by name from a spawned process
(``tests/`` is on the path; a test module's own name is not importable there)."""

from pathlib import Path
from typing import Any

from slipway._principal import Principal, acting_as
from slipway.errors import Conflict
from slipway.registry import ApprovalStatus, RegistryService
from slipway.store import Database
from slipway.store.artifacts import ArtifactStore, LocalStorage
from slipway.tracking import TrackingService


def make_registry(db: Database, root: Path) -> RegistryService:
    """A registry with its artifacts and cache under ``root``."""
    artifacts = ArtifactStore(db, LocalStorage(root / "artifacts"))
    return RegistryService(db, artifacts, TrackingService(db, artifacts), cache_dir=root / "cache")


def open_registry(url: str, root: str) -> tuple[Database, RegistryService]:
    """A worker's own engine and registry over the shared store."""
    db = Database(url)
    db.ensure_schema()
    return db, make_registry(db, Path(root))


def register(url: str, root: str, package: str, barrier: Any, count: int) -> None:
    db, registry = open_registry(url, root)
    barrier.wait()
    for _ in range(count):
        registry.register_model("race", Path(package))
    db.dispose()


def set_status(
    url: str, root: str, barrier: Any, who: str, status: str, versions: int, expect: bool, conflicts: Any
) -> None:
    db, registry = open_registry(url, root)
    with acting_as(Principal(who)):
        for number in range(1, versions + 1):
            barrier.wait()
            try:
                registry.update_status(
                    "race", number, status, comment=who, expected_status=ApprovalStatus.PENDING if expect else None
                )
            except Conflict:
                with conflicts.get_lock():
                    conflicts.value += 1
    db.dispose()


def move_alias(url: str, root: str, barrier: Any, worker: int, moves: int, versions: int) -> None:
    db, registry = open_registry(url, root)
    barrier.wait()
    for n in range(moves):
        registry.set_alias("race", "prod", (worker + n) % versions + 1, comment=f"w{worker}")
    db.dispose()
