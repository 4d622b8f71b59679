"""MLflow's model version stages, played by Slipway's aliases and archiving.

MLflow 2 put each version in one stage (``None``, ``Staging``, ``Production``, ``Archived``);
Slipway has aliases and archiving instead, so a stage is read and set through them:

- ``Production``: the version holds the alias ``production``; moving it there points
  ``production`` at it.
- ``Staging``: it holds the alias ``staging`` (and not ``production``); moving it there points
  ``staging`` at it.
- ``Archived``: it is archived; moving it there takes its stage aliases off and archives it.
- ``None``: none of the above; moving it there takes its stage aliases off and unarchives it.

Moving into Staging or Production takes the version out of the other one, and unarchives it.
``archive_existing_versions=True`` archives the version that held the stage before. The
registry's rules apply unchanged: ``production`` is a protected alias by default, so only an
approver moves it, and only onto an Approved version.
"""

from __future__ import annotations

from collections.abc import Iterable

from slipway.errors import Conflict, InvalidInput, NotFound
from slipway.registry import ModelVersion, RegistryService

STAGES = ("None", "Staging", "Production", "Archived")
STAGE_ALIASES = {"Production": "production", "Staging": "staging"}


def stage_of(version: ModelVersion) -> str:
    """The MLflow stage ``version`` is in (see the table above)."""
    for stage, alias in STAGE_ALIASES.items():
        if alias in version.aliases:
            return stage
    return "Archived" if version.archived else "None"


def parse_stage(stage: object) -> str:
    """MLflow's stage name for ``stage``, in any case.

    Raises:
        InvalidInput: for anything else, with MLflow's message.
    """
    for known in STAGES:
        if isinstance(stage, str) and stage.lower() == known.lower():
            return known
    raise InvalidInput(
        f"Invalid Model Version stage: {stage}. Value must be one of {', '.join(STAGES)}.", field="stage"
    )


def latest_per_stage(versions: Iterable[ModelVersion], stages: Iterable[str] = ()) -> list[ModelVersion]:
    """The highest version in each stage asked for (every stage when none is), as MLflow's
    ``get_latest_versions`` answers; in stage order."""
    wanted = {parse_stage(s) for s in stages} or set(STAGES)
    latest: dict[str, ModelVersion] = {}
    for v in versions:
        stage = stage_of(v)
        if stage in wanted and (stage not in latest or v.version > latest[stage].version):
            latest[stage] = v
    return [latest[s] for s in STAGES if s in latest]


def transition(
    registry: RegistryService, group: str, version: int, stage: str, *, archive_existing_versions: bool = False
) -> ModelVersion:
    """Put ``version`` of ``group`` into ``stage`` (see the module's table); answer it as it is then.

    Each step is one registry call, with that call's permission checks; what would refuse a later
    step (an old version still holding other aliases) is checked before the first.

    Raises:
        InvalidInput: for an unknown stage, or ``archive_existing_versions`` with a stage other than
            Staging or Production.
        Conflict, PermissionDenied: as the registry's alias moves and archiving raise them.
    """
    target = parse_stage(stage)
    if archive_existing_versions and target not in STAGE_ALIASES:
        raise InvalidInput(
            f"Model version transition cannot archive existing model versions because '{target}' is not an "
            "Active stage. Valid stages are Staging and Production.",
            field="archive_existing_versions",
        )
    current = registry.get_version(group, version)
    comment = f"MLflow stage {target}"
    if target in STAGE_ALIASES:
        alias = STAGE_ALIASES[target]
        previous = _holder(registry, group, alias)
        if previous is not None and previous.version == current.version:
            previous = None
        if archive_existing_versions and previous is not None:
            others = sorted(set(previous.aliases) - {alias})
            if others:
                raise Conflict(
                    f"{group} version {previous.version} is in {target} and holds the alias(es) {', '.join(others)}: "
                    "move them before archiving it",
                    field="archive_existing_versions",
                )
        if current.archived:
            registry.unarchive_version(group, version)
        registry.set_alias(group, alias, version, comment=comment)
        for other_stage, other_alias in STAGE_ALIASES.items():
            if other_stage != target and other_alias in current.aliases:
                registry.remove_alias(group, other_alias, comment=comment)
        if archive_existing_versions and previous is not None:
            registry.archive_version(group, previous.version)
    else:
        for alias in STAGE_ALIASES.values():
            if alias in current.aliases:
                registry.remove_alias(group, alias, comment=comment)
        if (target == "Archived") != current.archived:
            archive = registry.archive_version if target == "Archived" else registry.unarchive_version
            archive(group, version)
    return registry.get_version(group, version)


def _holder(registry: RegistryService, group: str, alias: str) -> ModelVersion | None:
    try:
        return registry.get_version_by_alias(group, alias)
    except NotFound:
        return None
