"""Step inputs and outputs by reference: where they are in the artifact store, and their content hash.

Steps never hand each other bytes: a producing step stores its outputs under its own step
execution (``Owner(ObjectKind.STEP_EXECUTION, id)``, paths ``outputs/<name>/...``), and a consuming step
gets an :class:`ArtifactRef` it copies to a local folder. The digest is what cache keys and
lineage name: a file's sha256, or for a folder the sha256 of its files' relative paths and hashes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slipway._kinds import ObjectKind
from slipway.errors import InvalidInput
from slipway.lineage import NodeRef
from slipway.store.artifacts import ArtifactInfo, ArtifactStore, Owner


@dataclass(frozen=True)
class ArtifactRef:
    """A file or folder in the artifact store, with the hash of its content."""

    owner_kind: str
    owner_id: str
    path: str
    is_dir: bool
    digest: str

    @property
    def owner(self) -> Owner:
        return Owner(self.owner_kind, self.owner_id)

    def node(self, name: str | None = None) -> NodeRef:
        """Its lineage node, named like the tracking domain's run artifacts: ``kind/id/path``."""
        return NodeRef(ObjectKind.ARTIFACT, f"{self.owner_kind}/{self.owner_id}/{self.path}", name or self.path)

    def to_json(self) -> dict[str, Any]:
        return {
            "owner_kind": self.owner_kind,
            "owner_id": self.owner_id,
            "path": self.path,
            "is_dir": self.is_dir,
            "digest": self.digest,
        }


def tree_digest(files: Iterable[ArtifactInfo], folder: str) -> str:
    """The digest of a folder: sha256 over its files' paths (relative to it) and content hashes."""
    start = len(folder) + 1 if folder else 0
    lines = sorted(f"{f.path[start:]}\0{f.sha256}\n" for f in files if not f.is_dir)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def describe(store: ArtifactStore, owner: Owner, path: str) -> ArtifactRef:
    """A reference to what ``owner`` holds at ``path``, with its digest.

    Raises:
        NotFound: if ``owner`` has nothing there.
    """
    info = store.info(owner, path)
    if info.is_dir:
        digest = tree_digest(store.list(owner, info.path, recursive=True), info.path)
    else:
        assert info.sha256 is not None
        digest = info.sha256
    return ArtifactRef(owner.kind, owner.id, info.path, info.is_dir, digest)


def refs_below(
    entries: Iterable[ArtifactInfo], owner: Owner, prefix: str, names: Iterable[str]
) -> dict[str, ArtifactRef]:
    """References to the folders ``prefix/<name>`` among just-stored ``entries`` (no extra query)."""
    files = list(entries)
    refs = {}
    for name in names:
        folder = f"{prefix}/{name}"
        inside = [f for f in files if f.path.startswith(folder + "/")]
        refs[name] = ArtifactRef(owner.kind, owner.id, folder, True, tree_digest(inside, folder))
    return refs


def store_path(store: ArtifactStore, owner: Owner, path: str, local: Path) -> ArtifactRef:
    """Store a local file or folder at ``path`` of ``owner``; return the reference to it."""
    if local.is_dir():
        entries = store.put_dir(owner, path, local)
        if not entries:
            raise InvalidInput(f"the folder {local} is empty: there is nothing to store", field="path")
        return ArtifactRef(owner.kind, owner.id, path, True, tree_digest(entries, path))
    info = store.put_file(owner, path, local)
    assert info.sha256 is not None
    return ArtifactRef(owner.kind, owner.id, info.path, False, info.sha256)


def materialize(store: ArtifactStore, ref: ArtifactRef, dst: Path) -> Path:
    """Copy the file or folder ``ref`` names to ``dst`` (a file path, or a folder to fill)."""
    return store.download(ref.owner, ref.path, dst)


def read_json(store: ArtifactStore, ref: ArtifactRef) -> Any:
    """The JSON document in the file ``ref``.

    Raises:
        InvalidInput: if ``ref`` is a folder or not valid JSON.
    """
    if ref.is_dir:
        raise InvalidInput(f"{ref.path!r} is a folder, not a JSON file", field="property_file")
    try:
        return json.loads(store.read_bytes(ref.owner, ref.path))
    except ValueError as exc:
        raise InvalidInput(f"{ref.path!r} is not valid JSON: {exc}", field="property_file") from None
