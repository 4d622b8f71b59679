"""Aliases: one version per alias, moved atomically, with a history that answers "which version, when"."""

import datetime as dt
from pathlib import Path

import pytest

from slipway._principal import Principal, acting_as
from slipway.errors import Conflict, InvalidInput, NotFound
from slipway.registry import RegistryService


def _approved(registry: RegistryService, package: Path, count: int) -> None:
    """``count`` Approved versions of ``g``: ``prod`` points only at those."""
    for _ in range(count):
        registry.approve("g", registry.register_model("g", package).version)


def test_an_alias_moves_from_version_to_version(registry: RegistryService, package: Path) -> None:
    _approved(registry, package, 3)
    registry.set_alias("g", "prod", 1)
    registry.set_alias("g", "staging", 2)
    moved = registry.set_alias("g", "prod", 2, comment="rollout")
    assert moved.aliases == ["prod", "staging"]
    assert registry.get_version("g", 1).aliases == []
    assert registry.get_group("g").aliases == {"prod": 2, "staging": 2}
    assert registry.get_version_by_alias("g", "prod").version == 2


def test_alias_history_and_removal(registry: RegistryService, package: Path) -> None:
    _approved(registry, package, 2)
    with acting_as(Principal("ana")):
        registry.set_alias("g", "prod", 1)
        registry.set_alias("g", "prod", 1)  # already there: nothing recorded
        registry.set_alias("g", "prod", 2, comment="v2 wins")
    with acting_as(Principal("bo")):
        registry.remove_alias("g", "prod", comment="incident")
    history = registry.alias_history("g", "prod")
    assert [(h.version, h.previous_version, h.changed_by, h.comment) for h in history] == [
        (1, None, "ana", None),
        (2, 1, "ana", "v2 wins"),
        (None, 2, "bo", "incident"),
    ]
    with pytest.raises(NotFound, match="no alias 'prod'"):
        registry.get_version_by_alias("g", "prod")
    with pytest.raises(NotFound):
        registry.remove_alias("g", "prod")
    assert registry.alias_history("g", "staging") == []


def test_alias_at_answers_which_version_held_it_at_a_date(registry: RegistryService, package: Path) -> None:
    _approved(registry, package, 3)
    registry.set_alias("g", "prod", 1)
    registry.set_alias("g", "prod", 3)
    registry.remove_alias("g", "prod")
    registry.set_alias("g", "prod", 2)
    h = registry.alias_history("g", "prod")
    before = h[0].changed_at - dt.timedelta(milliseconds=1)
    assert registry.alias_at("g", "prod", before) is None
    held = [registry.alias_at("g", "prod", change.changed_at) for change in h]
    # Entries that share a millisecond resolve to the last of them, as the moves committed.
    expected = [next(x.version for x in reversed(h) if x.changed_at == change.changed_at) for change in h]
    assert [v.version if v else None for v in held] == expected
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    assert registry.alias_at("g", "prod", now).version == 2  # type: ignore[union-attr]
    naive_ms = int(now.timestamp() * 1000)
    assert registry.alias_at("g", "prod", naive_ms).version == 2  # type: ignore[union-attr]


def test_alias_at_across_days(registry: RegistryService, package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Moves made on different days: the answer for each day is the version that held it then."""
    import slipway.registry._aliases as aliases

    _approved(registry, package, 3)
    day = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    for n, version in enumerate([1, 2, 3]):
        moment = int((day + dt.timedelta(days=10 * n)).timestamp() * 1000)
        monkeypatch.setattr(aliases, "now_ms", lambda moment=moment: moment)
        registry.set_alias("g", "prod", version)
    assert registry.alias_at("g", "prod", dt.datetime(2026, 2, 28, tzinfo=dt.UTC)) is None
    assert registry.alias_at("g", "prod", dt.datetime(2026, 3, 5, tzinfo=dt.UTC)).version == 1  # type: ignore[union-attr]
    assert registry.alias_at("g", "prod", dt.datetime(2026, 3, 15, tzinfo=dt.UTC)).version == 2  # type: ignore[union-attr]
    assert registry.alias_at("g", "prod", dt.datetime(2026, 4, 1, tzinfo=dt.UTC)).version == 3  # type: ignore[union-attr]
    # A time without a zone could be UTC or local: refused, as every service refuses it.
    with pytest.raises(InvalidInput, match="time zone") as caught:
        registry.alias_at("g", "prod", dt.datetime(2026, 4, 1))
    assert caught.value.field == "when"


def test_history_times_never_go_backwards(
    registry: RegistryService, package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer whose clock lags still lands after the move it followed."""
    import slipway.registry._aliases as aliases

    _approved(registry, package, 2)
    registry.set_alias("g", "prod", 1)
    first = registry.alias_history("g", "prod")[0].changed_at
    monkeypatch.setattr(aliases, "now_ms", lambda: int(first.timestamp() * 1000) - 60_000)
    registry.set_alias("g", "prod", 2)
    assert registry.alias_history("g", "prod")[1].changed_at == first
    assert registry.alias_at("g", "prod", first).version == 2  # type: ignore[union-attr]


def test_archived_versions_cannot_take_an_alias(registry: RegistryService, package: Path) -> None:
    registry.register_model("g", package)
    registry.archive_version("g", 1)
    with pytest.raises(Conflict, match="archived"):
        registry.set_alias("g", "prod", 1)


@pytest.mark.parametrize("alias", ["Prod", "latest", "latest-approved", "9x"])
def test_bad_aliases_are_refused(registry: RegistryService, package: Path, alias: str) -> None:
    registry.register_model("g", package)
    with pytest.raises(InvalidInput) as exc:
        registry.set_alias("g", alias, 1)
    assert exc.value.field == "alias"


def test_a_protected_alias_points_only_at_approved_versions_and_keeps_them_approved(
    registry: RegistryService, package: Path
) -> None:
    alias = "production"  # protected by default, with prod and champion
    registry.register_model("g", package)
    registry.register_model("g", package)
    with pytest.raises(Conflict, match="only at Approved versions; g version 1 is PendingManualApproval"):
        registry.set_alias("g", alias, 1)
    registry.set_alias("g", "staging", 1)  # any other alias goes anywhere
    registry.approve("g", 1)
    registry.set_alias("g", alias, 1)
    for status in ("Rejected", "PendingManualApproval"):
        with pytest.raises(Conflict, match=f"holds the protected alias.*{alias}.*before setting it {status}"):
            registry.update_status("g", 1, status)
    assert registry.get_version("g", 1).status.value == "Approved"
    registry.approve("g", 2)
    registry.set_alias("g", alias, 2)
    assert registry.reject("g", 1).approved_content_hash is None  # no longer held: it may go
    assert registry.get_version("g", 2).approved_content_hash == registry.get_version("g", 2).content_hash
