"""HTTP plumbing of remote mode: one pooled session, JSON in and out, errors rebuilt as exceptions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
from pydantic_core import to_json

from slipway._version import __version__
from slipway.client._retry import RetryPolicy, is_idempotent, log_retry
from slipway.errors import ServiceUnavailable, SlipwayError, Unauthenticated, error_from_dict

API_PREFIX = "/api/v1"
_ENDED = ("Succeeded", "Failed")  # the ends of a job (slipway.store.JobQueue)
_FIRST_POLL_S, _MAX_POLL_S = 0.02, 0.5


class HttpSession:
    """A connection-pooled client for one ``slipway server``.

    Calls that may be repeated are tried again after a blip, as ``retry`` says (see
    :mod:`slipway.client._retry`); ``retry=None`` never retries.
    """

    def __init__(
        self, base_url: str, *, token: str | None = None, timeout: float = 60.0, retry: RetryPolicy | None = None
    ) -> None:
        self.retry = retry if retry is not None else RetryPolicy(retries=0)
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
        idempotent: bool | None = None,
        job: bool = False,
    ) -> Any:
        """Send a request; return the decoded JSON body (None for 204); raise the server's error.

        Args:
            idempotent: whether the request may be sent again after a blip (default: as HTTP
                says of ``method``); a streamed ``content`` is never sent twice.
            job: the route is heavy work a server hands its workers: it is asked to answer at
                once (``Prefer: respond-async``) and its ``202`` answer, the job, is polled to its
                end; the answer is the job's result, as the route would have answered (a server
                that did the work before answering is read as usual).
        """
        if job:
            headers = {**(headers or {}), "Prefer": "respond-async"}
        if params:
            params = {k: v for k, v in params.items() if v is not None}
        if json is not None:
            # pydantic-core's encoder: a quarter of the standard library's time on a metrics batch.
            # Bodies hold JSON values only (non-finite numbers already sent as text, see _operations.jsonable).
            content, json = to_json(json, inf_nan_mode="constants"), None
            headers = {**(headers or {}), "Content-Type": "application/json"}
        repeatable = (is_idempotent(method) if idempotent is None else idempotent) and (
            content is None or isinstance(content, bytes | str)
        )
        resp = self._send(
            method, path, repeatable, lambda: self._client.request(
                method, path, json=json, params=params, content=content, headers=headers
            )
        )
        if resp.status_code >= 400:
            raise _error(resp, self._has_token)
        if resp.status_code == 204 or not resp.content:
            return None
        if job and resp.status_code == 202:
            return self._job_result(resp.json())
        return resp.json()

    def _job_result(self, job: Any) -> Any:
        """The result of a job a server answered ``202`` with (``{"id", "status", ...}``), polled at
        ``/jobs/{id}`` until it ends; the error it failed with raised again, as the route would have."""
        pause = _FIRST_POLL_S
        while job["status"] not in _ENDED:
            time.sleep(pause)
            pause = min(pause * 2, _MAX_POLL_S)
            job = self.request("GET", f"/jobs/{job['id']}")
        if job["status"] == "Failed":
            raise error_from_dict(job["error"]["body"], int(job["error"]["status"]))
        return job["result"]

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
        """Download a body in chunks, never holding it whole in memory.

        Retried as a GET until its first byte arrives; a download broken half-way is not resumed.
        """
        request = self._client.build_request("GET", path, params=params)
        resp = self._send("GET", path, True, lambda: self._client.send(request, stream=True))
        try:
            if resp.status_code >= 400:
                resp.read()
                raise _error(resp, self._has_token)
            yield from resp.iter_bytes(1 << 20)
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"cannot reach the Slipway server at {self.base_url}: {exc}") from None
        finally:
            resp.close()

    def _send(self, method: str, path: str, repeatable: bool, send: Any) -> httpx.Response:
        """``send()``, tried again while the policy allows and the answer or error is worth it."""
        retries = self.retry.retries if repeatable else 0
        attempt = 0
        while True:
            try:
                resp: httpx.Response = send()
            except httpx.TransportError as exc:
                if attempt >= retries or not self.retry.retryable_error(exc):
                    raise ServiceUnavailable(f"cannot reach the Slipway server at {self.base_url}: {exc}") from None
                attempt += 1
                wait = self.retry.delay(attempt)
                log_retry(method, path, f"{type(exc).__name__}: {exc}", wait, attempt, retries)
            else:
                if attempt >= retries or not self.retry.retryable_answer(resp):
                    return resp
                attempt += 1
                wait = self.retry.delay(attempt, resp.headers.get("Retry-After"))
                resp.close()
                log_retry(method, path, f"the server answered {resp.status_code}", wait, attempt, retries)
            time.sleep(wait)

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
