"""HTTP plumbing of remote mode: one pooled session, JSON in and out, errors rebuilt as exceptions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from slipway._version import __version__
from slipway.errors import ServiceUnavailable, SlipwayError, Unauthenticated, error_from_dict

API_PREFIX = "/api/v1"


class HttpSession:
    """A connection-pooled client for one ``slipway server``."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 60.0) -> None:
        headers = {"User-Agent": f"slipway/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._has_token = bool(token)
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=self.base_url + API_PREFIX, headers=headers, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send a request; return the decoded JSON body (None for 204); raise the server's error."""
        if params:
            params = {k: v for k, v in params.items() if v is not None}
        try:
            resp = self._client.request(method, path, json=json, params=params, content=content, headers=headers)
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"cannot reach the Slipway server at {self.base_url}: {exc}") from None
        if resp.status_code >= 400:
            raise _error(resp, self._has_token)
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    def post_raw(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[Any, httpx.Headers]:
        """POST ``body`` to ``path`` below the server's root (not the REST API's prefix): the
        inference route. Returns the decoded JSON answer and the response headers."""
        try:
            resp = self._client.post(self.base_url + path, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"cannot reach the Slipway server at {self.base_url}: {exc}") from None
        if resp.status_code >= 400:
            raise _error(resp, self._has_token)
        return resp.json(), resp.headers

    def stream(self, path: str, params: dict[str, Any] | None = None) -> Iterator[bytes]:
        """Download a body in chunks, never holding it whole in memory."""
        try:
            with self._client.stream("GET", path, params=params) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise _error(resp, self._has_token)
                yield from resp.iter_bytes(1 << 20)
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"cannot reach the Slipway server at {self.base_url}: {exc}") from None

    def close(self) -> None:
        self._client.close()


def _error(resp: httpx.Response, has_token: bool = True) -> SlipwayError:
    try:
        body = resp.json()
    except ValueError:
        body = {"error": {"message": f"server answered {resp.status_code}: {resp.text[:200]}"}}
    error = error_from_dict(body, resp.status_code)
    if isinstance(error, Unauthenticated) and not has_token:  # the usual newcomer's case: say where a token goes
        error.message = f"{error.message} (no token is configured: set SLIPWAY_TOKEN, or token in slipway.toml)"
        error.args = (error.message,)
    return error
