"""Oversized bodies: refused with a JSON 413 that names the limit, whether declared or streamed."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from _server import LiveServer


def _chunks(total: int, size: int = 16 << 10) -> Iterator[bytes]:
    """A body without Content-Length (chunked transfer), so the server must count as it reads."""
    sent = 0
    while sent < total:
        part = min(size, total - sent)
        sent += part
        yield b"x" * part


def _assert_too_large(resp: httpx.Response, setting: str) -> None:
    assert resp.status_code == 413, resp.text
    assert resp.headers["content-type"] == "application/json"
    error = resp.json()["error"]
    assert error["code"] == "PAYLOAD_TOO_LARGE"
    assert setting in error["message"]


@pytest.fixture(scope="module")
def limits(hardened: LiveServer) -> tuple[int, int]:
    """(max_request_bytes, max_upload_bytes) of the module's server."""
    return hardened.settings.max_request_bytes, hardened.settings.max_upload_bytes


def test_a_json_body_over_the_limit_is_refused_before_it_is_read(api: httpx.Client, limits: tuple[int, int]) -> None:
    resp = api.post("/experiments", json={"name": "x" * limits[0]})
    _assert_too_large(resp, "max_request_bytes")
    assert "64 KiB" in resp.json()["error"]["message"]


def test_a_chunked_json_body_is_cut_off_at_the_limit(api: httpx.Client, limits: tuple[int, int]) -> None:
    resp = api.post("/experiments", content=_chunks(2 * limits[0]), headers={"content-type": "application/json"})
    _assert_too_large(resp, "max_request_bytes")


def test_a_body_under_the_limit_is_served(api: httpx.Client) -> None:
    resp = api.post("/runs", json={"tags": {"note": "x" * 4000}})
    assert resp.status_code == 201, resp.text


def test_uploads_have_their_own_larger_limit(api: httpx.Client, run_id: str, limits: tuple[int, int]) -> None:
    max_request_bytes, max_upload_bytes = limits
    between = max_request_bytes * 2  # over the JSON limit, under the upload limit
    resp = api.put(f"/runs/{run_id}/artifacts/data.bin", content=b"y" * between)
    assert resp.status_code == 200, resp.text
    assert resp.json()["size"] == between
    _assert_too_large(api.put(f"/runs/{run_id}/artifacts/big.bin", content=b"y" * (max_upload_bytes + 1)),
                      "max_upload_bytes")
    streamed = api.put(f"/runs/{run_id}/artifacts/big.bin", content=_chunks(max_upload_bytes + 1))
    _assert_too_large(streamed, "max_upload_bytes")
    listed = api.get(f"/runs/{run_id}/artifacts").json()
    assert [a["path"] for a in listed] == ["data.bin"]  # nothing half-written is left behind


def test_a_model_file_upload_is_limited_too(api: httpx.Client, limits: tuple[int, int]) -> None:
    resp = api.put("/model-versions/01JD0000000000000000000000/files/model.bin", content=b"z" * (limits[1] + 1))
    _assert_too_large(resp, "max_upload_bytes")


def test_a_content_length_that_is_not_a_number_is_a_4xx(hardened: LiveServer) -> None:
    host, port = hardened.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: -1\r\n\r\n{}")
        status_line = conn.recv(4096).split(b"\r\n", 1)[0]
    assert status_line.split()[1] == b"400", status_line
