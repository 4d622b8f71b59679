"""Serving bundles: an endpoint and its model files in one folder, served with no database.

``slipway models bundle`` and ``slipway endpoints bundle`` write a bundle; ``slipway serve
--bundle DIR`` serves it through the same runtime as any endpoint (:class:`ServingHost`), with a
fixed endpoint in place of the control plane and the bundle's folders in place of the registry.

A bundle is a folder::

    slipway-bundle.json          the manifest (:class:`BundleManifest`): the endpoint (variants,
                                 weights, shadows, capture and alarm settings), each model
                                 version (group, number, flavor, signature, approval status,
                                 content hash, the trust mark an admin set), and the SHA-256 of
                                 every file under models/
    models/GROUP/VERSION/...     each version's package, as registered (slipway-model.json, files)
    Dockerfile                   an image running exactly ``slipway serve --bundle /bundle``
    kubernetes.yaml              a Deployment and a Service running that image

Opening a bundle (:func:`open_bundle`) hashes every file under ``models/`` before anything is
loaded: a file changed, missing or added is refused by its path, and each version's files must
also hash to the content hash its registration recorded.

**Trust.** A version whose files run code when loaded (cloudpickle, MLflow's flavors, skops
with types beyond its safe list) is bundled only if an admin marked it trusted in the registry,
and the bundle records who and when. But anyone who can write the folder can write the
manifest, hashes included, so the manifest cannot vouch for itself: ``serve --bundle`` honours
a recorded mark only when whoever starts it pins the bundle's digest (the SHA-256 of the
manifest, which names every file's hash) with ``--expect-digest`` or ``SLIPWAY_BUNDLE_DIGEST``,
taken from the output of the ``bundle`` run they trust (a CI log), not from a copy of the
folder. Without the pin, a bundle still serves every version in a format that runs no code.
The pin refuses a bundle whose manifest differs in any byte, marks included.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import Field

from slipway._references import ModelUri
from slipway._version import __version__
from slipway.errors import (
    AlreadyExists,
    Conflict,
    ContentMismatch,
    InvalidInput,
    MissingExtra,
    NotFound,
    UntrustedModel,
)
from slipway.models import LoadedModel, load_model, read_manifest
from slipway.registry import ApprovalStatus, ModelVersion, verified_package
from slipway.serving._app import ServingHost
from slipway.serving._capture import CaptureStore, StorageCapture
from slipway.serving._container import merge_packages, write_container_files
from slipway.serving._metrics import ServingMetrics
from slipway.serving._records import (
    Alarms,
    CaptureConfig,
    Endpoint,
    EndpointStatus,
    IngressReplicas,
    Record,
    Variant,
    WindowStats,
)
from slipway.serving._service import check_endpoint_name
from slipway.store.artifacts import Owner, file_sha256, storage_from_url, tree_digest

BUNDLE_MANIFEST = "slipway-bundle.json"
BUNDLE_FORMAT = 1
DIGEST_ENV = "SLIPWAY_BUNDLE_DIGEST"
_MODELS = "models"
_GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # a group's name, so no path of its own (.. included)
_log = logging.getLogger(__name__)


class BundledModel(Record):
    """One model version in a bundle, as the registry knew it when the bundle was written.

    Attributes:
        path: its package folder, relative to the bundle (``models/GROUP/VERSION``).
        content_hash: what its files hash to (:func:`~slipway.store.artifacts.tree_digest`), as
            its registration recorded.
        trusted_by, trusted_at: the admin's trust mark, if the version had one: honoured only
            when the bundle's digest is pinned (see the module's docs).
    """

    version_id: str
    group: str
    version: int
    path: str
    flavor: str | None = None
    signature: dict[str, Any] | None = None
    status: ApprovalStatus
    content_hash: str
    aliases: list[str] = []
    trusted_by: str | None = None
    trusted_at: datetime | None = None

    @property
    def trusted(self) -> bool:
        """Whether the bundle records an admin's trust mark (not whether it is honoured)."""
        return self.trusted_by is not None

    @property
    def uri(self) -> str:
        return f"models:/{self.group}/{self.version}"


