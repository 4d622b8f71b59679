"""The local folders a request may make the server read: its ``dataset_roots``.

Routes that take a path to read on the server pass :data:`ServerSources` to the domain. Code names
(pipeline definitions, custom monitoring rules) need nothing here: the services hold the server's
confinement themselves (``Backend.confine``). Embedded callers trust themselves and use neither.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from slipway.datasets import SourcePolicy


async def server_sources(request: Request) -> SourcePolicy:
    """The local folders a request may make the server read: ``dataset_roots``, none when unset."""
    policy: SourcePolicy = request.app.state.backend.confinement.sources
    return policy


ServerSources = Annotated[SourcePolicy, Depends(server_sources)]
