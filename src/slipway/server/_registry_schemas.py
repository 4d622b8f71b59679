"""Request bodies of the registry's REST routes.

They check only the shape a request must have to be read. Names, metrics, metadata, statuses
and aliases are checked by :class:`~slipway.registry.RegistryService`, so a remote caller gets
the same error, naming the same field, as an embedded one; the rules are quoted in the field
descriptions for readers of the spec.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from slipway.registry import MAX_SEARCH_RESULTS


class Body(BaseModel):
    """Unknown fields are an error: a misspelt field must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


GROUP = "1 to 128 letters, digits, _ . -, starting with a letter or digit"
METRICS = 'name -> number, or {"value": number, "std": number}; finite numbers only'
TAGS = "key -> value; keys as run tag keys"


class CreateModelGroup(Body):
    name: str = Field(description=GROUP)
    description: str | None = None
    tags: dict[str, Any] | None = Field(None, description=TAGS)


class UpdateModelGroup(Body):
    description: str | None = None
    tags: dict[str, Any] | None = Field(None, description=f"{TAGS}; added to or overwriting the group's")


class CreateModelVersion(Body):
    version_id: str = Field(description="the id the package's files were uploaded under (PUT .../files/{path})")
    metrics: dict[str, Any] | None = Field(None, description=METRICS)
    description: str | None = None
    metadata: dict[str, Any] | None = Field(None, description="free-form JSON object, at most 1 MiB")
    tags: dict[str, Any] | None = Field(None, description=TAGS)
    source_run_id: str | None = None
    source_step_execution_id: str | None = Field(None, description="instead of source_run_id")


class UpdateModelVersion(Body):
    description: str | None = None
    tags: dict[str, Any] | None = Field(None, description=f"{TAGS}; added to or overwriting the version's")


class UpdateStatus(Body):
    status: str = Field(description="PendingManualApproval, Approved or Rejected")
    comment: str | None = Field(None, description="at most 4000 characters")
    expected_status: str | None = Field(None, description="change only if the version still has this status")


class SetAlias(Body):
    version: int
    comment: str | None = None


class CompareVersions(Body):
    versions: list[int] = Field(description="two or more version numbers")


class SearchVersions(Body):
    group: str | None = None
    filter: str | None = Field(None, description="e.g. \"metrics.mse < 5 and status = 'Approved'\"")
    status: str | None = None
    alias: str | None = None
    tags: dict[str, Any] | None = None
    include_archived: bool = False
    max_results: int = Field(1000, ge=1, le=MAX_SEARCH_RESULTS)