class BundleManifest(Record):
    """``slipway-bundle.json``: what a bundle serves and the SHA-256 of each of its model files."""

    format_version: int = Field(ge=1)
    slipway_version: str
    created_at: datetime
    source: str  # what was bundled: "models:/abalone@prod" or "endpoint abalone"
    endpoint: Endpoint
    models: list[BundledModel]
    files: dict[str, str]  # path under the bundle -> sha256 hex


@dataclass(frozen=True)
class Bundle:
    """A bundle folder whose files were checked against its manifest.

    Attributes:
        path: the folder.
        manifest: its manifest.
        digest: ``sha256:`` and the SHA-256 of the manifest's bytes: it fixes every file.
        pinned: whether the digest was pinned when it was opened, so trust marks are honoured.
    """

    path: Path
    manifest: BundleManifest
    digest: str
    pinned: bool = False

    @property
    def endpoint(self) -> Endpoint:
        return self.manifest.endpoint

    def serving_host(
        self,
        *,
        capture_url: str | None = None,
        capture_percent: float | None = None,
        poll_seconds: float = 60.0,
        max_batch_size: int = 1,
        max_wait_ms: float = 2.0,
        metrics: ServingMetrics | None = None,
    ) -> ServingHost:
        """A :class:`ServingHost` for this bundle's endpoint, reading nothing but the folder
        (capture as :meth:`parts`)."""
        plane, models, store = self.parts(capture_url=capture_url, capture_percent=capture_percent)
        return ServingHost(
            plane,
            models,
            store,
            poll_seconds=poll_seconds,
            max_batch_size=max_batch_size,
            max_wait_ms=max_wait_ms,
            metrics=metrics,
        )

    def parts(
        self, *, capture_url: str | None = None, capture_percent: float | None = None
    ) -> tuple[FixedPlane, BundleModels, CaptureStore]:
        """What serves this bundle in place of the database: its endpoint (with the capture
        settings below), its models, and where captured files go.

        Args:
            capture_url: where captured records go (a folder, ``file://`` or ``s3://`` URL), under
                ``ENDPOINT/capture/YYYY/MM/DD/HH/``; None captures nothing.
            capture_percent: the share of requests captured; by default the endpoint's setting,
                or every request if it sets none.
        """
        endpoint = self.endpoint
        if capture_url is None:
            percent = 0.0
        elif capture_percent is not None:
            percent = capture_percent
        else:
            percent = endpoint.capture.sampling_percent or 100.0
        capture = CaptureConfig.parse(
            {**endpoint.capture.model_dump(), "sampling_percent": percent}, "capture"
        )
        fixed = endpoint.model_copy(update={"capture": capture})
        store = StorageCapture(storage_from_url(capture_url), endpoint.name) if capture_url is not None else _Nowhere()
        return FixedPlane(fixed), BundleModels(self), store


class RegistrySource(Protocol):
    """What writing a bundle reads of the registry: embedded or remote (``client.registry``)."""

    def resolve(self, uri: str) -> ModelVersion: ...

    def download_version(self, group: str, version: int, dst: str | Path) -> Path: ...


# ------------------------------------------------------------------ writing


