"""What was approved is what is served: sealed versions, content hashes checked at load, protected aliases.

The attacks, against a live server:
- change a registered, approved version's files behind the registry's back (a blob rewritten in
  the artifact store), then serve it, batch-transform with it or load it;
- race a large upload against the registration of its version, so a file lands in a version that
  is already registered (on SQLite and PostgreSQL);
- as a scientist, point ``production`` or ``champion`` at a version nobody approved; as an
  approver, point ``prod`` at a version that is not Approved, or reject the version ``prod`` holds.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psycopg
import pytest
from _server import LiveServer, running_server, serving
from sklearn.linear_model import LinearRegression
from sqlalchemy.engine import make_url

from slipway import Client, Settings, load_settings
from slipway._backend import Backend
from slipway._ids import new_id
from slipway.errors import ContentMismatch
from slipway.models import MANIFEST, save_model
from slipway.serving import ServingHost, batch_transform, create_inference_app
from slipway.store.artifacts import blob_key, tree_digest

X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 2.0]})


def _settings(home: Path, **env: str) -> Settings:
    """A server of its own: webhooks and limits as the hardened one's, and ``env``."""
    return load_settings(env={"SLIPWAY_WEBHOOK_HOSTS": "127.0.0.1", **env}, cwd=home, home=str(home))


def _package(folder: Path, offset: float) -> Path:
    """A small scikit-learn package whose bytes no other test shares (its intercept is ``offset``)."""
    save_model(LinearRegression().fit(X, X.a * 2 - X.b + offset), folder, input_example=X)
    return folder


@pytest.fixture(scope="module")
def people(hardened: LiveServer) -> dict[str, str]:
    """A scientist who registers and two approvers, with their tokens (separation of duties is on)."""
    tokens = {}
    with hardened.client() as admin:
        for name, role in (("sci", "scientist"), ("ann", "approver"), ("bob", "approver")):
            admin.security.create_user(name, [role])
            tokens[name] = admin.security.create_token(name).secret
    return tokens


def _client(server: LiveServer, token: str) -> Client:
    return Client(server_url=server.url, token=token)


def _http(server: LiveServer, token: str) -> httpx.Client:
    return httpx.Client(base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60)


# ------------------------------------------------------------------ what was approved is what is served


def test_files_changed_after_approval_are_never_loaded_served_or_transformed(
    hardened: LiveServer, people: dict[str, str], tmp_path: Path
) -> None:
    with _client(hardened, people["sci"]) as sci:
        version = sci.registry.register_model("tampered", _package(tmp_path / "pkg", 0.25))
    with _client(hardened, people["ann"]) as ann:
        approved = ann.registry.approve("tampered", version.version, comment="reviewed")
        assert approved.content_hash == version.content_hash == approved.approved_content_hash
        files = ann.registry.list_files(version.id)
        assert approved.content_hash == tree_digest((f.path, f.sha256 or "") for f in files)
        with hardened.client() as admin:
            entry = next(e for e in admin.security.audit_entries(object_id=version.id)
                         if e.action == "model_version.status")
        assert entry.details["content_hash"] == approved.content_hash  # the audit trail holds what was approved
        with _http(hardened, hardened.token) as admin_http:
            admin_http.post("/endpoints", json={"name": "tampered", "variants": [{"model": "tampered/1"}]},
                            ).raise_for_status()

    # Someone with write access to the bucket rewrites the model's weights in place.
    weights = next(f for f in files if f.path.endswith(".skops"))
    blob = Path(hardened.settings.artifact_url) / blob_key(weights.sha256 or "")
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[:-8] + b"tampered")

    with _client(hardened, people["ann"]) as ann, pytest.raises(ContentMismatch, match="changed after it was"):
        ann.registry.load_model("models:/tampered/1")
    with _client(hardened, people["sci"]) as sci, pytest.raises(ContentMismatch):
        batch_transform(sci.registry, sci.datasets, "tampered/1", str(tmp_path / "in.parquet"), "scored")

    # On the server's machine: `slipway serve tampered` and embedded load_model read the same store.
    backend = Backend(hardened.settings)
    try:
        with pytest.raises(ContentMismatch):
            backend.registry.load_model("models:/tampered/1")
        host = ServingHost(backend.serving, backend.registry, backend.artifacts, poll_seconds=0.05)
        with serving(create_inference_app(host, "tampered")) as url:
            answer = httpx.post(f"{url}/invocations", json={"dataframe_records": [{"a": 1.0, "b": 2.0}]}, timeout=60)
        assert answer.status_code == 409 and answer.json()["error"]["code"] == "CONTENT_MISMATCH", answer.text
        endpoint = backend.serving.get_endpoint("tampered")
        assert endpoint.status.value == "Failed" and "changed after it was" in (endpoint.reason or "")
    finally:
        backend.close()


