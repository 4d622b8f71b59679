"""Remote mode of lineage: :class:`~slipway.lineage.LineageService`'s declared operations over HTTP.

Every method is derived (:mod:`slipway.client._operations`): the server walks the graph, so
embedded and remote callers get the same graphs and errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slipway.client._operations import RemoteApi, remote
from slipway.lineage import LineageService

if TYPE_CHECKING:
    from slipway.client._protocols import LineageApi as Declared  # for mypy: the derived methods
else:
    Declared = object


@remote(LineageService)
class RemoteLineage(RemoteApi, Declared):
    """Lineage on a ``slipway server``: the same methods, records and errors as
    :class:`~slipway.lineage.LineageService`, which documents each of them."""
