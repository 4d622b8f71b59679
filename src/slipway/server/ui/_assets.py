"""The UI's static files (CSS, JavaScript), served by the package itself: no CDN, no network."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import FileResponse

from slipway.errors import NotFound
from slipway.server.ui._render import UIRoute

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter(route_class=UIRoute)


@router.get("/static/{path:path}")
def static_file(path: str) -> FileResponse:
    """A file under ``static/``; a path that would leave the folder is simply not found."""
    root = STATIC_DIR.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise NotFound(f"no static file {path!r}")
    # The files change only with the package: browsers may keep them for an hour.
    return FileResponse(target, headers={"Cache-Control": "public, max-age=3600"})
