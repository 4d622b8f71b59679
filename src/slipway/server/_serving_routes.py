"""REST routes of the serving control plane: endpoints, deployments, rollbacks and ground truth.

Each route translates a request and calls :class:`~slipway.serving.ServingService`, which checks
the variants, strategy, capture and alarm settings itself, so a remote caller gets the error an
embedded one gets, naming the same field. The bodies take those settings as plain objects for
that reason. Predictions are not here: ``POST /endpoints/{name}/invocations`` is the data plane's
(:mod:`slipway.serving._app`), outside the ``/api/v1`` prefix as inference servers place it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from slipway.security import Permission
from slipway.server._guard import needs
from slipway.server._operations import JSON_BODY_LIMIT
from slipway.serving import Deployment, Endpoint, GroundTruth, ServingService


async def _serving(request: Request) -> ServingService:
    service: ServingService = request.app.state.backend.serving
    return service


Serving = Annotated[ServingService, Depends(_serving)]
router = APIRouter(prefix="/endpoints", tags=["serving"], max_body_size=JSON_BODY_LIMIT)

_VARIANTS = 'a list of {"model": "GROUP/VERSION", "name", "weight", "workers", "shadow"}'


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateEndpoint(_Body):
    name: str
    variants: list[Any] = Field(description=_VARIANTS)
    capture: dict[str, Any] | None = Field(None, description='{"sampling_percent", "max_records_per_file"}')
    alarms: dict[str, Any] | None = Field(None, description='{"max_error_rate", "max_p99_ms", "min_requests"}')
    force: bool = Field(False, description="serve versions that are not Approved (admins only)")
    production: bool = Field(False, description="a production endpoint: changing it needs the approver role")


class UpdateEndpoint(_Body):
    variants: list[Any] | None = Field(None, description=_VARIANTS)
    strategy: dict[str, Any] | None = Field(
        None, description='{"kind": all_at_once|canary|linear, "share", "bake_seconds"}'
    )
    capture: dict[str, Any] | None = None
    alarms: dict[str, Any] | None = None
    force: bool = False
    production: bool | None = Field(None, description="mark (true) or unmark (false) as production: approvers only")


class Rollback(_Body):
    reason: str = "rolled back by hand"


class GroundTruthUpload(_Body):
    labels: list[Any] = Field(description='a list of {"inference_id", "label"}')


class Stored(BaseModel):
    stored: int


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.READ)])
def create_endpoint(body: CreateEndpoint, serving: Serving) -> Endpoint:
    return serving.create_endpoint(
        body.name, body.variants, capture=body.capture, alarms=body.alarms, force=body.force, production=body.production
    )


@router.get("", dependencies=[needs(Permission.READ)])
def list_endpoints(serving: Serving) -> list[Endpoint]:
    return serving.list_endpoints()


@router.get("/{name}", dependencies=[needs(Permission.READ)])
def get_endpoint(name: str, serving: Serving) -> Endpoint:
    return serving.get_endpoint(name)


@router.patch("/{name}", dependencies=[needs(Permission.READ)])
def update_endpoint(name: str, body: UpdateEndpoint, serving: Serving) -> Endpoint:
    return serving.update_endpoint(
        name, body.variants, strategy=body.strategy, capture=body.capture, alarms=body.alarms, force=body.force,
        production=body.production,
    )


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               dependencies=[needs(Permission.READ)])
def delete_endpoint(name: str, serving: Serving) -> None:
    serving.delete_endpoint(name)


@router.post("/{name}/rollback", dependencies=[needs(Permission.READ)])
def rollback(name: str, body: Rollback, serving: Serving) -> Endpoint:
    return serving.rollback(name, body.reason)


@router.get("/{name}/deployments", dependencies=[needs(Permission.READ)])
def list_deployments(name: str, serving: Serving) -> list[Deployment]:
    return serving.list_deployments(name)


@router.post("/{name}/ground-truth", dependencies=[needs(Permission.WRITE)])
def put_ground_truth(name: str, body: GroundTruthUpload, serving: Serving) -> Stored:
    return Stored(stored=serving.put_ground_truth(name, body.labels))


@router.get("/{name}/ground-truth", dependencies=[needs(Permission.READ)])
def get_ground_truth(
    name: str, serving: Serving, inference_id: Annotated[list[str] | None, Query()] = None
) -> list[GroundTruth]:
    return serving.get_ground_truth(name, inference_id)