def bundle_model(
    registry: RegistrySource, ref: str, output: str | Path, *, name: str | None = None, force: bool = False
) -> Bundle:
    """Write a bundle serving one model version as an endpoint of one variant.

    Example:
        >>> bundle = bundle_model(slipway.get_client().registry, "abalone@prod", "abalone-bundle")
        >>> bundle.digest
        'sha256:5f1c...'

    Args:
        ref: ``GROUP/VERSION``, ``GROUP@ALIAS`` (or a ``models:/`` URI).
        output: the folder to write; it must not exist or be empty.
        name: the endpoint's name [default: the group's].
        force: bundle a version that is not Approved.

    Raises:
        NotFound: for a version that does not exist.
        Conflict: for a version not Approved, without ``force``.
        UntrustedModel: for a version whose files run code when loaded, unless an admin marked it trusted.
        ContentMismatch: if the downloaded files are not the ones registered.
        AlreadyExists: if ``output`` is not an empty folder.
    """
    version = registry.resolve(str(ModelUri.of(ref)))
    endpoint_name = check_endpoint_name(name if name is not None else version.group)
    now = datetime.now(UTC)
    variant = Variant.model_validate({"model": f"{version.group}/{version.version}", "model_version_id": version.id})
    endpoint = Endpoint(
        id=f"bundle-{secrets.token_hex(8)}",
        name=endpoint_name,
        status=EndpointStatus.IN_SERVICE,
        variants=[variant],
        capture=CaptureConfig.model_validate({}),
        alarms=Alarms.model_validate({}),
        revision=1,
        created_by="bundle",
        created_at=now,
        updated_by="bundle",
        updated_at=now,
    )
    return _write(registry, endpoint, str(ModelUri.of(ref)), Path(output), force=force)


def bundle_endpoint(registry: RegistrySource, endpoint: Endpoint, output: str | Path, *, force: bool = False) -> Bundle:
    """Write a bundle serving ``endpoint``'s live and shadow variants, with their weights and its
    capture and alarm settings. A deployment in progress is left out: its target variants are not
    bundled.

    Raises:
        (as :func:`bundle_model`)
    """
    fixed = endpoint.model_copy(update={"status": EndpointStatus.IN_SERVICE, "reason": None, "deployment": None})
    return _write(registry, fixed, f"endpoint {endpoint.name}", Path(output), force=force)


