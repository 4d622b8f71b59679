"""The DAG of a pipeline: which step needs which, in an order that runs every step after its needs."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence

from slipway.errors import InvalidInput


class Dag:
    """Steps by name and their dependency edges, checked for unknown steps and cycles.

    Args:
        upstream: step name -> the names of the steps it needs, for every step, in definition order.

    Raises:
        InvalidInput: naming the step that needs a step the pipeline does not have, or the steps
            of a cycle (``a -> b -> a``).

    Example:
        >>> dag = Dag({"prep": [], "train": ["prep"], "eval": ["train", "prep"]})
        >>> dag.order
        ['prep', 'train', 'eval']
        >>> sorted(dag.descendants(["train"]))
        ['eval', 'train']
    """

    def __init__(self, upstream: Mapping[str, Sequence[str]]) -> None:
        self.upstream: dict[str, tuple[str, ...]] = {
            name: tuple(dict.fromkeys(deps)) for name, deps in upstream.items()
        }
        downstream: dict[str, list[str]] = {name: [] for name in self.upstream}
        for name, deps in self.upstream.items():
            for dep in deps:
                if dep not in downstream:
                    raise InvalidInput(
                        f"step {name!r} needs step {dep!r}, which is not part of the pipeline", field=f"steps.{name}"
                    )
                downstream[dep].append(name)
        self.downstream = {name: tuple(children) for name, children in downstream.items()}
        self.order = self._topological_order()

    def _topological_order(self) -> list[str]:
        waiting = {name: len(deps) for name, deps in self.upstream.items()}
        ready = deque(name for name, count in waiting.items() if count == 0)
        order = []
        while ready:
            name = ready.popleft()
            order.append(name)
            for child in self.downstream[name]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    ready.append(child)
        if len(order) < len(self.upstream):
            cycle = self._find_cycle({name for name, count in waiting.items() if count > 0})
            raise InvalidInput(f"the steps form a cycle: {' -> '.join(cycle)}", field=f"steps.{cycle[0]}")
        return order

    def _find_cycle(self, stuck: set[str]) -> list[str]:
        """One cycle among the steps Kahn's walk could not order, as ``[a, b, ..., a]``."""
        start = min(stuck)
        path: list[str] = []
        seen: dict[str, int] = {}
        node = start
        while node not in seen:
            seen[node] = len(path)
            path.append(node)
            node = next(dep for dep in self.upstream[node] if dep in stuck)
        flow = list(reversed(path[seen[node] :]))  # the way data flows: each step feeds the next
        first = flow.index(min(flow))
        flow = flow[first:] + flow[:first]
        return [*flow, flow[0]]

    def descendants(self, names: Iterable[str]) -> set[str]:
        """The named steps and every step that needs one of them, directly or not."""
        return self._reach(names, self.downstream)

    def ancestors(self, names: Iterable[str]) -> set[str]:
        """The named steps and every step they need, directly or not."""
        return self._reach(names, self.upstream)

    @staticmethod
    def _reach(names: Iterable[str], edges: Mapping[str, Sequence[str]]) -> set[str]:
        found = set(names)
        todo = list(found)
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in found:
                    found.add(nxt)
                    todo.append(nxt)
        return found
