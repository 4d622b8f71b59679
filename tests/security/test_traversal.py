"""Paths: no route reads or writes outside the artifact root or the folders the server shares."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from _server import LiveServer, running_server, server_settings

TRAVERSALS = [
    "../../../../etc/passwd",
    "a/../../../etc/passwd",
    "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "%252e%252e/%252e%252e/etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "/etc/passwd",
    "//etc/passwd",
    "a/./../../b",
    "..\\..\\windows\\win.ini",
]


def _no_file_outside(root: Path, before: set[str]) -> None:
    """Nothing was written outside ``root`` (the tests' temporary folder stands for the whole disk)."""
    after = {str(p) for p in root.parent.rglob("*")}
    escaped = [p for p in after - before if not p.startswith(str(root))]
    assert not escaped, escaped


@pytest.mark.parametrize("path", TRAVERSALS)
def test_artifact_routes_stay_inside_the_store(api: httpx.Client, run_id: str, hardened: LiveServer,
                                               path: str) -> None:
    home = hardened.settings.home
    before = {str(p) for p in home.parent.rglob("*")}
    put = api.put(f"/runs/{run_id}/artifacts/{path}", content=b"owned")
    assert put.status_code in (200, 400, 404, 405), put.text
    if put.status_code == 200:  # a harmless path after normalisation: stored under the run, nowhere else
        stored = put.json()["path"]
        assert ".." not in stored.split("/") and not stored.startswith("/")
    _no_file_outside(home, before)
    got = api.get(f"/runs/{run_id}/artifacts/{path}")
    assert got.status_code in (200, 400, 404), got.text
    assert b"root:" not in got.content and b"[fonts]" not in got.content
    listed = api.get(f"/runs/{run_id}/artifacts", params={"path": path})
    assert listed.status_code in (200, 400, 404), listed.text
    staged = api.put(f"/model-versions/01JD0000000000000000000000/files/{path}", content=b"owned")
    assert staged.status_code in (200, 400, 404, 405), staged.text
    _no_file_outside(home, before)


@pytest.mark.parametrize("uri", [
    "/etc/passwd",
    "file:///etc/passwd",
    "file://localhost/etc/passwd",
    "file://attacker.example/share/x.csv",
    "{shared}/../../../../etc/passwd",
    "{shared}/%2e%2e/%2e%2e/etc/passwd",
    "http://169.254.169.254/latest/meta-data",
    "https://example.com/data.csv",
    "gopher://127.0.0.1:6379/_x",
])
def test_dataset_uris_stay_inside_the_shared_folders(api: httpx.Client, hardened: LiveServer, uri: str) -> None:
    uri = uri.format(shared=hardened.settings.home / "shared")
    resp = api.post("/datasets/stolen/versions/from-uri", json={"uri": uri, "format": "csv"})
    assert resp.status_code in (400, 403, 404), resp.text
    assert "root:" not in resp.text
    assert api.get("/datasets/stolen").status_code == 404


def test_a_symlink_in_a_shared_folder_cannot_point_outside(api: httpx.Client, hardened: LiveServer,
                                                           tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("password\nhunter2\n")
    link = hardened.settings.home / "shared" / "innocent.csv"
    if not link.exists():
        os.symlink(secret, link)
    resp = api.post("/datasets/linked/versions/from-uri", json={"uri": str(link)})
    assert resp.status_code == 403, resp.text
    assert "outside the folders" in resp.json()["error"]["message"]


def test_a_file_inside_a_shared_folder_is_read(api: httpx.Client, hardened: LiveServer) -> None:
    (hardened.settings.home / "shared" / "ok.csv").write_text("x,y\n1,2\n3,4\n")
    resp = api.post("/datasets/fine/versions/from-uri", json={"uri": str(hardened.settings.home / "shared" / "ok.csv")})
    assert resp.status_code == 201, resp.text
    assert api.get("/datasets/fine").status_code == 200


def test_a_server_without_dataset_roots_reads_no_local_path(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("x,y\n1,2\n")
    with running_server(server_settings(tmp_path / "server")) as server, httpx.Client(  # dataset_roots unset
        base_url=f"{server.url}/api/v1", headers=server.headers, timeout=60
    ) as http:
        for uri in (str(data), f"file://{data}", "/etc/passwd"):
            resp = http.post("/datasets/d/versions/from-uri", json={"uri": uri, "format": "csv"})
            assert resp.status_code == 400, resp.text
            assert "dataset_roots" in resp.json()["error"]["message"]
        uploaded = http.post("/datasets/d/versions", params={"format": "csv"}, content=data.read_bytes())
        assert uploaded.status_code == 201, uploaded.text  # the way to send a local file
