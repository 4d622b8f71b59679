"""Incoming-hook signatures are read strictly: one captured request is accepted once, however it is respelled.

The attack: capture one signed ``POST /hooks/NAME`` and send it again with its signature header
padded (spaces, a tab, a non-breaking space), in upper-case hex, or with its timestamp respelled.
A lenient parse accepted each spelling as a new request, so one capture ran the action many times.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from _polling import until
from _server import LiveServer
from _webhook import Hook

from slipway.automation import sign_hook

SIG, TS = "X-Slipway-Signature", "X-Slipway-Timestamp"


@pytest.fixture
def receiver() -> Iterator[Hook]:
    hook = Hook()
    yield hook
    hook.close()


def _post_raw(url: str, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    """POST with headers exactly as given: httpx refuses to send padded values, an attacker's socket does not."""
    where = urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname or "", where.port, timeout=30)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Length", str(len(body)))
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders(body)
        return conn.getresponse().status
    finally:
        conn.close()


def _respellings(timestamp: str, signature: str) -> list[list[tuple[bytes, bytes]]]:
    """The captured headers, each list one respelling of them."""
    digest = signature.removeprefix("sha256=")
    ts, sig = timestamp.encode(), signature.encode()
    padded = [b" " + sig, sig + b" ", b"\t" + sig, sig + b"\t", b"\xa0" + sig, sig + b"\xa0", b" \xa0" + sig + b"\xa0"]
    variants = [[(TS.encode(), ts), (SIG.encode(), value)] for value in padded]
    variants += [
        [(TS.encode(), ts), (SIG.encode(), f"sha256={digest.upper()}".encode())],
        [(TS.encode(), ts), (SIG.encode(), f"SHA256={digest}".encode())],
        [(TS.encode(), b"0" + ts), (SIG.encode(), sig)],
        [(TS.encode(), b"+" + ts), (SIG.encode(), sig)],
        [(TS.encode(), b" " + ts), (SIG.encode(), sig)],
        [(TS.encode(), ts + b"\xa0"), (SIG.encode(), sig)],
        [(TS.encode(), ts), (SIG.encode(), sig), (SIG.encode(), sig)],
    ]
    return variants


def test_a_captured_hook_call_is_accepted_once_however_it_is_respelled(hardened: LiveServer, receiver: Hook) -> None:
    with httpx.Client(base_url=hardened.url, timeout=30) as http:
        made = http.post("/api/v1/hooks", headers=hardened.headers,
                         json={"name": "replayed", "action": {"kind": "webhook", "url": receiver.url, "text": "x"}})
        secret = made.raise_for_status().json()["secret"]
        body = json.dumps({"commit": "4f2a9c1"}).encode()
        captured = sign_hook(secret, body)
        first = http.post("/hooks/replayed", content=body, headers=captured)
        assert first.status_code == 202, first.text

        answers = []
        for headers in _respellings(captured[TS], captured[SIG]):
            answers.append((headers, _post_raw(hardened.url, "/hooks/replayed", body, headers)))
        assert all(code in (401, 409) for _headers, code in answers), answers
        assert http.post("/hooks/replayed", content=body, headers=captured).status_code == 409

        history = http.get("/api/v1/hooks/replayed/history", headers=hardened.headers).raise_for_status().json()
    assert len(history) == 1
    until(lambda: receiver.received, 30, "the accepted call's action")  # it runs after the answer
    assert len(receiver.received) == 1
