"""BlobStorage: one conformance suite for every engine, then what only one engine promises."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest
from _s3 import S3Server

from slipway.errors import InvalidInput, MissingExtra, NotFound
from slipway.store.artifacts import BlobStorage, FsspecStorage, LocalStorage, _local, storage_from_url

ESCAPING_KEYS = ["../x", "/etc/passwd", "a/../../b", "a\\b", "a\x00b", "a//b", "", "./"]


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3), "memory"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStorage:
    """Every BlobStorage engine, empty."""
    if request.param == "local":
        return LocalStorage(tmp_path / "storage")
    if request.param == "s3":
        return request.getfixturevalue("s3_storage")
    return FsspecStorage(f"memory://slipway-{uuid.uuid4().hex}")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "source.bin"
    path.write_bytes(b"hello blobs")
    return path


def _put(storage: BlobStorage, key: str, data: bytes, tmp_path: Path) -> None:
    local = tmp_path / f"upload-{uuid.uuid4().hex}"
    local.write_bytes(data)
    storage.put_file(key, local)


# -- conformance: every engine -------------------------------------------------------------


def test_put_file_then_read_back(storage: BlobStorage, source: Path) -> None:
    storage.put_file("a/b/c.bin", source)

    assert storage.exists("a/b/c.bin")
    with storage.open_read("a/b/c.bin") as stream:
        assert stream.read() == b"hello blobs"


def test_put_file_replaces_the_object(storage: BlobStorage, tmp_path: Path) -> None:
    _put(storage, "k", b"first", tmp_path)
    _put(storage, "k", b"second, longer", tmp_path)

    with storage.open_read("k") as stream:
        assert stream.read() == b"second, longer"
    assert list(storage.iter_keys()) == ["k"]


def test_reads_stream_in_pieces(storage: BlobStorage, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    _put(storage, "big", data, tmp_path)

    with storage.open_read("big") as stream:
        pieces = iter(lambda: stream.read(1 << 20), b"")
        assert b"".join(pieces) == data


def test_open_read_of_a_missing_key_names_it(storage: BlobStorage) -> None:
    with pytest.raises(NotFound, match="no/such/key"):
        storage.open_read("no/such/key")


def test_exists_is_false_for_missing_keys_and_folders(storage: BlobStorage, source: Path) -> None:
    storage.put_file("folder/file", source)

    assert not storage.exists("other")
    assert not storage.exists("folder")
    assert not storage.exists("folder/fil")


def test_delete_removes_the_object_and_is_idempotent(storage: BlobStorage, source: Path) -> None:
    storage.put_file("gone", source)
    storage.put_file("kept", source)

    storage.delete("gone")
    storage.delete("gone")
    storage.delete("never/there")

    assert not storage.exists("gone")
    assert list(storage.iter_keys()) == ["kept"]
    with pytest.raises(NotFound):
        storage.open_read("gone")


def test_iter_keys_lists_everything_below_a_folder(storage: BlobStorage, source: Path) -> None:
    for key in ("a/1", "a/b/2", "a/b/c/3", "ab/4", "top"):
        storage.put_file(key, source)

    assert sorted(storage.iter_keys()) == ["a/1", "a/b/2", "a/b/c/3", "ab/4", "top"]
    assert sorted(storage.iter_keys("a")) == ["a/1", "a/b/2", "a/b/c/3"]
    assert sorted(storage.iter_keys("a/b/")) == ["a/b/2", "a/b/c/3"]
    assert list(storage.iter_keys("missing")) == []
    assert list(storage.iter_keys("top")) == []


def test_unicode_keys(storage: BlobStorage, source: Path) -> None:
    key = "données/modèle – 模型 🚀.bin"
    storage.put_file(key, source)

    assert storage.exists(key)
    assert list(storage.iter_keys("données")) == [key]
    with storage.open_read(key) as stream:
        assert stream.read() == b"hello blobs"


@pytest.mark.parametrize("key", ESCAPING_KEYS)
def test_every_method_refuses_invalid_keys(storage: BlobStorage, source: Path, key: str) -> None:
    for call in (
        lambda: storage.put_file(key, source),
        lambda: storage.open_read(key),
        lambda: storage.exists(key),
        lambda: storage.delete(key),
    ):
        with pytest.raises(InvalidInput) as caught:
            call()
        assert caught.value.field == "key"
    assert list(storage.iter_keys()) == []


@pytest.mark.parametrize("prefix", ["../", "/etc", "a/../..", "a\\b"])
def test_iter_keys_refuses_invalid_prefixes(storage: BlobStorage, prefix: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        list(storage.iter_keys(prefix))
    assert caught.value.field == "prefix"


# -- LocalStorage ---------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the storage root holding a secret, and links to it planted in the root."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret").write_bytes(b"not yours")
    root = tmp_path / "storage"
    root.mkdir()
    (root / "file-link").symlink_to(folder / "secret")
    (root / "dir-link").symlink_to(folder, target_is_directory=True)
    return folder


@pytest.mark.parametrize("key", ["file-link", "dir-link/secret", "dir-link/new"])
def test_local_links_leading_outside_are_not_followed(
    tmp_path: Path, outside: Path, source: Path, key: str
) -> None:
    storage = LocalStorage(tmp_path / "storage")

    for call in (
        lambda: storage.open_read(key),
        lambda: storage.put_file(key, source),
        lambda: storage.exists(key),
        lambda: storage.delete(key),
    ):
        with pytest.raises(InvalidInput, match="outside"):
            call()
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_bytes() == b"not yours"


def test_local_listing_does_not_enter_linked_folders(tmp_path: Path, outside: Path, source: Path) -> None:
    storage = LocalStorage(tmp_path / "storage")
    storage.put_file("own", source)

    assert "dir-link/secret" not in set(storage.iter_keys())
    with pytest.raises(InvalidInput, match="outside"):
        list(storage.iter_keys("dir-link"))


def test_local_links_inside_the_root_still_work(tmp_path: Path, source: Path) -> None:
    storage = LocalStorage(tmp_path / "storage")
    storage.put_file("real/file", source)
    (tmp_path / "storage" / "alias").symlink_to(tmp_path / "storage" / "real", target_is_directory=True)

    with storage.open_read("alias/file") as stream:
        assert stream.read() == b"hello blobs"


def test_local_write_failing_midway_leaves_no_object_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = LocalStorage(tmp_path / "storage")
    big = tmp_path / "big"
    big.write_bytes(os.urandom(3 << 20))
    _put(storage, "blobs/k", b"previous", tmp_path)
    copied = []

    def copy_then_fail(src, dst, length):  # type: ignore[no-untyped-def]
        dst.write(src.read(length))
        copied.append(length)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_local.shutil, "copyfileobj", copy_then_fail)
    with pytest.raises(OSError, match="No space"):
        storage.put_file("blobs/k", big)
    with pytest.raises(OSError, match="No space"):
        storage.put_file("blobs/new", big)
    monkeypatch.undo()

    assert copied, "the failure must happen after bytes were written"
    with storage.open_read("blobs/k") as stream:
        assert stream.read() == b"previous"
    assert not storage.exists("blobs/new")
    assert sorted(p.name for p in (tmp_path / "storage" / "blobs").iterdir()) == ["k"]


def test_local_temp_names_are_reserved_and_hidden(tmp_path: Path, source: Path) -> None:
    storage = LocalStorage(tmp_path / "storage")
    storage.put_file("k", source)
    (tmp_path / "storage" / f"{_local.TEMP_PREFIX}123").write_bytes(b"half a blob")

    assert list(storage.iter_keys()) == ["k"]
    with pytest.raises(InvalidInput, match="reserved"):
        storage.put_file(f"a/{_local.TEMP_PREFIX}x", source)


def test_local_objects_get_the_usual_file_permissions(tmp_path: Path, source: Path) -> None:
    old = os.umask(0o022)
    try:
        storage = LocalStorage(tmp_path / "storage")
        storage.put_file("k", source)
    finally:
        os.umask(old)

    assert (tmp_path / "storage" / "k").stat().st_mode & 0o777 == 0o644


# -- FsspecStorage on S3 ----------------------------------------------------------------------


@pytest.mark.s3
def test_s3_multipart_upload_failing_midway_leaves_no_object(
    s3_server: S3Server, s3_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from s3fs import S3FileSystem

    storage = FsspecStorage(s3_url, **s3_server.storage_options)
    big = tmp_path / "big"
    big.write_bytes(os.urandom(20 << 20))  # over two 8 MiB parts: a multipart upload
    calls: list[str] = []
    real_call = S3FileSystem._call_s3

    async def fail_second_part(self, method, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(method)
        if method == "upload_part" and calls.count("upload_part") == 2:
            raise ConnectionResetError("connection lost mid-upload")
        return await real_call(self, method, *args, **kwargs)

    monkeypatch.setattr(S3FileSystem, "_call_s3", fail_second_part)
    with pytest.raises(ConnectionResetError):
        storage.put_file("blobs/big", big)
    monkeypatch.undo()

    assert "create_multipart_upload" in calls
    assert not storage.exists("blobs/big")
    assert list(storage.iter_keys()) == []
    assert s3_server.client().list_multipart_uploads(Bucket=s3_server.bucket).get("Uploads", []) == []


@pytest.mark.s3
def test_s3_sees_what_other_processes_did_at_once(s3_server: S3Server, s3_url: str, source: Path) -> None:
    storage = FsspecStorage(s3_url, **s3_server.storage_options)
    storage.put_file("blobs/a", source)
    assert list(storage.iter_keys("blobs")) == ["blobs/a"]
    assert storage.exists("blobs/a")

    prefix = s3_url.removeprefix(f"s3://{s3_server.bucket}/")
    client = s3_server.client()
    client.delete_object(Bucket=s3_server.bucket, Key=f"{prefix}/blobs/a")
    client.put_object(Bucket=s3_server.bucket, Key=f"{prefix}/blobs/b", Body=b"written elsewhere")

    assert not storage.exists("blobs/a")
    assert storage.exists("blobs/b")
    assert list(storage.iter_keys("blobs")) == ["blobs/b"]


@pytest.mark.s3
@pytest.mark.parametrize("variable", ["SLIPWAY_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL"])
def test_s3_configured_from_the_environment(
    s3_server: S3Server, s3_url: str, source: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, s3_server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    storage = storage_from_url(s3_url)
    storage.put_file("k", source)

    assert isinstance(storage, FsspecStorage)
    with storage.open_read("k") as stream:
        assert stream.read() == b"hello blobs"


@pytest.mark.s3
def test_s3_explicit_endpoint_wins_over_the_environment(
    s3_server: S3Server, s3_url: str, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_S3_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there

    storage = FsspecStorage(s3_url, **s3_server.storage_options)
    storage.put_file("k", source)

    assert storage.exists("k")


# -- storage_from_url -------------------------------------------------------------------------


def test_storage_from_url_plain_path_and_file_url(tmp_path: Path) -> None:
    plain = storage_from_url(str(tmp_path / "plain"))
    file_url = storage_from_url(f"file://{tmp_path}/with%20space")
    localhost = storage_from_url(f"file://localhost{tmp_path}/via-localhost")

    assert isinstance(plain, LocalStorage) and plain.root == tmp_path / "plain"
    assert isinstance(file_url, LocalStorage) and file_url.root == tmp_path / "with space"
    assert isinstance(localhost, LocalStorage) and localhost.root == tmp_path / "via-localhost"


def test_storage_from_url_s3_and_other_fsspec_schemes() -> None:
    assert isinstance(storage_from_url("s3://bucket/prefix"), FsspecStorage)
    assert isinstance(storage_from_url("memory://somewhere"), FsspecStorage)


@pytest.mark.parametrize(
    ("url", "named"),
    [("nosuch://bucket/x", "'nosuch'"), ("file://fileserver/share", "'fileserver'"), ("", "empty")],
)
def test_storage_from_url_refuses_what_it_cannot_serve(url: str, named: str) -> None:
    with pytest.raises(InvalidInput, match=named) as caught:
        storage_from_url(url)
    assert caught.value.field == "artifact_url"


def test_s3_without_s3fs_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)  # makes `import s3fs` fail

    with pytest.raises(MissingExtra, match=r"slipway-mlops\[s3\]"):
        storage_from_url("s3://bucket/prefix")
