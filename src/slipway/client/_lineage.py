"""Remote mode of lineage: :class:`~slipway.lineage.LineageService`'s declared operations over HTTP.

Every method is derived (:mod:`slipway.client._operations`): the server walks the graph, so
embedded and remote callers get the same graphs and errors.
"""

from slipway.client._operations import derived_client
from slipway.lineage import LineageService

RemoteLineage = derived_client(LineageService, "RemoteLineage", __name__)
