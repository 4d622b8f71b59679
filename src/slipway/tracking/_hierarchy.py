"""Runs under their parents: nested runs (a tuning job's trials, MLflow's ``start_run(nested=True)``)."""

from __future__ import annotations

from collections.abc import Sequence

from slipway.tracking._records import Run


def nest_runs(runs: Sequence[Run]) -> list[tuple[Run, int]]:
    """The runs, each followed by its children among them, with each one's depth below a run shown.

    A run whose parent is not among ``runs`` stands at depth 0, where it was; the children of a
    run keep their order among themselves. Every run appears once, so a page shows what it found.

    Example:
        >>> [(r.name, depth) for r, depth in nest_runs(page.runs)]   # doctest: +SKIP
        [('tuning', 0), ('trial-2', 1), ('trial-1', 1), ('baseline', 0)]
    """
    present = {r.id for r in runs}
    children: dict[str, list[Run]] = {}
    for r in runs:
        if r.parent_run_id is not None and r.parent_run_id in present and r.parent_run_id != r.id:
            children.setdefault(r.parent_run_id, []).append(r)
    nested = {c.id for kids in children.values() for c in kids}
    out: list[tuple[Run, int]] = []
    seen: set[str] = set()
    # Top-level runs first; then any left unseen (a cycle of parents, which creation prevents) as top-level.
    for root in [r for r in runs if r.id not in nested] + list(runs):
        stack = [(root, 0)]
        while stack:
            run, depth = stack.pop()
            if run.id in seen:
                continue
            seen.add(run.id)
            out.append((run, depth))
            stack.extend((c, depth + 1) for c in reversed(children.get(run.id, [])))
    return out
