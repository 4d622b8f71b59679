"""What the server trusts a request to make it run or read: its ``pipeline_modules`` and ``dataset_roots``.

Routes that take code names (pipeline definitions, custom monitoring rules) depend on
:data:`ServerModules` and check each name with it before the domain imports anything; routes that
take a path to read on the server pass :data:`ServerSources` to the domain. Embedded callers trust
themselves and use neither.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from slipway._modules import ModulePolicy
from slipway.datasets import SourcePolicy


async def server_modules(request: Request) -> ModulePolicy:
    """The modules a definition sent here may name: the ``pipeline_modules`` setting, none when unset."""
    return ModulePolicy(request.app.state.backend.settings.pipeline_modules or ())


ServerModules = Annotated[ModulePolicy, Depends(server_modules)]


async def server_sources(request: Request) -> SourcePolicy:
    """The local folders a request may make the server read: ``dataset_roots``, none when unset."""
    return SourcePolicy(request.app.state.backend.settings.dataset_roots or ())


ServerSources = Annotated[SourcePolicy, Depends(server_sources)]
