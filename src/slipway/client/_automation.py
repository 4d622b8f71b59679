"""Remote mode of automation: :class:`AutomationService`'s declared operations over HTTP.

Every method is derived (:mod:`slipway.client._operations`): the server's service validates and
raises, so embedded and remote callers get the same answers and errors.
"""

from slipway.automation import AutomationService
from slipway.client._operations import derived_client

RemoteAutomation = derived_client(AutomationService, "RemoteAutomation", __name__)
