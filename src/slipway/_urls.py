"""Which URLs a caller may make Slipway read or call: one check for every user-supplied URL.

A server that fetches or posts to URLs its callers name can be aimed at what only the server can
reach: a cloud metadata service (``http://169.254.169.254/``), an admin port on loopback, a
database on the private network (server-side request forgery). Every place that takes a URL from a
user goes through this module:

- :func:`check_scheme` refuses schemes outside an allow-list (``file://`` where only ``s3://``
  belongs, ``gopher://`` anywhere), naming the field.
- :class:`UrlPolicy` decides which hosts a webhook may target. With ``webhook_hosts`` set
  (``SLIPWAY_WEBHOOK_HOSTS``), only those hosts, loopback included if listed; unset, any host
  whose every address is public, so loopback, private, link-local and metadata addresses are out.
- :func:`post_json` sends a webhook: the host is resolved and checked again at send time (a name
  may have been repointed since it was accepted), and redirects are never followed, so a public
  receiver cannot bounce the request to an internal one.

Example:
    >>> policy = UrlPolicy(webhook_hosts=("hooks.example.com",))
    >>> policy.check_webhook("https://hooks.example.com/alarm")
    'https://hooks.example.com/alarm'
    >>> policy.check_webhook("http://169.254.169.254/latest/meta-data")
    Traceback (most recent call last):
    ...
    slipway.errors.InvalidInput: webhook 'http://169.254.169.254/latest/meta-data': host '169.254.169.254' is not \
one of the configured webhook hosts (hooks.example.com); an operator adds it to webhook_hosts
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from slipway.errors import InvalidInput, PermissionDenied

WEBHOOK_SCHEMES = ("http", "https")
MAX_URL = 2048
# Names that reach the machine itself or a cloud's metadata service whatever DNS says.
_INTERNAL_NAMES = ("localhost", "metadata", "metadata.google.internal")
_INTERNAL_SUFFIXES = (".localhost", ".internal", ".local")


def check_scheme(url: str, schemes: Collection[str], field: str) -> str:
    """The lower-cased scheme of ``url`` if it is one of ``schemes`` (``""`` stands for a plain path).

    Raises:
        InvalidInput: (naming ``field``) for another scheme, or a URL longer than 2048 characters.
    """
    if not isinstance(url, str):
        raise InvalidInput(f"{field} must be a string, got {type(url).__name__}", field=field)
    if len(url) > MAX_URL:
        raise InvalidInput(f"{field} is {len(url)} characters long; the limit is {MAX_URL}", field=field)
    scheme, sep, _ = url.partition("://")
    scheme = scheme.lower() if sep else ""
    if scheme not in schemes:
        allowed = ", ".join(f"{s}://" if s else "a plain path" for s in schemes)
        raise InvalidInput(f"{field} {url!r}: the scheme {scheme or 'of a plain path'!r} is not allowed; "
                           f"use {allowed}", field=field)
    return scheme


def is_public_address(address: str) -> bool:
    """Whether an IP address is a public one: not loopback, private, link-local, reserved or multicast."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is not part of it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _literal_ip(host: str) -> str | None:
    """The address a host written as an IP stands for, old forms included (``2130706433``, ``0x7f.1``)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    last = host.rsplit(".", 1)[-1]
    if last.isdigit() or last.startswith("0x"):  # no domain name ends in a number
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return None
    return None


@dataclass(frozen=True)
class UrlPolicy:
    """Which hosts webhooks may target.

    Attributes:
        webhook_hosts: the hosts webhooks may call (names or IP addresses; ``*.example.com``
            matches every subdomain); a listed host is trusted whatever it resolves to. None:
            any host whose addresses are all public.
    """

    webhook_hosts: tuple[str, ...] | None = None

    def _configured(self, host: str) -> bool:
        for entry in self.webhook_hosts or ():
            entry = entry.strip().lower().strip("[]")
            if entry == host or (entry.startswith("*.") and host.endswith(entry[1:])):
                return True
        return False

    def check_webhook(self, url: str, field: str = "webhook") -> str:
        """Return ``url`` if a webhook may target it, judged without a DNS lookup.

        Raises:
            InvalidInput: (naming ``field``) for a scheme other than http(s), credentials in the
                URL, or a host that is not allowed.
        """
        check_scheme(url, WEBHOOK_SCHEMES, field)
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            raise InvalidInput(f"webhook {url!r} has no host", field=field)
        if parts.username is not None or parts.password is not None:
            raise InvalidInput(f"webhook {url!r}: credentials in the URL are not allowed", field=field)
        try:
            parts.port  # noqa: B018 -- reading it validates it
        except ValueError:
            raise InvalidInput(f"webhook {url!r} has an invalid port", field=field) from None
        if self._configured(host):
            return url
        if self.webhook_hosts is not None:
            raise InvalidInput(
                f"webhook {url!r}: host {host!r} is not one of the configured webhook hosts "
                f"({', '.join(self.webhook_hosts) or 'none'}); an operator adds it to webhook_hosts",
                field=field,
            )
        literal = _literal_ip(host)
        if (literal is not None and not is_public_address(literal)) or (
            host in _INTERNAL_NAMES or host.endswith(_INTERNAL_SUFFIXES)
        ):
            raise InvalidInput(
                f"webhook {url!r}: host {host!r} is an internal address; an operator who means it lists it "
                "in webhook_hosts",
                field=field,
            )
        return url

    def check_target(self, url: str) -> None:
        """At send time: the static checks, and every address the host resolves to must be public.

        A configured host is trusted as configured. The name is resolved here, just before the
        request, so a name that pointed to a public address when the webhook was accepted and
        points inside now is refused.

        Raises:
            InvalidInput: as :meth:`check_webhook`.
            PermissionDenied: if the host resolves to a non-public address.
        """
        self.check_webhook(url)
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        if self._configured(host):
            return
        try:
            infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80),
                                       proto=socket.IPPROTO_TCP)
        except OSError as exc:
            raise InvalidInput(f"webhook {url!r}: cannot resolve {host!r}: {exc}", field="webhook") from None
        internal = sorted({str(info[4][0]) for info in infos if not is_public_address(str(info[4][0]))})
        if internal:
            raise PermissionDenied(
                f"webhook {url!r}: {host!r} resolves to internal address(es) {', '.join(internal)}",
                field="webhook",
            )


def post_json(policy: UrlPolicy, url: str, payload: Mapping[str, Any], *, timeout: float = 5.0) -> httpx.Response:
    """POST ``payload`` as JSON to a webhook ``url`` that ``policy`` allows; redirects are not followed.

    Raises:
        InvalidInput, PermissionDenied: if the policy refuses the URL (nothing is sent).
        httpx.HTTPError: if the receiver cannot be reached or answers other than 2xx (a redirect
            included).
    """
    policy.check_target(url)
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        response = client.post(url, json=dict(payload))
    response.raise_for_status()
    return response


__all__ = ["MAX_URL", "WEBHOOK_SCHEMES", "UrlPolicy", "check_scheme", "is_public_address", "post_json"]
