"""Custom rules: a user's own check over the computed statistics, named ``module:function``.

A rule is an ordinary function ``rule(current, baseline) -> Iterable[Violation]`` over the
current :class:`~slipway.statistics.DatasetStatistics` and the :class:`Baseline`. It is stored by
its import path, not pickled, so a scheduled run in ``slipway server`` imports the code as it is
then; it must be importable there, and a server imports it only from a module its
``pipeline_modules`` allow-list names (checked before every import, at creation and at each run).
Its violations may use any ``constraint_check_type`` of the rule's own (``custom_...`` by
convention) and appear in the report with the built-in ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from slipway._modules import ModulePolicy
from slipway.errors import InvalidInput
from slipway.monitoring._baseline import Baseline
from slipway.monitoring._check import Violation
from slipway.statistics import DatasetStatistics

ANY_MODULES = ModulePolicy()  # embedded mode: the local user imports what they name
CustomRule = Callable[[DatasetStatistics, Baseline], Iterable[Violation]]


def load_rule(ref: str, modules: ModulePolicy = ANY_MODULES, *, field: str = "rules") -> CustomRule:
    """The function ``module:function`` names, if ``modules`` allows its module.

    Raises:
        PermissionDenied: (naming ``field``) for a module ``modules`` does not allow, before importing it.
        InvalidInput: (naming ``field``) if the name is malformed, does not import, or is not callable.
    """
    modules.check(ref, field=field)
    module_name, sep, attribute = ref.partition(":")
    if not sep or not module_name or not attribute:
        raise InvalidInput(f"rule {ref!r} is not MODULE:FUNCTION", field=field)
    try:
        found: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise InvalidInput(f"cannot load rule {ref!r}: {exc}", field=field) from None
    if not callable(found):
        raise InvalidInput(f"rule {ref!r} is not a function", field=field)
    rule: CustomRule = found
    return rule


def apply_rules(
    refs: Sequence[str], current: DatasetStatistics, baseline: Baseline, modules: ModulePolicy = ANY_MODULES
) -> list[Violation]:
    """The violations every rule finds, rule by rule; ``modules`` says which rules may be imported.

    Raises:
        PermissionDenied: for a rule whose module ``modules`` does not allow (none is imported then).
        InvalidInput: if a rule cannot be loaded or returns something other than violations.
    """
    loaded = [load_rule(ref, modules, field=f"rules.{i}") for i, ref in enumerate(refs)]
    found: list[Violation] = []
    for ref, rule in zip(refs, loaded, strict=True):
        for violation in rule(current, baseline):
            if not isinstance(violation, Violation):
                raise InvalidInput(f"rule {ref!r} returned {type(violation).__name__}, not Violation", field="rules")
            found.append(violation)
    return found
