"""What the server trusts a request to make it run: the modules of its ``pipeline_modules`` setting.

Routes that take code names (pipeline definitions, custom monitoring rules) depend on
:data:`ServerModules` and check each name with it before the domain imports anything.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from slipway._modules import ModulePolicy


async def server_modules(request: Request) -> ModulePolicy:
    """The modules a definition sent here may name: the ``pipeline_modules`` setting, none when unset."""
    return ModulePolicy(request.app.state.backend.settings.pipeline_modules or ())


ServerModules = Annotated[ModulePolicy, Depends(server_modules)]
