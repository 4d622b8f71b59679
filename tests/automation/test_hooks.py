"""Incoming webhooks: HMAC signatures, replay protection, and POST /hooks/{name} over HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from _polling import until
from _server import server_settings, serving
from _webhook import Hook

from slipway._backend import Backend
from slipway.automation import ActionRun, RunStatus, Webhook, sign_hook
from slipway.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from slipway.server import create_app


def test_a_signed_call_runs_the_action_with_the_body_as_event(backend: Backend, receiver: Hook) -> None:
    auto = backend.automation
    made = auto.create_hook("on-push", Webhook(receiver.url, text="built {event.commit}"))
    assert made.secret and len(made.secret) >= 32
    assert [h.secret for h in auto.list_hooks()] == [None]  # shown once, at creation
    secret = made.secret
    body = json.dumps({"commit": "4f2a9c1"}).encode()
    headers = sign_hook(secret, body)
    run = auto.receive_hook("on-push", body, headers["X-Slipway-Timestamp"], headers["X-Slipway-Signature"])
    assert run.status is RunStatus.SUCCEEDED and run.event["commit"] == "4f2a9c1"
    assert receiver.received[0]["text"] == "built 4f2a9c1"
    assert [r.id for r in auto.hook_history("on-push")] == [run.id]

    with pytest.raises(Conflict):  # the same signed request again: a replay
        auto.receive_hook("on-push", body, headers["X-Slipway-Timestamp"], headers["X-Slipway-Signature"])
    stale = sign_hook(secret, body, timestamp=int(time.time()) - 3600)
    with pytest.raises(Unauthenticated) as err:
        auto.receive_hook("on-push", body, stale["X-Slipway-Timestamp"], stale["X-Slipway-Signature"])
    assert "replayed" in err.value.message
    forged = sign_hook("not-the-secret", body)
    with pytest.raises(Unauthenticated) as err:
        auto.receive_hook("on-push", body, forged["X-Slipway-Timestamp"], forged["X-Slipway-Signature"])
    assert err.value.field == "X-Slipway-Signature"
    tampered = sign_hook(secret, body)
    with pytest.raises(Unauthenticated):
        auto.receive_hook("on-push", b'{"commit": "evil"}', tampered["X-Slipway-Timestamp"],
                          tampered["X-Slipway-Signature"])
    with pytest.raises(Unauthenticated) as err:
        auto.receive_hook("on-push", body, None, headers["X-Slipway-Signature"])
    assert err.value.field == "X-Slipway-Timestamp"
    text = sign_hook(secret, b"[1, 2]")
    with pytest.raises(InvalidInput):
        auto.receive_hook("on-push", b"[1, 2]", text["X-Slipway-Timestamp"], text["X-Slipway-Signature"])
    with pytest.raises(NotFound):
        auto.receive_hook("nope", body, headers["X-Slipway-Timestamp"], headers["X-Slipway-Signature"])
    assert len(receiver.received) == 1


def test_post_hooks_over_http_needs_the_signature_not_a_token(tmp_path: Path, receiver: Hook) -> None:
    backend = Backend(server_settings(tmp_path / "server"))
    try:
        secret = backend.automation.create_hook("ci", Webhook(receiver.url, text="{event.ref}")).secret or ""
        with serving(create_app(backend)) as url:
            body = b'{"ref": "main"}'
            ok = httpx.post(f"{url}/hooks/ci", content=body, headers=sign_hook(secret, body))
            assert ok.status_code == 202, ok.text
            assert ok.json()["status"] == "Pending"  # accepted: with no worker, this process runs it after answering
            ran = until(lambda: _ended(backend, ok.json()["id"]), 30, "the hook's run to end")
            assert ran.status is RunStatus.SUCCEEDED and receiver.received[0]["text"] == "main"
            assert [r.id for r in backend.automation.hook_history("ci")] == [ran.id]

            unsigned = httpx.post(f"{url}/hooks/ci", content=body)
            assert unsigned.status_code == 401
            assert unsigned.json()["error"]["code"] == "UNAUTHENTICATED"
            bad = httpx.post(f"{url}/hooks/ci", content=body, headers=sign_hook("guess", body))
            assert bad.status_code == 401 and "signature" in bad.json()["error"]["message"]
            assert httpx.post(f"{url}/hooks/missing", content=body, headers=sign_hook(secret, body)).status_code == 404
        assert len(receiver.received) == 1
    finally:
        backend.close()


def _ended(backend: Backend, run_id: str) -> ActionRun | None:
    run = backend.automation.get_run(run_id)
    return run if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED) else None
