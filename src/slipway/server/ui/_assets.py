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
    try:
        target = (root / path).resolve()
        found = target.is_relative_to(root) and target.is_file()
    except (ValueError, OSError):  # a NUL byte (x%00.txt), a name too long: no such file either
        found = False
    if not found:
        raise NotFound(f"no static file {path!r}")
    # The files change only with the package: browsers may keep them for an hour.
    return FileResponse(target, headers={"Cache-Control": "public, max-age=3600"})
