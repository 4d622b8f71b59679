"""Cross-site request forgery and DNS rebinding against a live server (issue 15, item 7).

A page on another origin can make a victim's browser send requests to a server it can reach: with
the web UI's login cookie (SameSite=Strict is no help from another port of the same host, which is
the same *site*), or to a ``--no-auth`` server on loopback, which trusts whoever reaches it. A
rebinding page even reads the answers, addressing the server by the attacker's own host name.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _server import LiveServer, serving

from slipway import load_settings
from slipway._backend import Backend
from slipway.cli._serve import allowed_hosts, guarded
from slipway.server import create_app
from slipway.serving import ServingHost, create_inference_app

TIMEOUT = 30
CSRF = "a-csrf-token-of-this-browser"


@pytest.fixture(scope="module")
def no_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Backend]]:
    """``slipway server --no-auth`` on loopback: every caller acts as the admin 'anonymous'."""
    home: Path = tmp_path_factory.mktemp("no-auth")
    backend = Backend(load_settings(env={}, cwd=home, home=str(home)))
    try:
        with serving(create_app(backend, auth=False)) as url:
            yield url, backend
    finally:
        backend.close()


def _host_of(url: str) -> str:
    return url.removeprefix("http://")


def _other_port_origin(url: str) -> str:
    """A page on another port of the server's host: another origin, the same site."""
    host, port = _host_of(url).rsplit(":", 1)
    return f"http://{host}:{int(port) + 1}"


def test_a_rebinding_page_cannot_create_an_admin_on_a_no_auth_server(no_auth: tuple[str, Backend]) -> None:
    url, backend = no_auth
    port = url.rsplit(":", 1)[1]
    name = f"intruder-{uuid.uuid4().hex[:8]}"
    rebound = {"Host": f"attacker.example:{port}"}  # what the browser sends once the name points at us
    resp = httpx.post(f"{url}/api/v1/users", json={"name": name, "roles": ["admin"]}, headers=rebound,
                      timeout=TIMEOUT)
    assert resp.status_code == 421, resp.text
    assert resp.json()["error"]["code"] == "MISDIRECTED_REQUEST"
    assert httpx.get(f"{url}/api/v1/me", headers=rebound, timeout=TIMEOUT).status_code == 421  # reads too
    assert name not in {u.name for u in backend.security.list_users()}
    # Addressed by its own names, the same server answers.
    for host in (_host_of(url), f"localhost:{port}"):
        assert httpx.get(f"{url}/api/v1/me", headers={"Host": host}, timeout=TIMEOUT).status_code == 200


def test_a_page_of_another_origin_cannot_post_to_a_no_auth_server(no_auth: tuple[str, Backend]) -> None:
    url, backend = no_auth
    name = f"csrf-{uuid.uuid4().hex[:8]}"
    # A plain form post (text/plain JSON) from a page on another port, as a browser sends it.
    forged = {"Origin": _other_port_origin(url), "Sec-Fetch-Site": "same-site", "Content-Type": "text/plain"}
    resp = httpx.post(f"{url}/api/2.0/mlflow/experiments/create", content=f'{{"name": "{name}"}}',
                      headers=forged, timeout=TIMEOUT)
    assert resp.status_code == 403, resp.text
    resp = httpx.post(f"{url}/api/v1/users", json={"name": name, "roles": ["admin"]},
                      headers={"Origin": _other_port_origin(url)}, timeout=TIMEOUT)  # an older browser: Origin only
    assert resp.status_code == 403, resp.text
    assert name not in {e.name for e in backend.tracking.list_experiments()}
    assert name not in {u.name for u in backend.security.list_users()}
    # The same call from a program (no Origin, no Sec-Fetch-Site) is served, as --no-auth promises.
    ok = httpx.post(f"{url}/api/2.0/mlflow/experiments/create", json={"name": name}, timeout=TIMEOUT)
    assert ok.status_code == 200, ok.text


