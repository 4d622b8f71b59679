"""The package manifest, ``slipway-model.json``: what the folder holds and how to read it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from slipway.errors import InvalidInput
from slipway.models._signature import Signature

MANIFEST = "slipway-model.json"
FORMAT_VERSION = 1


class ModelInfo(BaseModel):
    """The contents of a package's manifest, as :func:`save_model` wrote it.

    Attributes:
        format_version: the manifest's layout version; a newer one than this Slipway reads is refused.
        flavor: the flavor that wrote the model files.
        flavor_config: what the flavor recorded to read them back (file names, model class…).
        signature: the model's inputs and outputs, when known.
        input_example: the file holding the input example, if one was saved.
        model_card: the file holding the model card, if one was saved.
        packages: the versions of Python, NumPy, pandas and the framework the model was made with.
        created_at: when the package was written (UTC).
        metadata: the caller's free-form, JSON-serialisable metadata.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: int = Field(ge=1)
    flavor: str
    flavor_config: dict[str, Any]
    signature: Signature | None = None
    input_example: str | None = None
    model_card: str | None = None
    packages: dict[str, str]
    created_at: datetime
    metadata: dict[str, Any] = Field(default_factory=dict)


def write_manifest(folder: Path, info: ModelInfo) -> None:
    """Write ``info`` as the manifest of ``folder``."""
    (folder / MANIFEST).write_text(info.model_dump_json(indent=2) + "\n", encoding="utf-8")


def read_manifest(folder: Path) -> ModelInfo:
    """Read and check the manifest of ``folder``.

    Raises:
        InvalidInput: when the manifest is missing, is not JSON, does not match :class:`ModelInfo`
            (``field`` names the first wrong field), or comes from a newer format.
    """
    path = folder / MANIFEST
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(
            f"{folder} is not a Slipway model package: it has no {MANIFEST}", field="path"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path} is not valid JSON: {exc}", field=MANIFEST) from exc
    version = body.get("format_version") if isinstance(body, dict) else None
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise InvalidInput(
            f"{path} has format version {version}; this Slipway reads up to {FORMAT_VERSION}, upgrade it",
            field="format_version",
        )
    try:
        return ModelInfo.model_validate(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or MANIFEST
        raise InvalidInput(f"{path} is malformed: {field}: {error['msg']}", field=field) from exc
