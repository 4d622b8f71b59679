"""ArtifactStore: one suite, run on local and S3 blob storage and on SQLite and PostgreSQL metadata."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from slipway.errors import Conflict, InvalidInput, NotFound
from slipway.store import Database
from slipway.store.artifacts import (
    ArtifactInfo,
    ArtifactStore,
    BlobStorage,
    LocalStorage,
    Owner,
    normalize_path,
)
from slipway.store.artifacts._tables import blobs

RUN = Owner("run", "01j0000000000000000000run1")
OTHER = Owner("run", "01j0000000000000000000run2")

ESCAPING_PATHS = ["../x", "/etc/passwd", "a/../../b", "a\\b", "a\x00b", "a/./b", "a//b", "x" * 1025]


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStorage:
    if request.param == "local":
        return LocalStorage(tmp_path / "artifacts")
    return request.getfixturevalue("s3_storage")


@pytest.fixture
def store(db: Database, storage: BlobStorage) -> ArtifactStore:
    return ArtifactStore(db, storage)


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the store's spool files go during the test, to check none is left behind."""
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _blob_keys(storage: BlobStorage) -> list[str]:
    return sorted(storage.iter_keys("blobs"))


def _blob_rows(db: Database) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(blobs)).scalar_one()


def _paths(entries: list[ArtifactInfo]) -> list[str]:
    return [entry.path for entry in entries]


def _refused_field(call: Callable[[], object]) -> str | None:
    """Call something that must refuse its input; the field the refusal names."""
    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value.field


def _tree(folder: Path) -> dict[str, bytes]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in files}


# -- writing and reading --------------------------------------------------------------------


def test_put_bytes_then_read_back(store: ArtifactStore) -> None:
    info = store.put_bytes(RUN, "metrics/summary.json", b'{"auc": 0.91}')

    sha256 = hashlib.sha256(b'{"auc": 0.91}').hexdigest()
    assert info == ArtifactInfo(path="metrics/summary.json", is_dir=False, size=13, sha256=sha256)
    assert store.info(RUN, "metrics/summary.json") == info
    assert store.read_bytes(RUN, "metrics/summary.json") == b'{"auc": 0.91}'
    with store.open(RUN, "metrics/summary.json") as stream:
        assert stream.read(6) == b'{"auc"'


def test_put_file_and_put_stream(store: ArtifactStore, tmp_path: Path) -> None:
    local = tmp_path / "model.onnx"
    local.write_bytes(b"\x00onnx" * 1000)

    from_file = store.put_file(RUN, "model/model.onnx", local)
    from_stream = store.put_stream(RUN, "model/copy.onnx", io.BytesIO(b"\x00onnx" * 1000))

    assert from_file.sha256 == from_stream.sha256 == hashlib.sha256(local.read_bytes()).hexdigest()
    assert store.read_bytes(RUN, "model/model.onnx") == local.read_bytes()


def test_empty_file(store: ArtifactStore) -> None:
    store.put_bytes(RUN, "empty", b"")

    assert store.info(RUN, "empty").size == 0
    assert store.read_bytes(RUN, "empty") == b""


