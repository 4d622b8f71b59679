"""Where MLflow's client finds files: ``mlflow-artifacts:/`` URIs over Slipway's artifact owners.

The server hands out these URIs as a run's ``artifact_uri``, a logged model's
``artifact_location`` and a model version's download URI; the client turns them into calls to
``/api/2.0/mlflow-artifacts/artifacts/<path>``, whose ``<path>`` this module maps back::

    runs/<run_id>/<path>                     the run's artifacts
    logged-models/<model_id>/<path>          a logged model's files
    model-versions/<version_id>/<path>       a registered version's package (read-only)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from slipway.errors import InvalidInput
from slipway.models import MLFLOW_FOLDER
from slipway.store.artifacts import normalize_path

SCHEME = "mlflow-artifacts:/"


class Area(StrEnum):
    RUN = "runs"
    LOGGED_MODEL = "logged-models"
    MODEL_VERSION = "model-versions"


@dataclass(frozen=True)
class Location:
    """A path below one owner's files: ``area``/``owner_id``/``path``."""

    area: Area
    owner_id: str
    path: str = ""

    @property
    def uri(self) -> str:
        return f"{SCHEME}{self.area.value}/{self.owner_id}" + (f"/{self.path}" if self.path else "")


def run_root(run_id: str) -> str:
    return Location(Area.RUN, run_id).uri


def logged_model_root(model_id: str) -> str:
    return Location(Area.LOGGED_MODEL, model_id).uri


def version_root(version_id: str) -> str:
    """The MLflow folder inside a registered version's package, which MLflow's client loads."""
    return Location(Area.MODEL_VERSION, version_id, MLFLOW_FOLDER).uri


def parse_location(path: str, field: str = "path") -> Location:
    """Read ``runs/<id>/sub/file`` (an artifact route's path, or a URI without its scheme).

    Raises:
        InvalidInput: for a path outside the three areas, without an owner id, or that tries to
            leave its owner's files (``..``).
    """
    area, _, rest = path.strip("/").partition("/")
    owner_id, _, sub = rest.partition("/")
    try:
        kind = Area(area)
    except ValueError:
        raise InvalidInput(
            f"artifact path {path!r} must start with {', '.join(a.value + '/<id>' for a in Area)}", field=field
        ) from None
    if not owner_id:
        raise InvalidInput(f"artifact path {path!r} names no {kind.value[:-1].replace('-', ' ')} id", field=field)
    return Location(kind, owner_id, normalize_path(sub, field=field))


def parse_uri(uri: str, field: str = "source") -> Location:
    """Read an ``mlflow-artifacts:/...`` URI this server handed out (also ``mlflow-artifacts://host/...``)."""
    if not uri.startswith(SCHEME):
        raise InvalidInput(f"{uri!r} is not an {SCHEME} URI", field=field)
    rest = uri[len(SCHEME) :]
    if rest.startswith("/"):  # mlflow-artifacts://host:port/path
        rest = rest[1:].partition("/")[2]
    return parse_location(rest, field)
