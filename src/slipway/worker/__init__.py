"""The worker: the process that does a Slipway installation's work off the API server's request path.

``slipway worker`` (and ``slipway server``, which starts one by default) claims queued pipeline
executions by their leases in the metadata database and orchestrates them, taking over those
whose holder died. Any number of workers and servers may share one database.

Example:
    >>> from slipway import load_settings
    >>> from slipway.worker import Worker
    >>> Worker.for_settings(load_settings()).run()  # doctest: +SKIP
"""

from slipway.worker._loop import Worker

__all__ = ["Worker"]