# ------------------------------------------------------------------ registered files cannot change


@pytest.fixture(params=["sqlite", "postgres"])
def race_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    env = {"SLIPWAY_MAX_UPLOAD_BYTES": str(64 << 20)}
    if request.param == "postgres":
        env["SLIPWAY_DB_URL"] = request.getfixturevalue("pg_url")
    with running_server(_settings(tmp_path / "home", **env)) as server:
        yield server


class _Held:
    """The database lock a writer needs to record a file, held from outside the server."""

    def __init__(self, server: LiveServer) -> None:
        self.url = server.settings.db_url
        self.postgres = self.url.startswith("postgresql")

    def __enter__(self) -> _Held:
        if self.postgres:  # the blob lock, as the garbage collector holds it while deleting blobs
            url = make_url(self.url).set(drivername="postgresql")
            self.conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
            self.conn.execute("SELECT pg_advisory_lock(%s)", (0x5119_B10B,))
        else:  # SQLite's write lock, as any other writer holds it
            self.sqlite = sqlite3.connect(make_url(self.url).database or "", isolation_level=None)
            self.sqlite.execute("BEGIN IMMEDIATE")
        return self

    def someone_waits(self) -> bool:
        if not self.postgres:
            return True
        waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        return bool(self.conn.execute(waiting).fetchone()[0])  # type: ignore[index]

    def __exit__(self, *exc: object) -> None:
        if self.postgres:
            self.conn.execute("SELECT pg_advisory_unlock(%s)", (0x5119_B10B,))
            self.conn.close()
        else:
            self.sqlite.execute("ROLLBACK")
            self.sqlite.close()


