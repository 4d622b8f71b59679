"""MLflow's proxied artifact routes (``/api/2.0/mlflow-artifacts/artifacts/<path>``) over Slipway's artifact store.

``<path>`` is one of the locations :mod:`slipway.mlflow_compat._locations` hands out (a run's
artifacts, a logged model's files, a registered version's package). Uploads are spooled to disk
past 1 MiB and downloads streamed in chunks, so no file is held whole in memory. Multipart
uploads are not offered: MLflow's client uses them only when told to
(``MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD``), and falls back to a plain upload when refused.
"""

from __future__ import annotations

import posixpath
import tempfile
from collections.abc import Iterator
from typing import Any, BinaryIO, cast

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from slipway.mlflow_compat import parse_location
from slipway.security import Permission
from slipway.server._guard import needs
from slipway.server._operations import backend_of
from slipway.server.mlflow._convert import drop_none
from slipway.server.mlflow._errors import MlflowRoute, not_implemented
from slipway.server.mlflow._fields import Fields

CHUNK = 1 << 20
SPOOL_IN_MEMORY = 1 << 20
router = APIRouter(route_class=MlflowRoute)
# Declared raw bytes (for the spec, and so the server's body limits treat the route as an upload).
_RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}



@router.get("/artifacts", dependencies=[needs(Permission.READ)])
def list_artifacts(request: Request) -> dict[str, Any]:
    """The entries right below ``path``, named relative to it, as MLflow's server lists them."""
    location = parse_location(Fields.from_query(request.query_params).text("path") or "")
    files = backend_of(request).mlflow.list_files(location)
    return {"files": [drop_none({"path": posixpath.basename(i.path), "is_dir": i.is_dir, "file_size": i.size})
                      for i in files]}


@router.put("/artifacts/{path:path}", openapi_extra=_RAW_BODY, dependencies=[needs(Permission.WRITE)])
async def upload_artifact(path: str, request: Request) -> dict[str, Any]:
    location = parse_location(path)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        await run_in_threadpool(backend_of(request).mlflow.put_file, location, cast(BinaryIO, spool))
    return {}


@router.get("/artifacts/{path:path}", dependencies=[needs(Permission.READ)])
def download_artifact(path: str, request: Request) -> StreamingResponse:
    """Stream one file; it is opened first, so a missing file is a 404 in MLflow's shape, not a broken body."""
    stream = backend_of(request).mlflow.open_file(parse_location(path))
    return StreamingResponse(_chunks(stream), media_type="application/octet-stream")


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    with stream:
        while chunk := stream.read(CHUNK):
            yield chunk


@router.delete("/artifacts/{path:path}", dependencies=[needs(Permission.WRITE)])
def delete_artifact(path: str) -> dict[str, Any]:
    raise not_implemented("deleting artifacts (Slipway keeps a run's artifacts with the run)")


@router.post("/mpu/{action}/{path:path}", dependencies=[needs(Permission.WRITE)])
def multipart(action: str, path: str) -> dict[str, Any]:
    raise not_implemented("multipart artifact upload")
