"""Blob storage in a local folder, and the atomic file write it rests on."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from slipway.errors import InvalidInput, NotFound
from slipway.store.artifacts._paths import join_path, normalize_file_path, normalize_path
from slipway.store.artifacts._storage import COPY_CHUNK_SIZE, BlobStorage

# Names of files still being written. Keys may not end in such a name, so a listing that skips
# them hides only unfinished writes.
TEMP_PREFIX = ".slipway-tmp-"


def write_atomically(dst: Path, src: BinaryIO, *, durable: bool = True) -> None:
    """Stream ``src`` into the file ``dst`` so that ``dst`` is always either untouched or complete.

    The bytes go to a temporary file in the same folder (so the final rename never crosses file
    systems and is atomic), which is renamed over ``dst`` only once fully written. On any error,
    including ``KeyboardInterrupt``, the temporary file is removed; a process killed outright can
    leave one behind, but never a partial ``dst``.

    Args:
        dst: the file to create or replace; missing parent folders are created.
        src: the stream to copy, read in chunks.
        durable: fsync the file and its folder, so the write survives a power cut and not just
            a crash. Worth it for stored blobs; downloads skip it for speed.
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
    # os.open with O_EXCL rather than mkstemp: mkstemp makes the file private (0600), but a
    # stored blob should get the same permissions as any other file its owner creates.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(src, out, COPY_CHUNK_SIZE)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        dir_fd = os.open(dst.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class LocalStorage(BlobStorage):
    """Objects as files below a local folder: the embedded default.

    Every key is resolved (symbolic links included) and refused if it leads outside ``root``, so
    a link planted inside the folder cannot be used to read or overwrite files elsewhere. The
    check happens before each access; a link swapped in between the check and the access is not
    caught, which only someone who can already write into ``root`` could do.

    Args:
        root: the folder; created if missing.

    Example:
        >>> storage = LocalStorage(Path(".slipway/artifacts"))
        >>> storage.put_file("reports/summary.html", Path("summary.html"))
    """

    def __init__(self, root: Path | str) -> None:
        root = Path(root).expanduser()
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def _resolve(self, relative: str, field: str) -> Path:
        target = (self.root / relative).resolve()
        if not target.is_relative_to(self.root):
            raise InvalidInput(f"{field} {relative!r} leads outside the storage folder", field=field)
        return target

    def _path(self, key: str) -> Path:
        key = normalize_file_path(key, field="key")
        if PurePosixPath(key).name.startswith(TEMP_PREFIX):
            raise InvalidInput(f"key {key!r}: names starting with {TEMP_PREFIX!r} are reserved", field="key")
        return self._resolve(key, "key")

    def put_file(self, key: str, local_path: Path) -> None:
        target = self._path(key)
        with Path(local_path).open("rb") as src:
            write_atomically(target, src)

    def open_read(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"no object under key {key!r} in {self.root}") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_file():
            path.unlink(missing_ok=True)

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        prefix = normalize_path(prefix, field="prefix")
        base = self._resolve(prefix, "prefix") if prefix else self.root
        return self._walk(base)

    def _walk(self, base: Path) -> Iterator[str]:
        # os.walk does not descend into linked folders, so a listing never leaves the root.
        for dirpath, _dirnames, filenames in os.walk(base):
            folder = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                if not name.startswith(TEMP_PREFIX):
                    yield join_path("" if folder == "." else folder, name)
