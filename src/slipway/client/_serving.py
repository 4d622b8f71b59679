"""Remote mode of the serving control plane: :class:`ServingService`'s methods over HTTP.

Each method sends one request and parses the record the service returns; the server's service
validates and raises, so embedded and remote callers get the same answers and errors. Settings
given as records (:class:`VariantSpec`, :class:`Strategy`, ...) travel as their JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from slipway.client._http import HttpSession
from slipway.client._operations import parse as _parse
from slipway.serving import Deployment, Endpoint, GroundTruth, check_endpoint_name

T = TypeVar("T")


def _plain(value: Any) -> Any:
    """Records as JSON objects, lists of them as lists; anything else as given (the server checks it)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _endpoint(name: str, rest: str = "") -> str:
    return f"/endpoints/{check_endpoint_name(name)}{rest}"  # checked first: the name goes into the path


class RemoteServing:
    """The serving control plane of a ``slipway server``: the same methods, records and errors as
    :class:`~slipway.serving.ServingService`, which documents each of them."""

    def __init__(self, http: HttpSession) -> None:
        self._http = http

    def _call(self, kind: type[T], method: str, path: str, **request: Any) -> T:
        return _parse(kind, self._http.request(method, path, **request))

    def create_endpoint(
        self,
        name: str,
        variants: Sequence[Any],
        *,
        capture: Any = None,
        alarms: Any = None,
        force: bool = False,
        production: bool = False,
    ) -> Endpoint:
        body = {"name": name, "variants": _plain(variants), "capture": _plain(capture), "alarms": _plain(alarms)}
        return self._call(Endpoint, "POST", "/endpoints", json={**body, "force": force, "production": production})

    def get_endpoint(self, name: str) -> Endpoint:
        return self._call(Endpoint, "GET", _endpoint(name))

    def list_endpoints(self) -> list[Endpoint]:
        return self._call(list[Endpoint], "GET", "/endpoints")

    def update_endpoint(
        self,
        name: str,
        variants: Sequence[Any] | None = None,
        *,
        strategy: Any = None,
        capture: Any = None,
        alarms: Any = None,
        force: bool = False,
        production: bool | None = None,
    ) -> Endpoint:
        body = {
            "production": production,
            "variants": _plain(variants),
            "strategy": _plain(strategy),
            "capture": _plain(capture),
            "alarms": _plain(alarms),
            "force": force,
        }
        return self._call(Endpoint, "PATCH", _endpoint(name), json=body)

    def rollback(self, name: str, reason: str = "rolled back by hand") -> Endpoint:
        return self._call(Endpoint, "POST", _endpoint(name, "/rollback"), json={"reason": reason})

    def delete_endpoint(self, name: str) -> None:
        self._http.request("DELETE", _endpoint(name))

    def list_deployments(self, name: str) -> list[Deployment]:
        return self._call(list[Deployment], "GET", _endpoint(name, "/deployments"))

    def put_ground_truth(self, name: str, labels: Iterable[GroundTruth | Mapping[str, Any]]) -> int:
        answer = self._http.request("POST", _endpoint(name, "/ground-truth"), json={"labels": _plain(list(labels))})
        return int(answer["stored"])

    def get_ground_truth(self, name: str, inference_ids: Iterable[str] | None = None) -> list[GroundTruth]:
        ids = list(inference_ids) if inference_ids is not None else None
        if ids == []:
            self.get_endpoint(name)  # still NotFound for an unknown endpoint, as the service
            return []
        return self._call(list[GroundTruth], "GET", _endpoint(name, "/ground-truth"), params={"inference_id": ids})
