"""The routing table of one endpoint revision: which variant answers a request.

Live variants share ``1 - share`` of traffic by weight and, during a deployment, the target
variants share ``share``. A request picks a point ``u`` in [0, 1): at random, or from its request
key (so the same key lands on the same variant while the table stays the same). A table is
immutable; a server swaps in a new one when the endpoint's revision moves.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from slipway.errors import InvalidInput
from slipway.models import Signature
from slipway.serving._records import Endpoint, Variant

VARIANT_HEADER = "x-slipway-variant"


class ServedModel(Protocol):
    """What the data plane needs of a model: a :class:`~slipway.models.LoadedModel` in this process,
    or a stand-in that asks the model's own replicas (Ray Serve)."""

    @property
    def signature(self) -> Signature | None: ...

    def predict(self, data: object, params: Mapping[str, Any] | None = None) -> Any: ...


def waits_elsewhere(model: ServedModel) -> bool:
    """Whether ``model``'s predict waits on other processes (a Ray Serve deployment's replicas, which
    set ``waits_elsewhere``) rather than computing in this one: a server makes such a call on a worker
    thread, so that its event loop takes other requests meanwhile, and computes any other on the loop."""
    return bool(getattr(model, "waits_elsewhere", False))


@dataclass(frozen=True)
class Route:
    """A variant ready to answer: ``name`` is unique in the table (a target variant named like a
    live one is ``NAME-canary``); ``canary`` marks the deployment's target variants."""

    name: str
    variant: Variant
    model: ServedModel
    canary: bool


class _Weighted:
    def __init__(self, routes: Sequence[tuple[Route, float]]) -> None:
        total = sum(w for _, w in routes)
        self.routes = [r for r, w in routes if w > 0]
        self._bounds = list(itertools.accumulate(w / total for _, w in routes if w > 0))

    def pick(self, u: float) -> Route:
        return self.routes[min(bisect.bisect_right(self._bounds, u), len(self.routes) - 1)]


def unit_point(key: str) -> float:
    """A stable point in [0, 1) for a request key."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") / 2.0**64


@dataclass(frozen=True)
class VariantShare:
    """One variant as traffic sees it.

    Attributes:
        name: its name in the routing table (a target variant named like a live one is ``NAME-canary``).
        variant: the variant itself.
        share: the fraction of live traffic it answers now (0 for a shadow, which gets a copy).
        canary: one of the deployment's target variants, on trial until the rollout ends.
    """

    name: str
    variant: Variant
    share: float
    canary: bool


def traffic_split(endpoint: Endpoint) -> list[VariantShare]:
    """Every variant that answers ``endpoint``'s traffic now, live ones first, then the rollout's targets.

    What a server routes by and what the CLI and the web UI show, so all three say the same.
    """
    deployment = endpoint.deployment
    share = deployment.share if deployment is not None else 0.0
    targets = deployment.target if deployment is not None else []
    total_live, total_target = _total(endpoint.variants), _total(targets)
    out = [
        VariantShare(v.name, v, 0.0 if v.shadow else (1 - share) * v.weight / total_live, canary=False)
        for v in endpoint.variants
    ]
    taken = {v.name for v in endpoint.variants}
    out += [
        VariantShare(f"{v.name}-canary" if v.name in taken else v.name, v,
                     0.0 if v.shadow else share * v.weight / total_target, canary=True)
        for v in targets
    ]
    return out


class Routing:
    """Who answers what, for ``endpoint`` at its current revision.

    Args:
        endpoint: the endpoint, with its deployment in progress if any.
        models: loaded models by model version id, for every variant the endpoint names.
    """

    def __init__(self, endpoint: Endpoint, models: Mapping[str, ServedModel]) -> None:
        self.endpoint_id = endpoint.id
        self.revision = endpoint.revision
        deployment = endpoint.deployment
        # The window of the deployment step alarms are judged on: changes with every step.
        self.step = (deployment.id, deployment.share) if deployment is not None else None
        routes = [
            (Route(s.name, s.variant, models[s.variant.model_version_id], s.canary), s.share)
            for s in traffic_split(endpoint)
        ]
        self.by_name = {r.name: r for r, _ in routes}
        self._shares = {r.name: share for r, share in routes}
        self.shadows = [r for r, _ in routes if r.variant.shadow]
        self._live = _Weighted([(r, r.variant.weight) for r, _ in routes if not (r.canary or r.variant.shadow)])
        self._all = _Weighted(routes)

    def pick(self, u: float) -> Route:
        """The variant at point ``u`` of all live traffic."""
        return self._all.pick(u)

    def main(self) -> Route:
        """The variant answering the largest share of traffic (the first such)."""
        return max(self._all.routes or self.by_name.values(), key=lambda r: self._shares[r.name])

    def fallback(self, u: float) -> Route:
        """A live (not target) variant, for a request a target variant failed."""
        return self._live.pick(u)

    def named(self, name: str) -> Route:
        """The variant a request asked for by header.

        Raises:
            InvalidInput: naming the header, for a name the endpoint does not serve.
        """
        route = self.by_name.get(name)
        if route is None:
            raise InvalidInput(
                f"the endpoint has no variant {name!r}; it serves {', '.join(sorted(self.by_name))}",
                field=VARIANT_HEADER,
            )
        return route


def _total(variants: Sequence[Variant]) -> float:
    """The weight traffic is divided by (shadows take none); 1 when nothing takes any, to keep shares finite."""
    return sum(v.weight for v in variants if not v.shadow) or 1.0
