"""The bridge between the registry and ``slipway.models``: packaging before upload, caching after download.

Both the embedded service and the remote client register models from Python objects and load
them by URI; the parts that happen on the caller's machine (writing the package folder, reading
its manifest, keeping downloaded versions in a cache) live here, once.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from slipway.errors import ContentMismatch, InvalidInput
from slipway.models import MANIFEST, ModelCard, ModelInfo, read_manifest, save_model
from slipway.registry._records import ApprovalStatus, ModelVersion
from slipway.store.artifacts import folder_digest


@contextlib.contextmanager
def packaged(
    model_or_path: Any,
    *,
    flavor: str | None = None,
    input_example: object = None,
    model_card: ModelCard | str | None = None,
    trusted: bool | Iterable[str] = False,
) -> Iterator[tuple[Path, ModelInfo]]:
    """Yield a package folder for ``model_or_path`` and its manifest.

    A folder is taken as a package already written by ``save_model`` and used as is; anything
    else (a model object, or the path of an ONNX file with ``flavor="onnx"``) is packaged into a
    temporary folder, removed on exit. ``trusted`` is the trust loading will need (see
    :func:`slipway.models.save_model`): a pyfunc model or a scikit-learn tree needs it at
    registration already, so the problem shows when training, not when deploying.

    Raises:
        InvalidInput: for a folder that is not a package, or packaging options given with one.
    """
    if isinstance(model_or_path, str | os.PathLike) and Path(model_or_path).is_dir():
        given = [
            name
            for name, value in (("flavor", flavor), ("input_example", input_example), ("model_card", model_card))
            if value is not None
        ]
        if given:
            raise InvalidInput(
                f"{model_or_path} is already a package: {', '.join(given)} apply only when packaging a model",
                field=given[0],
            )
        folder = Path(model_or_path)
        yield folder, read_manifest(folder)
        return
    with tempfile.TemporaryDirectory(prefix="slipway-package-") as tmp:
        folder = Path(tmp) / "model"
        yield (
            folder,
            save_model(
                model_or_path,
                folder,
                flavor=flavor,
                input_example=input_example,
                model_card=model_card,
                trusted=trusted,
            ),
        )


def read_package_manifest(fetch: Callable[[Path], object]) -> ModelInfo:
    """Read the manifest ``fetch`` copies to the path it is given (from a store or a server).

    Raises:
        InvalidInput: when the manifest is missing or malformed.
    """
    with tempfile.TemporaryDirectory(prefix="slipway-manifest-") as tmp:
        fetch(Path(tmp) / MANIFEST)
        return read_manifest(Path(tmp))


def cached_package(cache_root: Path, version_id: str, fetch: Callable[[Path], object]) -> Path:
    """The local folder of a version's package, fetched into the cache on first use.

    A version's files never change once registered, so a cached copy stays valid forever and is
    keyed by the version's id alone. ``fetch`` fills a private staging folder that is renamed
    into place, so a reader never sees half a package and concurrent loaders are harmless.
    """
    target = cache_root / version_id
    if (target / MANIFEST).is_file():
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = cache_root / f".{version_id}.{secrets.token_hex(6)}.partial"
    try:
        fetch(staging)
        try:
            staging.rename(target)
        except OSError:
            if not (target / MANIFEST).is_file():  # not a concurrent loader winning the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def verified_package(cache_root: Path, version: ModelVersion, fetch: Callable[[Path], object]) -> Path:
    """The local folder of ``version``'s package, checked against the hash its registry recorded.

    Every loader of a registered version (``load_model`` embedded and remote, serving, batch
    transform) comes here, so what is loaded is what was registered and, for an Approved version,
    what the approver approved. The files are hashed on every load: a cached copy changed on disk
    is caught too. A copy that does not match is fetched once more (a damaged cache), then refused.

    Raises:
        ContentMismatch: if the files do not hash to the recorded content hash, or the version's
            approval recorded another hash than its registration; nothing is loaded.
    """
    expected = _expected_hash(version)
    for _attempt in range(2):
        folder = cached_package(cache_root, version.id, fetch)
        actual = folder_digest(folder)
        if actual == expected:
            return folder
        shutil.rmtree(folder, ignore_errors=True)  # fetched again, or not left for the next loader
    what = "registration and approval" if version.status is ApprovalStatus.APPROVED else "registration"
    raise ContentMismatch(
        f"the files of {version.uri} (version {version.id}) hash to {actual}, not to the {expected} its {what} "
        "recorded: they were changed after it was registered. Nothing was loaded.",
        field="content_hash",
    )


def _expected_hash(version: ModelVersion) -> str:
    if version.content_hash is None:
        raise ContentMismatch(
            f"{version.uri} has no recorded content hash (a server older than this client?): it cannot be checked",
            field="content_hash",
        )
    if version.status is ApprovalStatus.APPROVED and version.approved_content_hash != version.content_hash:
        raise ContentMismatch(
            f"{version.uri} was approved with the content hash {version.approved_content_hash}, but its "
            f"registration recorded {version.content_hash}. Nothing was loaded.",
            field="content_hash",
        )
    return version.content_hash
