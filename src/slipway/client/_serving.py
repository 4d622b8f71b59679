"""Remote mode of the serving control plane: :class:`ServingService`'s declared operations over HTTP.

Every declared operation is derived (:mod:`slipway.client._operations`); ``get_ground_truth`` is
written by hand for one case a query string cannot say: an empty list of inference ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from slipway.client._operations import RemoteApi, parse, remote
from slipway.serving import GroundTruth, ServingService, check_endpoint_name

if TYPE_CHECKING:
    from slipway.client._protocols import ServingApi as Declared  # for mypy: the derived methods
else:
    Declared = object


@remote(ServingService)
class RemoteServing(RemoteApi, Declared):
    """The serving control plane of a ``slipway server``: the same methods, records and errors as
    :class:`~slipway.serving.ServingService`, which documents each of them."""

    def get_ground_truth(self, name: str, inference_ids: Iterable[str] | None = None) -> list[GroundTruth]:
        ids = list(inference_ids) if inference_ids is not None else None
        if ids == []:  # "no ids" reads as "every id" in a query string: answered here, as the service answers
            self.get_endpoint(name)  # still NotFound for an unknown endpoint
            return []
        path = f"/endpoints/{check_endpoint_name(name)}/ground-truth"
        answer = self._http.request("GET", path, params={"inference_id": ids})
        found: list[GroundTruth] = parse(list[GroundTruth], answer)
        return found
