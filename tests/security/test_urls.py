"""Crafted URIs: webhook targets limited to public or configured hosts, never redirected, schemes allow-listed."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from _webhook import Hook

from slipway import Client, load_settings
from slipway._urls import UrlPolicy, check_scheme, post_json
from slipway.errors import InvalidInput, PermissionDenied

INTERNAL = [
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://169.254.169.254/latest/meta-data/iam",  # cloud metadata
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
    "http://10.0.0.5/hook",
    "http://192.168.1.1/admin",
    "http://0.0.0.0:5432/",
    "http://2130706433/",  # 127.0.0.1 as one number
    "http://0x7f.1/",  # and in hex
    "http://localhost./hook",  # with the root's dot
    "http://service.internal/",
]


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_hosts_are_refused_unless_configured(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        UrlPolicy().check_webhook(url, field="webhooks")
    assert caught.value.field == "webhooks"


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "gopher://127.0.0.1:6379/_FLUSHALL", "ftp://example.com/x", "javascript:alert(1)",
    "http://user:pw@example.com/hook", "http:///no-host", "//example.com/hook",
])
def test_other_schemes_credentials_and_hostless_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        UrlPolicy().check_webhook(url)


def test_a_configured_host_is_the_only_one_allowed() -> None:
    policy = UrlPolicy(webhook_hosts=("127.0.0.1", "*.hooks.example.com"))
    assert policy.check_webhook("http://127.0.0.1:9/hook")
    assert policy.check_webhook("https://a.hooks.example.com/x")
    with pytest.raises(InvalidInput, match="not one of the configured webhook hosts"):
        policy.check_webhook("https://example.org/hook")
    with pytest.raises(InvalidInput):
        policy.check_webhook("https://hooks.example.com.evil.org/x")


def test_a_name_resolving_to_an_internal_address_is_refused_at_send_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A public-looking name accepted once may be repointed inside (DNS rebinding): send time resolves again."""
    url = "https://hooks.example.com/alarm"
    assert UrlPolicy().check_webhook(url) == url

    def rebound(host: str, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        assert host == "hooks.example.com"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 443))]

    monkeypatch.setattr(socket, "getaddrinfo", rebound)
    with pytest.raises(PermissionDenied, match="169.254.169.254"):
        post_json(UrlPolicy(), url, {"state": "ALARM"})


def test_check_scheme_names_the_field() -> None:
    assert check_scheme("s3://bucket/x", ("s3", ""), "source") == "s3"
    assert check_scheme("data/train.csv", ("s3", ""), "source") == ""
    with pytest.raises(InvalidInput) as caught:
        check_scheme("file:///etc/passwd", ("s3", ""), "source")
    assert caught.value.field == "source"
    with pytest.raises(InvalidInput, match="limit is 2048"):
        check_scheme("s3://" + "a" * 3000, ("s3",), "source")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Hook]:
    made = Hook()
    yield made
    made.close()


def test_redirects_are_never_followed(receiver: Hook) -> None:
    with pytest.raises(httpx.HTTPStatusError):
        post_json(UrlPolicy(("127.0.0.1",)), f"{receiver.base}/bounce", {"a": 1})
    assert receiver.paths[-1] == "/bounce"  # /hook was never called
    post_json(UrlPolicy(("127.0.0.1",)), f"{receiver.base}/hook", {"a": 1})
    assert receiver.paths[-1] == "/hook"


def test_alarm_webhooks_to_internal_hosts_are_refused_by_default(tmp_path: Path, receiver: Hook) -> None:
    settings = load_settings(env={}, cwd=tmp_path, home=str(tmp_path / "home"))  # no webhook_hosts
    data = pd.DataFrame({"x": [1.0, 2.0, 3.0] * 10})
    with Client(settings) as client:
        client.monitoring.create_baseline("b", data)
        client.monitoring.create_monitor("m", baseline="b")
        for url in (f"{receiver.base}/hook", "http://169.254.169.254/latest/meta-data"):
            with pytest.raises(InvalidInput) as caught:
                client.monitoring.create_alarm("a", monitor="m", metric="drift.x", threshold=0, webhooks=[url])
            assert caught.value.field == "webhooks" and "webhook_hosts" in caught.value.message


def test_the_rest_api_refuses_an_ssrf_webhook(api: httpx.Client) -> None:
    resp = api.post("/monitoring/alarms", json={
        "name": "ssrf", "monitor": "nope", "metric": "drift.x", "threshold": 0,
        "webhooks": ["http://169.254.169.254/latest/meta-data/iam/security-credentials/"],
    })
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["field"] == "webhooks"
    assert "webhook_hosts" in resp.json()["error"]["message"]