def _write(registry: RegistrySource, endpoint: Endpoint, source: str, output: Path, *, force: bool) -> Bundle:
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise AlreadyExists(f"{output} already exists and is not an empty folder", field="output")
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.parent / f".{output.name}.{secrets.token_hex(6)}.partial"
    staging.mkdir()
    try:
        models = []
        with tempfile.TemporaryDirectory(prefix="slipway-bundle-") as cache:
            for variant in _distinct(endpoint.variants):
                models.append(_add_version(registry, variant, staging, Path(cache), force=force))
        files = dict(_hash_files(staging, staging / _MODELS))
        manifest = BundleManifest(
            format_version=BUNDLE_FORMAT,
            slipway_version=__version__,
            created_at=datetime.now(UTC),
            source=source,
            endpoint=endpoint,
            models=models,
            files=files,
        )
        text = manifest.model_dump_json(indent=2) + "\n"
        (staging / BUNDLE_MANIFEST).write_text(text, encoding="utf-8")
        digest = _digest(text.encode())
        packages = merge_packages([read_manifest(staging / m.path).packages for m in models])
        write_container_files(staging, manifest, digest, packages)
        if output.exists():
            output.rmdir()
        staging.rename(output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Bundle(output, manifest, digest)


def _distinct(variants: Iterable[Variant]) -> list[Variant]:
    seen: dict[str, Variant] = {}
    for v in variants:
        seen.setdefault(v.model_version_id, v)
    return list(seen.values())


def _add_version(
    registry: RegistrySource, variant: Variant, staging: Path, cache: Path, *, force: bool
) -> BundledModel:
    """Copy a variant's version into ``staging/models/GROUP/VERSION``, checked as registered."""
    version = registry.resolve(f"models:/{variant.model}")
    if version.id != variant.model_version_id:
        raise Conflict(f"{variant.model} is no longer the version the endpoint serves", field="variants")
    if version.status is not ApprovalStatus.APPROVED and not force:
        raise Conflict(
            f"{version.uri} is {version.status.value}, not Approved: bundle it anyway with --force", field="force"
        )
    folder = verified_package(
        cache, version, lambda dst: registry.download_version(version.group, version.version, dst)
    )
    _check_trust(version, folder)
    relative = _folder_of(version.group, version.version)
    target = staging / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(folder, target, symlinks=False)
    assert version.content_hash is not None  # verified_package refused a version without one
    return BundledModel(
        version_id=version.id,
        group=version.group,
        version=version.version,
        path=relative,
        flavor=version.flavor,
        signature=version.signature,
        status=version.status,
        content_hash=version.content_hash,
        aliases=list(version.aliases),
        trusted_by=version.trusted_by if version.trusted else None,
        trusted_at=version.trusted_at if version.trusted else None,
    )


def _check_trust(version: ModelVersion, folder: Path) -> None:
    """Refuse a version that runs code when loaded, unless an admin marked it trusted.

    Loading without trust refuses such a package before reading any of its code; a framework not
    installed here leaves the question to ``serve --bundle``, which asks it again.
    """
    try:
        load_model(folder)
    except UntrustedModel as exc:
        if not version.trusted:
            raise UntrustedModel(
                f"{version.uri} ({version.flavor}) runs code when it is loaded, and no admin marked it trusted, so "
                f"it is not bundled: an admin may vouch for it with `slipway models trust {version.group} "
                f"{version.version}`.",
                details=exc.details,
            ) from None
    except MissingExtra:
        pass


def _hash_files(root: Path, folder: Path) -> Iterator[tuple[str, str]]:
    """Every file below ``folder`` as (path relative to ``root``, sha256 hex), sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            file = Path(dirpath, name)
            found.append((file.relative_to(root).as_posix(), file_sha256(file)))
    yield from sorted(found)


def _digest(manifest: bytes) -> str:
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


# ------------------------------------------------------------------ reading


def open_bundle(path: str | Path, *, expect_digest: str | None = None) -> Bundle:
    """Read a bundle and check every file of it against its manifest; nothing is loaded yet.

    Args:
        expect_digest: the digest ``bundle`` printed (``sha256:...``): the manifest must hash to it,
            and the admins' trust marks it records are then honoured.

    Raises:
        NotFound: if ``path`` holds no bundle.
        InvalidInput: for a malformed manifest, or one of a newer format.
        ContentMismatch: naming the first file changed, missing, added or linked, or the manifest
            when it does not hash to ``expect_digest``.
    """
    root = Path(path)
    try:
        raw = (root / BUNDLE_MANIFEST).read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"{root} is not a serving bundle: it has no {BUNDLE_MANIFEST}", field="bundle") from None
    digest = _digest(raw)
    if expect_digest is not None and expect_digest.strip() != digest:
        raise ContentMismatch(
            f"{BUNDLE_MANIFEST} hashes to {digest}, not to the pinned {expect_digest.strip()}: the bundle is not "
            "the one its digest was taken from. Nothing was loaded.",
            field=BUNDLE_MANIFEST,
        )
    manifest = _parse_manifest(raw, root)
    _check_files(root, manifest)
    return Bundle(root, manifest, digest, pinned=expect_digest is not None)


def _parse_manifest(raw: bytes, root: Path) -> BundleManifest:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{root / BUNDLE_MANIFEST} is not valid JSON: {exc}", field=BUNDLE_MANIFEST) from None
    version = body.get("format_version") if isinstance(body, dict) else None
    if isinstance(version, int) and version > BUNDLE_FORMAT:
        raise InvalidInput(
            f"{root / BUNDLE_MANIFEST} has format version {version}; this Slipway reads up to {BUNDLE_FORMAT}, "
            "upgrade it",
            field="format_version",
        )
    manifest: BundleManifest = BundleManifest.parse(body, BUNDLE_MANIFEST)
    return manifest


def _check_files(root: Path, manifest: BundleManifest) -> None:
    """Every file under ``models/`` is listed with its hash, and each version hashes as registered."""
    for dirpath, dirnames, filenames in os.walk(root / _MODELS):
        for name in [*dirnames, *filenames]:
            entry = Path(dirpath, name)
            relative = entry.relative_to(root).as_posix()
            if entry.is_symlink():
                raise _changed(relative, "is a link, which no bundle holds")
            if name in filenames and relative not in manifest.files:
                raise _changed(relative, "is not in the bundle's manifest: it was added")
    for relative, expected in manifest.files.items():
        file = root / relative
        if not relative.startswith(f"{_MODELS}/") or ".." in relative.split("/"):
            raise _changed(relative, "is outside the bundle's models folder")
        if not file.is_file():
            raise _changed(relative, "is missing")
        actual = file_sha256(file)
        if actual != expected:
            raise _changed(relative, f"hashes to {actual}, not to the {expected} the manifest records: it was changed")
    for model in manifest.models:
        if model.path != _folder_of(model.group, model.version) or not _GROUP.fullmatch(model.group):
            raise _changed(model.path, f"is not where the bundle keeps {model.uri}")
        prefix = model.path + "/"
        files = [(p[len(prefix):], h) for p, h in manifest.files.items() if p.startswith(prefix)]
        if tree_digest(files) != model.content_hash:
            raise _changed(model.path, f"does not hash to the content hash {model.uri} was registered with")


def _folder_of(group: str, version: int) -> str:
    return f"{_MODELS}/{group}/{version}"


def _changed(relative: str, what: str) -> ContentMismatch:
    return ContentMismatch(f"bundle file {relative} {what}. Nothing was loaded.", field=relative)


# ------------------------------------------------------------------ serving


class FixedPlane:
    """The control plane of a bundle: its endpoint, which never changes and reports to nobody."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint

    def get_endpoint(self, name: str) -> Endpoint:
        if name != self._endpoint.name:
            raise NotFound(f"this bundle serves the endpoint {self._endpoint.name!r}, not {name!r}", field="name")
        return self._endpoint

    def advance(self, name: str, stats: WindowStats) -> Endpoint:
        return self.get_endpoint(name)

    def confirm(self, name: str, revision: int) -> Endpoint:
        return self.get_endpoint(name)

    def fail(self, name: str, reason: str) -> Endpoint:
        _log.error("endpoint %r cannot be served: %s", name, reason)
        return self.get_endpoint(name)

    def report_replicas(self, name: str, replicas: Mapping[str, int], ingress: IngressReplicas | None = None) -> None:
        """Nobody to tell (on Ray Serve, the engine's log says what runs)."""


class BundleModels:
    """The model versions of a bundle, loaded from its folders (a :class:`ModelSource`).

    A version loads with code only if the bundle records an admin's trust mark for it and its
    digest was pinned when it was opened.
    """

    def __init__(self, bundle: Bundle) -> None:
        self._bundle = bundle
        self._by_id = {m.version_id: m for m in bundle.manifest.models}
        self._by_ref = {(m.group, m.version): m for m in bundle.manifest.models}

    def get_version_by_id(self, version_id: str) -> BundledModel:
        try:
            return self._by_id[version_id]
        except KeyError:
            raise NotFound(f"the bundle holds no model version {version_id}", field="version_id") from None

    def load_model(self, uri: str) -> LoadedModel:
        ref = ModelUri.of(uri)
        model = self._by_ref.get((ref.group, ref.version or 0))
        if model is None:
            raise NotFound(f"the bundle holds no {uri}", field="model")
        honoured = model.trusted and self._bundle.pinned
        try:
            return load_model(self._bundle.path / model.path, trusted=honoured)
        except UntrustedModel as exc:
            if not model.trusted:
                raise
            raise UntrustedModel(
                f"{model.uri} runs code when it is loaded. The bundle records that {model.trusted_by} marked it "
                f"trusted, but a bundle cannot vouch for itself: pin its digest with --expect-digest (or "
                f"{DIGEST_ENV}) as `slipway models bundle` printed it to honour the mark. ({exc.message})",
                details=exc.details,
            ) from None


class _Nowhere:
    """Where a server told to capture nothing puts captured files: nowhere (its sampling is 0)."""

    def put_file(self, owner: Owner, path: str, local_path: Path) -> None:  # pragma: no cover - sampling is 0
        with contextlib.suppress(OSError):
            local_path.unlink()


__all__ = [
    "BUNDLE_MANIFEST",
    "DIGEST_ENV",
    "Bundle",
    "BundleManifest",
    "BundleModels",
    "BundledModel",
    "FixedPlane",
    "bundle_endpoint",
    "bundle_model",
    "open_bundle",
]
