"""Remote mode of automation: :class:`AutomationService`'s declared operations over HTTP.

Every method is derived (:mod:`slipway.client._operations`): the server's service validates and
raises, so embedded and remote callers get the same answers and errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slipway.automation import AutomationService
from slipway.client._operations import RemoteApi, remote

if TYPE_CHECKING:
    from slipway.client._protocols import AutomationApi as Declared  # for mypy: the derived methods
else:
    Declared = object


@remote(AutomationService)
class RemoteAutomation(RemoteApi, Declared):
    """Automation on a ``slipway server``: the same methods, records and errors as
    :class:`~slipway.automation.AutomationService`, which documents each of them."""
