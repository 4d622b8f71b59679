"""Control steps, decided by the runner itself: Condition (branching), Fail (stop with a message), Wait.

They run no user code, so they never take a worker: a condition is a comparison of values that
are already stored, a fail step ends the execution, and a wait step holds its branch until a
signal arrives through the service, the REST API or ``slipway pipelines signal``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from slipway.errors import InvalidInput
from slipway.pipelines._expressions import (
    Condition,
    Operand,
    Resolver,
    StepName,
    condition_from_json,
)
from slipway.pipelines.steps._base import Step


class ConditionStep(Step):
    """Choose a branch: ``if_steps`` when every condition holds, ``else_steps`` otherwise.

    The steps of the branch not taken are recorded as Skipped, and so is every step that needs
    one of them. The branch steps depend on the condition step, so they wait for it.

    Args:
        name: the step's name.
        conditions: one condition or several (all must hold); build them by comparing operands,
            e.g. ``JsonGet(evaluate, report, "mse") <= threshold``.
        if_steps: the steps that run when the conditions hold.
        else_steps: the steps that run otherwise.

    Example:
        >>> check = ConditionStep(
        ...     "CheckMSE", conditions=JsonGet(evaluate, report, "regression_metrics.mse.value") <= threshold,
        ...     if_steps=[register], else_steps=[fail],
        ... )  # doctest: +SKIP
    """

    type_name = "Condition"
    in_worker = False
    cacheable = False

    def __init__(
        self,
        name: str,
        conditions: Condition | Sequence[Condition],
        *,
        if_steps: Iterable[Step | str] = (),
        else_steps: Iterable[Step | str] = (),
        **common: Any,
    ) -> None:
        super().__init__(name, **common)
        self.conditions = [conditions] if isinstance(conditions, Condition) else list(conditions)
        for condition in self.conditions:
            if not isinstance(condition, Condition):
                raise InvalidInput(
                    f"step {name!r}: {condition!r} is not a condition (compare operands to make one)",
                    field=f"steps.{name}.conditions",
                )
        self.if_steps: list[Step | StepName] = [StepName(s) if isinstance(s, str) else s for s in if_steps]
        self.else_steps: list[Step | StepName] = [StepName(s) if isinstance(s, str) else s for s in else_steps]

    def operands(self) -> Iterator[Operand]:
        for condition in self.conditions:
            yield from condition.operands()

    def linked_steps(self) -> Iterator[Step]:
        for step in (*self.if_steps, *self.else_steps):
            if isinstance(step, Step):
                yield step

    def branch_names(self) -> tuple[list[str], list[str]]:
        return [s.name for s in self.if_steps], [s.name for s in self.else_steps]

    def check(self) -> None:
        super().check()
        overlap = set(self.branch_names()[0]) & set(self.branch_names()[1])
        if overlap:
            raise InvalidInput(
                f"step {self.name!r}: {sorted(overlap)[0]!r} is in both branches", field=f"steps.{self.name}.if_steps"
            )

    def evaluate(self, resolver: Resolver) -> bool:
        return all(c.evaluate(resolver) for c in self.conditions)

    def spec(self) -> dict[str, Any]:
        if_names, else_names = self.branch_names()
        return {"conditions": [c.to_json() for c in self.conditions], "if_steps": if_names, "else_steps": else_names}

    @classmethod
    def from_spec(cls, name: str, spec: Mapping[str, Any], common: dict[str, Any]) -> ConditionStep:
        return cls(
            name,
            [condition_from_json(c) for c in spec["conditions"]],
            if_steps=spec.get("if_steps", ()),
            else_steps=spec.get("else_steps", ()),
            **common,
        )


class FailStep(Step):
    """End the execution as Failed, with a message (text, or a :class:`~slipway.pipelines.Join` of values).

    Example:
        >>> fail = FailStep("MSETooHigh", message=Join("MSE above ", threshold))  # doctest: +SKIP
    """

    type_name = "Fail"
    in_worker = False
    cacheable = False
    encoded = ("message",)

    def __init__(self, name: str, message: Any = "", **common: Any) -> None:
        super().__init__(name, **common)
        self.message = message


class WaitStep(Step):
    """Pause this branch until a signal arrives, e.g. a person's approval, or fail at ``timeout``.

    Signal it with ``client.pipelines.signal(execution_id, step, payload)``, ``POST
    /pipeline-executions/{id}/steps/{step}/signal`` or ``slipway pipelines signal``. The payload
    (a JSON object) becomes the step's properties, so a condition after it can read it with
    ``JsonGet(wait, None, "approved")``.

    Example:
        >>> approval = WaitStep("ManualApproval", timeout=dt.timedelta(hours=8))  # doctest: +SKIP
    """

    type_name = "Wait"
    in_worker = False
    cacheable = False