def test_same_bytes_twice_are_stored_once(
    store: ArtifactStore, storage: BlobStorage, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploads: list[str] = []
    real_put_file = storage.put_file
    def counting_put_file(key: str, local_path: Path) -> None:
        uploads.append(key)
        real_put_file(key, local_path)

    monkeypatch.setattr(storage, "put_file", counting_put_file)

    first = store.put_bytes(RUN, "a/weights.bin", b"same bytes")
    second = store.put_bytes(RUN, "b/weights.bin", b"same bytes")
    third = store.put_bytes(OTHER, "weights.bin", b"same bytes")

    sha = hashlib.sha256(b"same bytes").hexdigest()
    assert first.sha256 == second.sha256 == third.sha256 == sha
    assert len(uploads) == 1
    assert _blob_keys(storage) == [f"blobs/{sha[:2]}/{sha[2:4]}/{sha}"]
    assert _blob_rows(db) == 1
    assert _paths(store.list(RUN, recursive=True)) == ["a/weights.bin", "b/weights.bin"]
    assert store.read_bytes(OTHER, "weights.bin") == b"same bytes"


def test_putting_a_path_again_overwrites_it(store: ArtifactStore, storage: BlobStorage) -> None:
    store.put_bytes(RUN, "model.pkl", b"version 1")
    second = store.put_bytes(RUN, "model.pkl", b"version 2, bigger")

    assert store.read_bytes(RUN, "model.pkl") == b"version 2, bigger"
    assert store.list(RUN) == [second]
    assert len(_blob_keys(storage)) == 2  # the old blob waits for garbage collection


def test_unicode_file_names(store: ArtifactStore, tmp_path: Path) -> None:
    path = "données/résumé – 模型 🚀.txt"
    store.put_bytes(RUN, path, b"bonjour")

    assert _paths(store.list(RUN)) == ["données"]
    assert _paths(store.list(RUN, "données")) == [path]
    assert store.read_bytes(RUN, path) == b"bonjour"
    out = store.download(RUN, "données", tmp_path / "out")
    assert _tree(out) == {"résumé – 模型 🚀.txt": b"bonjour"}


def test_put_dir_stores_a_folder_recursively(store: ArtifactStore, tmp_path: Path) -> None:
    local = tmp_path / "model"
    (local / "sub" / "deeper").mkdir(parents=True)
    (local / "MLmodel").write_bytes(b"flavor: onnx")
    (local / "sub" / "weights.bin").write_bytes(b"\x01" * 100)
    (local / "sub" / "deeper" / "vocab.txt").write_bytes(b"a\nb\n")

    entries = store.put_dir(RUN, "model", local)

    assert _paths(entries) == ["model/MLmodel", "model/sub/deeper/vocab.txt", "model/sub/weights.bin"]
    assert [entry.size for entry in entries] == [12, 4, 100]
    assert _paths(store.list(RUN, recursive=True)) == _paths(entries)
    assert store.put_dir(OTHER, "", local)[0].path == "MLmodel"


def test_put_dir_checks_every_name_before_uploading(
    store: ArtifactStore, storage: BlobStorage, tmp_path: Path
) -> None:
    local = tmp_path / "folder"
    local.mkdir()
    (local / "good.txt").write_bytes(b"fine")
    (local / "bad\\name.txt").write_bytes(b"a backslash in a POSIX file name")

    with pytest.raises(InvalidInput, match="backslash"):
        store.put_dir(RUN, "folder", local)

    assert store.list(RUN, recursive=True) == []
    assert _blob_keys(storage) == []


def test_missing_local_sources_are_not_found(store: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="nope.bin"):
        store.put_file(RUN, "x", tmp_path / "nope.bin")
    with pytest.raises(NotFound, match="nodir"):
        store.put_dir(RUN, "x", tmp_path / "nodir")


# -- listing ------------------------------------------------------------------------------------


@pytest.fixture
def tree(store: ArtifactStore) -> ArtifactStore:
    for path in ("a.txt", "d/b.txt", "d/e/c.txt", "d/e/f/g.txt", "d2/x.txt", "D/upper.txt", "z.bin"):
        store.put_bytes(RUN, path, path.encode())
    store.put_bytes(OTHER, "d/someone-elses.txt", b"x")
    return store


def test_list_shows_immediate_children_with_folders(tree: ArtifactStore) -> None:
    root = tree.list(RUN)

    assert [(e.path, e.is_dir) for e in root] == [
        ("D", True), ("a.txt", False), ("d", True), ("d2", True), ("z.bin", False)
    ]
    assert root[1] == tree.info(RUN, "a.txt")
    assert root[0].size is None and root[0].sha256 is None
    assert [(e.path, e.is_dir) for e in tree.list(RUN, "d")] == [("d/b.txt", False), ("d/e", True)]
    assert [(e.path, e.is_dir) for e in tree.list(RUN, "d/e/")] == [("d/e/c.txt", False), ("d/e/f", True)]


def test_list_recursive_shows_every_file_below(tree: ArtifactStore) -> None:
    assert _paths(tree.list(RUN, recursive=True)) == [
        "D/upper.txt", "a.txt", "d/b.txt", "d/e/c.txt", "d/e/f/g.txt", "d2/x.txt", "z.bin"
    ]
    assert _paths(tree.list(RUN, "d", recursive=True)) == ["d/b.txt", "d/e/c.txt", "d/e/f/g.txt"]
    assert _paths(tree.list(OTHER, recursive=True)) == ["d/someone-elses.txt"]


def test_list_of_a_file_or_nothing_is_empty(tree: ArtifactStore) -> None:
    assert tree.list(RUN, "a.txt") == []
    assert tree.list(RUN, "no/such/folder", recursive=True) == []
    assert tree.list(Owner("run", "nobody")) == []


def test_like_wildcards_in_paths_match_only_themselves(store: ArtifactStore) -> None:
    for path in ("a_b/1", "axb/2", "a%c/3", "abc/4"):
        store.put_bytes(RUN, path, path.encode())

    assert _paths(store.list(RUN, "a_b")) == ["a_b/1"]
    assert _paths(store.list(RUN, "a%c", recursive=True)) == ["a%c/3"]
    assert store.info(RUN, "a_b").is_dir
    store.delete(RUN, "a_b")
    assert _paths(store.list(RUN, recursive=True)) == ["a%c/3", "abc/4", "axb/2"]


# -- info, open, download ------------------------------------------------------------------------


def test_info_of_files_folders_and_the_root(tree: ArtifactStore) -> None:
    assert tree.info(RUN, "d/e") == ArtifactInfo(path="d/e", is_dir=True, size=None, sha256=None)
    assert tree.info(RUN, "").is_dir
    assert tree.info(RUN, "./d/b.txt").path == "d/b.txt"


def test_not_found_names_the_owner_and_the_path(tree: ArtifactStore, tmp_path: Path) -> None:
    for call in (
        lambda: tree.info(RUN, "d/missing.txt"),
        lambda: tree.open(RUN, "d/missing.txt"),
        lambda: tree.read_bytes(RUN, "d/missing.txt"),
        lambda: tree.download(RUN, "d/missing.txt", tmp_path / "out"),
        lambda: tree.delete(RUN, "d/missing.txt"),
    ):
        with pytest.raises(NotFound, match=rf"run '{RUN.id}' has no artifact 'd/missing.txt'"):
            call()
    with pytest.raises(NotFound, match="d/b.txt"):
        tree.info(OTHER, "d/b.txt")
    with pytest.raises(NotFound):
        tree.info(Owner("run", "nobody"), "")


def test_open_of_a_folder_is_refused(tree: ArtifactStore) -> None:
    with pytest.raises(InvalidInput, match="folder") as caught:
        tree.open(RUN, "d/e")
    assert caught.value.field == "path"


def test_download_a_file(tree: ArtifactStore, tmp_path: Path) -> None:
    out = tree.download(RUN, "d/e/c.txt", tmp_path / "new" / "c-copy.txt")

    assert out == tmp_path / "new" / "c-copy.txt"
    assert out.read_bytes() == b"d/e/c.txt"


def test_download_a_folder(tree: ArtifactStore, tmp_path: Path) -> None:
    out = tree.download(RUN, "d", tmp_path / "d-copy")

    assert _tree(out) == {"b.txt": b"d/b.txt", "e/c.txt": b"d/e/c.txt", "e/f/g.txt": b"d/e/f/g.txt"}


def test_download_everything_of_an_owner(tree: ArtifactStore, tmp_path: Path) -> None:
    out = tree.download(RUN, "", tmp_path / "all")

    assert sorted(_tree(out)) == _paths(tree.list(RUN, recursive=True))
    assert _tree(out)["d2/x.txt"] == b"d2/x.txt"


def test_download_refuses_a_file_onto_a_folder_and_back(tree: ArtifactStore, tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_bytes(b"mine")

    with pytest.raises(InvalidInput) as onto_folder:
        tree.download(RUN, "a.txt", tmp_path / "folder")
    with pytest.raises(InvalidInput) as onto_file:
        tree.download(RUN, "d", tmp_path / "file")

    assert onto_folder.value.field == onto_file.value.field == "dst"
    assert (tmp_path / "file").read_bytes() == b"mine"
    assert list((tmp_path / "folder").iterdir()) == []


# -- deleting ------------------------------------------------------------------------------------


def test_delete_a_file_keeps_its_blob(tree: ArtifactStore, storage: BlobStorage) -> None:
    blobs_before = _blob_keys(storage)

    tree.delete(RUN, "d/b.txt")

    assert _paths(tree.list(RUN, "d")) == ["d/e"]
    assert _blob_keys(storage) == blobs_before


def test_delete_a_folder_removes_everything_below_it_only(tree: ArtifactStore) -> None:
    tree.delete(RUN, "d")

    assert _paths(tree.list(RUN, recursive=True)) == ["D/upper.txt", "a.txt", "d2/x.txt", "z.bin"]
    assert _paths(tree.list(OTHER, recursive=True)) == ["d/someone-elses.txt"]
    tree.delete(RUN, "")
    assert tree.list(RUN) == []


# -- the tree stays a tree -------------------------------------------------------------------------


def test_a_file_cannot_be_a_folder_and_back(store: ArtifactStore) -> None:
    store.put_bytes(RUN, "model", b"a file")
    store.put_bytes(RUN, "plots/roc.png", b"png")

    with pytest.raises(Conflict, match="'model'"):
        store.put_bytes(RUN, "model/weights.bin", b"w")
    with pytest.raises(Conflict, match="folder"):
        store.put_bytes(RUN, "plots", b"a file over a folder")

    assert store.read_bytes(RUN, "model") == b"a file"
    assert store.info(RUN, "plots").is_dir
    store.put_bytes(OTHER, "model/weights.bin", b"another owner's tree is its own")


# -- failures leave nothing behind ----------------------------------------------------------------


class _BrokenStream(io.RawIOBase):
    """A source that delivers ``good`` bytes and then fails, like a dropped connection."""

    def __init__(self, good: int) -> None:
        self._left = good

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            raise ConnectionResetError("the client went away")
        n = min(len(buffer), self._left)
        buffer[:n] = b"x" * n
        self._left -= n
        return n


def _assert_nothing_stored(store: ArtifactStore, storage: BlobStorage, db: Database, spool_dir: Path) -> None:
    assert store.list(RUN, recursive=True) == []
    with pytest.raises(NotFound):
        store.info(RUN, "upload.bin")
    assert _blob_keys(storage) == []
    assert _blob_rows(db) == 0
    assert list(spool_dir.iterdir()) == []
    if isinstance(storage, LocalStorage):
        assert [p for p in storage.root.rglob("*") if p.is_file()] == []


def test_a_stream_failing_midway_stores_nothing(
    store: ArtifactStore, storage: BlobStorage, db: Database, spool_dir: Path
) -> None:
    with pytest.raises(ConnectionResetError):
        store.put_stream(RUN, "upload.bin", io.BufferedReader(_BrokenStream(3 << 20)))

    _assert_nothing_stored(store, storage, db, spool_dir)


def test_an_upload_failing_midway_stores_nothing(
    store: ArtifactStore, storage: BlobStorage, db: Database, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(key: str, local_path: Path) -> None:
        raise OSError("the storage went away")

    monkeypatch.setattr(storage, "put_file", fail)
    with pytest.raises(OSError, match="went away"):
        store.put_bytes(RUN, "upload.bin", b"payload")

    _assert_nothing_stored(store, storage, db, spool_dir)


# -- memory ---------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["local", pytest.param("s3", marks=pytest.mark.s3)], indirect=True)
def test_large_files_stream_in_bounded_memory(
    sqlite_db: Database, storage: BlobStorage, tmp_path: Path
) -> None:
    # Bigger than the ~32 MiB an S3 upload may hold (parts in flight), so a bound shows.
    size = 128 * 1024 * 1024
    local = tmp_path / "large.bin"
    digest = hashlib.sha256()
    with local.open("wb") as out:
        for _ in range(size // (1 << 20)):
            block = os.urandom(1 << 20)
            digest.update(block)
            out.write(block)
    store = ArtifactStore(sqlite_db, storage)
    store.put_bytes(RUN, "warm-up", b"creates the S3 client outside the measurement")

    tracemalloc.start()
    try:
        with local.open("rb") as stream:
            info = store.put_stream(RUN, "large.bin", stream)
        store.download(RUN, "large.bin", tmp_path / "back.bin")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert info.size == size and info.sha256 == digest.hexdigest()
    assert (tmp_path / "back.bin").stat().st_size == size
    assert peak < size / 3, f"peak Python memory {peak / 2**20:.1f} MiB for a {size / 2**20:.0f} MiB file"


# -- paths and owners ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ESCAPING_PATHS)
def test_invalid_paths_are_refused_by_every_method(store: ArtifactStore, tmp_path: Path, path: str) -> None:
    local = tmp_path / "f"
    local.write_bytes(b"x")
    path_calls: list[Callable[[], object]] = [
        lambda: store.put_bytes(RUN, path, b"x"),
        lambda: store.put_file(RUN, path, local),
        lambda: store.put_stream(RUN, path, io.BytesIO(b"x")),
        lambda: store.info(RUN, path),
        lambda: store.open(RUN, path),
        lambda: store.read_bytes(RUN, path),
        lambda: store.download(RUN, path, tmp_path / "out"),
        lambda: store.delete(RUN, path),
    ]
    prefix_calls: list[Callable[[], object]] = [
        lambda: store.list(RUN, path),
        lambda: store.put_dir(RUN, path, tmp_path),
    ]

    assert [_refused_field(call) for call in path_calls] == ["path"] * len(path_calls)
    assert [_refused_field(call) for call in prefix_calls] == ["prefix"] * len(prefix_calls)
    assert store.list(RUN, recursive=True) == []
    assert not (tmp_path / "out").exists()


def test_a_file_needs_a_name(store: ArtifactStore) -> None:
    for path in ("", ".", "./"):
        with pytest.raises(InvalidInput, match="root"):
            store.put_bytes(RUN, path, b"x")


@pytest.mark.parametrize(
    "owner", [Owner("", "id"), Owner("run", ""), Owner("k" * 33, "id"), Owner("run", "i" * 65)]
)
def test_invalid_owners_are_refused(store: ArtifactStore, owner: Owner) -> None:
    with pytest.raises(InvalidInput) as caught:
        store.put_bytes(owner, "x", b"x")
    assert caught.value.field == "owner"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("a/b.txt", "a/b.txt"), ("./a/b", "a/b"), ("././a", "a"), ("plots/", "plots"), ("", ""), (".", ""),
     ("./", ""), ("..a/b..", "..a/b.."), ("é/模型", "é/模型")],
)
def test_normalize_path_accepts(raw: str, normal: str) -> None:
    assert normalize_path(raw) == normal


@pytest.mark.parametrize(
    "path", [*ESCAPING_PATHS, "..", "a/..", "a/\n", "tab\there", "del\x7f", "lone\udc80"]
)
def test_normalize_path_refuses(path: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_path(path)
    assert caught.value.field == "path"


def test_local_store_never_touches_files_outside_its_root(db: Database, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"not yours")
    root = tmp_path / "artifacts"
    root.mkdir()
    (root / "blobs").symlink_to(outside, target_is_directory=True)
    store = ArtifactStore(db, LocalStorage(root))

    with pytest.raises(InvalidInput, match="outside"):
        store.put_bytes(RUN, "secret", b"overwrite attempt")
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_bytes() == b"not yours"