def _browser(server: LiveServer, **headers: str) -> httpx.Client:
    """A browser logged in to the UI: the login cookie and the UI's CSRF cookie, nothing else."""
    cookies = {"slipway_token": server.token, "slipway_csrf": CSRF}
    return httpx.Client(base_url=server.url, cookies=cookies, headers=headers, timeout=TIMEOUT)


@pytest.mark.parametrize("prefix", ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"])
def test_text_plain_json_from_another_port_does_not_reach_the_mlflow_api(hardened: LiveServer, prefix: str) -> None:
    name = f"csrf-{uuid.uuid4().hex[:8]}"
    forged = {"Origin": _other_port_origin(hardened.url), "Sec-Fetch-Site": "same-site", "Content-Type": "text/plain"}
    with _browser(hardened, **forged) as browser:
        resp = browser.post(f"{prefix}/experiments/create", content=f'{{"name": "{name}"}}')
    assert resp.status_code == 403, resp.text
    with hardened.client() as client:
        assert name not in {e.name for e in client.tracking.list_experiments()}


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/2.0/mlflow/experiments/create"),
    ("POST", "/ajax-api/2.0/mlflow/experiments/create"),
    ("POST", "/api/v1/experiments"),
    ("DELETE", "/api/v1/runs/{run}"),  # bodiless
    ("POST", "/api/v1/runs/{run}/restore"),  # bodiless
])
def test_a_cookie_authenticated_change_needs_the_csrf_token(
    hardened: LiveServer, api: httpx.Client, run_id: str, method: str, path: str
) -> None:
    """Even without Origin headers (a browser may omit them), the cookie alone changes nothing."""
    url = path.format(run=run_id)
    body = {"name": f"csrf-{uuid.uuid4().hex[:8]}"} if "experiments" in path else None
    with _browser(hardened) as browser:
        refused = browser.request(method, url, json=body)
        assert refused.status_code == 403, refused.text
        assert api.get(f"/runs/{run_id}").json()["lifecycle_stage"] == "active"
        wrong = browser.request(method, url, json=body, headers={"X-CSRF-Token": "guessed"})
        assert wrong.status_code == 403, wrong.text
        allowed = browser.request(method, url, json=body, headers={"X-CSRF-Token": CSRF})
        assert allowed.status_code < 300, allowed.text


def test_mlflow_refusals_keep_mlflow_s_error_shape(hardened: LiveServer) -> None:
    with _browser(hardened) as browser:
        resp = browser.post("/api/2.0/mlflow/experiments/create", json={"name": "x"})
    assert resp.status_code == 403
    assert resp.json()["error_code"] == "PERMISSION_DENIED"


def test_bearer_token_calls_need_no_csrf_token(hardened: LiveServer) -> None:
    """A program sending its token in a header cannot be forged by a page: nothing changes for it."""
    resp = httpx.post(f"{hardened.url}/api/2.0/mlflow/experiments/create", json={"name": uuid.uuid4().hex},
                      headers={**hardened.headers, "Origin": "http://elsewhere.example"}, timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text


def test_slipway_serve_answers_its_own_host_names_only(tmp_path: Path) -> None:
    backend = Backend(load_settings(env={}, cwd=tmp_path, home=str(tmp_path)))
    try:
        host = ServingHost(backend.serving, backend.registry, backend.artifacts)
        app = guarded(create_inference_app(host, "e"), allowed_hosts(backend.settings, "127.0.0.1"))
        with serving(app) as url:
            body = {"inputs": [[1.0]]}
            rebound = httpx.post(f"{url}/invocations", json=body, headers={"Host": "attacker.example"},
                                 timeout=TIMEOUT)
            assert rebound.status_code == 421, rebound.text
            forged = httpx.post(f"{url}/invocations", content=b'{"inputs": [[1.0]]}', timeout=TIMEOUT,
                                headers={"Origin": "http://attacker.example", "Content-Type": "text/plain"})
            assert forged.status_code == 403, forged.text
            assert httpx.get(f"{url}/health", timeout=TIMEOUT).status_code == 200
    finally:
        backend.close()
