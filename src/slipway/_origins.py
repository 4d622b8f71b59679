"""Which requests a Slipway server answers at all: its own host names, and same-origin browsers.

Two attacks reach a server on this machine or this network through a victim's browser:

- **DNS rebinding.** A page on ``attacker.example`` re-points its name at ``127.0.0.1`` and then
  talks to the server as if it were its own origin (it may read the answers too). The browser still
  sends ``Host: attacker.example``, so a server that answers only the names it is known by
  (``allowed_hosts``: by default the address it is bound to, ``localhost``, ``127.0.0.1`` and
  ``::1``) refuses it with ``421 Misdirected Request``.
- **Cross-site request forgery.** A page on another origin (another port of the same host is
  another origin, and the same *site*, so SameSite cookies are sent) makes the browser post a form
  or a ``text/plain`` body. A request that changes something and carries no ``Authorization``
  header, so that it acts with authority the browser holds ambiently (the web UI's cookie, or a
  ``--no-auth`` server's trust in its loopback callers), must come from the server's own origin:
  ``Sec-Fetch-Site`` is ``same-origin`` (or ``none``, typed by the user), and an ``Origin`` header
  names this host. Clients that are not browsers send neither header and are not affected.

:class:`OriginGuard` does both for ``slipway server`` and ``slipway serve``.

Example:
    >>> hosts = HostAllowList(default_allowed_hosts("0.0.0.0", ("models.example.com",)))
    >>> hosts.allows("models.example.com:5000"), hosts.allows("attacker.example")
    (True, False)
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Iterable, Sequence
from urllib.parse import SplitResult, urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SAME_ORIGIN_FETCHES = frozenset({"same-origin", "none"})
_WILDCARD_BINDS = ("0.0.0.0", "::", "")


def _host_name(value: str) -> str:
    """The host of a ``Host`` header or an origin's authority, lower-cased, without port or brackets."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:5000
        return value[1:].partition("]")[0]
    if value.count(":") == 1:
        return value.partition(":")[0]
    return value  # a name, an IPv4 address, or a bare IPv6 address


def default_allowed_hosts(bind_host: str, configured: Sequence[str] | None = None) -> tuple[str, ...]:
    """The host names a server bound to ``bind_host`` answers: ``configured`` if set, else its own.

    Its own are the loopback names and the bound address; a server bound to every interface
    (``0.0.0.0``, ``::``) also answers this machine's host name and the addresses it resolves to.
    """
    if configured:
        return tuple(configured)
    names = [*LOCAL_HOSTS, _host_name(bind_host)]
    if _host_name(bind_host) in _WILDCARD_BINDS:
        names += _machine_names()
    return tuple(dict.fromkeys(n for n in names if n and n not in _WILDCARD_BINDS))


def _machine_names() -> list[str]:
    names = [socket.gethostname(), socket.getfqdn()]
    for name in list(names):
        try:
            names += [str(info[4][0]) for info in socket.getaddrinfo(name, None)]
        except OSError:  # a host name that does not resolve: the name itself still counts
            continue
    return [n.lower() for n in names]


class HostAllowList:
    """The host names a server answers (``*`` for any; ``*.example.com`` for its subdomains)."""

    def __init__(self, hosts: Iterable[str]) -> None:
        entries = [_host_name(h) for h in hosts if h.strip()]
        self.any = "*" in entries
        self.exact = frozenset(e for e in entries if not e.startswith("*."))
        self.suffixes = tuple(e[1:] for e in entries if e.startswith("*."))
        for entry in self.exact:  # normalise address spellings (::0001 is ::1)
            try:
                self.exact |= {str(ipaddress.ip_address(entry))}
            except ValueError:
                continue

    def allows(self, host_header: str | None) -> bool:
        """Whether a request with this ``Host`` header is addressed to this server (no header: yes)."""
        if self.any or host_header is None:
            return True
        host = _host_name(host_header)
        return host in self.exact or host.endswith(self.suffixes)


def is_cross_origin(headers: Headers) -> bool:
    """Whether a browser sent this request from a page of another origin than the one it addresses."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.lower() not in _SAME_ORIGIN_FETCHES:
        return True
    origin = headers.get("origin")
    if origin is None:
        return False
    if origin == "null":  # sandboxed frames, file:// pages, some redirects: never this server's own pages
        return True
    sent = urlsplit(origin)
    return _authority(sent, sent.scheme) != _authority(urlsplit("//" + headers.get("host", "")), sent.scheme)


def _authority(parts: SplitResult, scheme: str) -> tuple[str, int | None]:
    """(host, port) with the scheme's default port filled in, so ``http://a`` equals ``a:80``."""
    try:
        port = parts.port
    except ValueError:  # not a number: matches no real authority
        port = -1
    return parts.hostname or "", port if port is not None else {"http": 80, "https": 443}.get(scheme)


def _refusal(status: int, code: str, message: str) -> tuple[dict[str, object], bytes]:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}
    return start, body


class OriginGuard:
    """Answer only requests addressed to an allowed host; refuse cross-origin changes made with ambient authority.

    A request whose ``Host`` is not allowed gets ``421`` (``MISDIRECTED_REQUEST``); a request that
    would change something (any method but GET, HEAD, OPTIONS), carries no ``Authorization`` header
    and comes from a page of another origin gets ``403`` (``PERMISSION_DENIED``). Both answer before
    the request's body is read or its credentials are looked up.

    Args:
        app: the application to guard.
        allowed_hosts: the host names to answer (see :class:`HostAllowList`).
    """

    def __init__(self, app: ASGIApp, *, allowed_hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = HostAllowList(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = None
        if not self.hosts.allows(headers.get("host")):
            refusal = _refusal(421, "MISDIRECTED_REQUEST", "this server does not answer requests addressed to that "
                               "host (server setting allowed_hosts)")
        elif scope["method"] not in SAFE_METHODS and "authorization" not in headers and is_cross_origin(headers):
            refusal = _refusal(403, "PERMISSION_DENIED", "a page of another origin may not change anything here: "
                               "send the request from this server's own pages, or with an Authorization header")
        if refusal is None:
            await self.app(scope, receive, send)
            return
        start, body = refusal
        await send(start)
        await send({"type": "http.response.body", "body": body})