def _wait_for(condition: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


def test_a_file_uploaded_while_its_version_is_registered_is_refused_or_covered(
    race_server: LiveServer, tmp_path: Path
) -> None:
    package = _package(tmp_path / "pkg", 0.5)
    version_id = new_id()
    big = np.random.default_rng().bytes(8 << 20)  # a large upload: spooling and hashing it takes a while
    storage = Path(race_server.settings.artifact_url)
    answers: dict[str, httpx.Response] = {}
    with _http(race_server, race_server.token) as api:
        for file in sorted(p for p in package.rglob("*") if p.is_file()):
            api.put(f"/model-versions/{version_id}/files/{file.relative_to(package).as_posix()}",
                    content=file.read_bytes()).raise_for_status()

        def upload() -> None:
            with _http(race_server, race_server.token) as http:
                answers["upload"] = http.put(f"/model-versions/{version_id}/files/extra.bin", content=big)

        def register() -> None:
            with _http(race_server, race_server.token) as http:
                answers["register"] = http.post("/model-groups/raced/versions", json={"version_id": version_id})

        with _Held(race_server) as held:
            uploading = threading.Thread(target=upload)
            uploading.start()
            # The upload passed the "not registered yet" check and stored its blob: it now waits to record the path.
            _wait_for(lambda: (storage / blob_key(_sha256(big))).exists() and held.someone_waits(), "the upload waits")
            registering = threading.Thread(target=register)
            registering.start()
            if held.postgres:  # registration needs no blob lock: it completes while the upload waits
                registering.join(60)
                assert answers["register"].status_code == 201, answers["register"].text
        uploading.join(60)
        registering.join(60)
        assert answers["register"].status_code == 201, answers["register"].text
        registered = api.get(f"/model-versions/{version_id}").raise_for_status().json()
        files = api.get(f"/model-versions/{version_id}/files").raise_for_status().json()

    paths = {f["path"] for f in files}
    if held.postgres:
        assert answers["upload"].status_code == 409, answers["upload"].text
    # Whichever came first, the version's content hash covers exactly the files it has.
    assert ("extra.bin" in paths) == (answers["upload"].status_code == 200), answers["upload"].text
    assert registered["content_hash"] == tree_digest((f["path"], f["sha256"]) for f in files)
    with race_server.client() as client:
        assert client.registry.load_model(f"models:/raced/{registered['version']}").predict(X).shape == (4,)
        with _http(race_server, race_server.token) as api:
            late = api.put(f"/model-versions/{version_id}/files/later.bin", content=b"late")
            replaced = api.put(f"/model-versions/{version_id}/files/{MANIFEST}", content=b"{}")
        assert late.status_code == replaced.status_code == 409


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------ protected aliases


def test_protected_aliases_point_only_at_approved_versions_and_move_only_with_approval(
    hardened: LiveServer, people: dict[str, str], tmp_path: Path
) -> None:
    with _client(hardened, people["sci"]) as sci:
        for offset in (1.0, 2.0):
            sci.registry.register_model("guarded", _package(tmp_path / f"pkg{offset}", offset))
    sci_http, ann_http = _http(hardened, people["sci"]), _http(hardened, people["ann"])
    with sci_http, ann_http:
        def alias(http: httpx.Client, name: str, version: int) -> int:
            return http.put(f"/model-groups/guarded/aliases/{name}", json={"version": version}).status_code

        def status(http: httpx.Client, version: int, to: str) -> int:
            return http.post(f"/model-groups/guarded/versions/{version}/status", json={"status": to}).status_code

        # A scientist moves no protected alias, approved version or not; any other alias is theirs.
        assert [alias(sci_http, name, 1) for name in ("prod", "production", "champion")] == [403, 403, 403]
        assert alias(sci_http, "staging", 1) == 200
        mlflow = httpx.post(f"{hardened.url}/api/2.0/mlflow/registered-models/alias", timeout=60,
                            headers=sci_http.headers, json={"name": "guarded", "alias": "champion", "version": "1"})
        assert mlflow.status_code == 403, mlflow.text

        # An approver points them only at Approved versions.
        pending = ann_http.put("/model-groups/guarded/aliases/prod", json={"version": 1})
        assert pending.status_code == 409 and "only at Approved" in pending.json()["error"]["message"]
        assert status(ann_http, 1, "Approved") == 200
        assert alias(ann_http, "prod", 1) == alias(ann_http, "champion", 1) == 200

        # The version prod holds cannot leave Approved, nor be archived, until the alias moves.
        rejected = ann_http.post("/model-groups/guarded/versions/1/status", json={"status": "Rejected"})
        assert rejected.status_code == 409 and "move them" in rejected.json()["error"]["message"]
        assert status(ann_http, 1, "PendingManualApproval") == 409
        assert sci_http.post("/model-groups/guarded/versions/1/archive").status_code == 409
        assert sci_http.delete("/model-groups/guarded/aliases/prod").status_code == 403

        assert alias(ann_http, "prod", 2) == 409  # v2 is pending
        assert status(ann_http, 2, "Approved") == 200
        assert alias(ann_http, "prod", 2) == 200
        assert status(ann_http, 1, "Rejected") == 409  # champion still holds it
        assert ann_http.delete("/model-groups/guarded/aliases/champion").status_code == 204
        assert status(ann_http, 1, "Rejected") == 200
        group = ann_http.get("/model-groups/guarded").raise_for_status().json()
    assert group["aliases"] == {"prod": 2, "staging": 1}


def test_the_protected_aliases_are_a_setting(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home", SLIPWAY_PROTECTED_ALIASES="blue,green",
                         SLIPWAY_SEPARATION_OF_DUTIES="false")
    with running_server(settings) as server, server.client() as admin:
        admin.registry.register_model("colours", _package(tmp_path / "pkg", 3.0))
        with _http(server, server.token) as api:
            assert api.put("/model-groups/colours/aliases/blue", json={"version": 1}).status_code == 409
            assert api.put("/model-groups/colours/aliases/prod", json={"version": 1}).status_code == 200
