"""Remote methods derived from the services' declared operations (see :mod:`slipway._operations`).

:func:`remote` gives a domain's remote client one method per declared service method, with
the service method's signature and docstring: it sends the request the operation declares through
:class:`HttpSession` (which turns an error answer back into the exception the service raised) and
parses the record the service returns. Only the arguments the caller gave are sent, so the server's
service applies its own defaults, as it does for an embedded caller. No rule lives here.

What must run on the caller's machine (reading and writing its files, converting its DataFrames)
is written by hand in the domain's client class, which :func:`remote` extends; a domain with no such
method has a client made whole from its declarations (:func:`derived_client`).
"""

from __future__ import annotations

import functools
import inspect
import io
import math
import os
import typing
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Self, TypeVar, cast
from urllib.parse import quote

from pydantic import TypeAdapter
from pydantic_core import to_jsonable_python

from slipway._operations import (
    OPERATIONS_ATTRIBUTE,
    Argument,
    Operation,
    arguments,
    composed_of,
    is_stream,
    operations_of,
    server_supplied,
    wire_form,
)
from slipway.client._http import HttpSession

T = TypeVar("T")
R = TypeVar("R", bound="RemoteApi")
CHUNK = 1 << 20  # bytes per upload chunk and per download buffer


@functools.cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)  # built once per type: building one is slow


def parse(kind: Any, data: Any) -> Any:
    """Validate a JSON answer into the record type the service returns."""
    return _adapter(kind).validate_python(data)


def _finite(value: Any) -> Any:
    """JSON has no NaN or Infinity: those go as "nan", "inf", "-inf", which the server reads as the service does."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def jsonable(value: Any) -> Any:
    """An argument as JSON: records as objects, times as ISO 8601, enums as values; anything else as text."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:  # most arguments: nothing to convert
        return value
    if kind is float:
        return value if math.isfinite(value) else str(value)
    return _finite(to_jsonable_python(value, fallback=str))


def url_path(path: str) -> str:
    """Percent-encode a path of ``/``-separated segments, dot segments included.

    httpx would resolve ``..`` away before sending; the server must see the path exactly as the
    caller wrote it, so that it refuses it exactly as the embedded store does.
    """
    return "/".join(quote(seg, safe="") if seg.strip(".") else seg.replace(".", "%2E") for seg in path.split("/"))


def local_files(folder: Path) -> Iterator[Path]:
    """The files below ``folder``; linked folders are not followed, so a link cycle cannot trap the walk."""
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            yield Path(dirpath, name)


class DownloadStream(io.RawIOBase):
    """A readable binary stream over the chunks of a download; closing it ends the download."""

    def __init__(self, chunks: Generator[bytes, None, None]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = memoryview(next(chunks, b""))  # the server's error, if any, is raised here

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def close(self) -> None:
        if not self.closed:
            self._chunks.close()
        super().close()


def download(http: HttpSession, path: str, params: dict[str, Any] | None = None) -> BinaryIO:
    """A stream over a download; close it (or use ``with``) to free the connection."""
    chunks = cast(Generator[bytes, None, None], http.stream(path, params=params))
    return cast(BinaryIO, io.BufferedReader(DownloadStream(chunks), CHUNK))


class RemoteApi:
    """The base of a domain's remote client: one session to the server, and the derived methods.

    A domain's client class names its Protocol as a base for mypy only (``Declared``), so mypy checks
    the hand-written methods against the service's signatures and knows the derived ones; to mypy
    those look abstract, hence :meth:`connect` rather than calling the class.
    """

    _query: dict[str, Any] = {}  # noqa: RUF012 - sent with every operation that declares it reads it

    def __init__(self, http: HttpSession) -> None:
        self._http = http

    @classmethod
    def connect(cls, http: HttpSession, **options: Any) -> Self:
        """The client of the server behind ``http``."""
        return cls(http, **options)


class _Route:
    """One operation as a client sends it: where each argument goes."""

    def __init__(self, method: Callable[..., Any], op: Operation) -> None:
        self.op = op
        self.args: list[Argument] = [a for a in arguments(method, op) if a.where != "server"]
        self.path_args = [a for a in self.args if a.where == "path"]

    def request(
        self, client: RemoteApi, values: dict[str, Any], given: dict[str, Any], extra: dict[str, Any]
    ) -> dict[str, Any]:
        """The keyword arguments of :meth:`HttpSession.request` for a call with ``values`` (``given`` by the caller)."""
        path = self.op.path
        for arg in self.path_args:
            value = values.get(arg.name, arg.default)
            if value is None and arg.name in self.op.fill:
                value = self.op.fill[arg.name](client, {**values, **given})
            value = _encode(arg, value)
            text = url_path(str(value)) if f"{{{arg.key}:path}}" in path else quote(str(value), safe="")
            path = path.replace(f"{{{arg.key}:path}}", text).replace(f"{{{arg.key}}}", text)
        sent: dict[str, Any] = {"path": path}
        query: dict[str, Any] = dict(extra) if self.op.redacted else {}
        body: dict[str, Any] = {}
        for arg in self.args:
            if arg.name not in given or arg.where == "path":
                continue
            value = given[arg.name]
            if arg.where == "raw":
                sent["content"] = _upload(_encode(arg, value) if arg.wire is not None else value)
                sent["headers"] = {"Content-Type": "application/octet-stream"}
            elif arg.where == "query":
                query[arg.key] = _encode(arg, value)
            elif self.op.body == arg.name:
                sent["json"] = _encode(arg, value)
            else:
                body[arg.key] = _encode(arg, value)
        if query:
            sent["params"] = query
        if self.op.body is None and "content" not in sent and any(a.where == "body" for a in self.args):
            sent["json"] = body
        return sent


def _encode(arg: Argument, value: Any) -> Any:
    if arg.wire is not None and arg.wire.to_wire is not None and value is not None:
        return arg.wire.to_wire(value)  # JSON as it returns it
    return jsonable(value)


def _upload(data: bytes | BinaryIO) -> Any:
    """Bytes as they are; a stream sent in chunks, never read whole into memory."""
    return bytes(data) if isinstance(data, bytes | bytearray) else iter(functools.partial(data.read, CHUNK), b"")


class _Plan:
    """A remote method's routes and result parsing, worked out on its first call."""

    def __init__(self, method: Callable[..., Any], ops: tuple[Operation, ...], signature: inspect.Signature) -> None:
        self.signature = signature
        self.routes = [_Route(method, op) for op in ops]
        self.defaults = {
            p.name: p.default for p in signature.parameters.values() if p.default is not inspect.Parameter.empty
        }
        result_type, result_wire = wire_form(typing.get_type_hints(method, include_extras=True).get("return", Any))
        self.streamed = is_stream(result_type)
        self.result_type = None if result_type is type(None) else result_type
        self.from_wire = result_wire.from_wire if result_wire is not None else None

    def route(self, given: dict[str, Any]) -> tuple[_Route, dict[str, Any]]:
        """The first route whose fixed arguments have the values of this call (the last one otherwise),
        and the values of the call's arguments, defaults included."""
        values = {**self.defaults, **given}
        for route in self.routes:
            if all(values.get(name) == fixed for name, fixed in route.op.fixed.items()):
                return route, values
        return self.routes[-1], values

    def call(self, client: RemoteApi, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        given = self.signature.bind(client, *args, **kwargs).arguments
        route, values = self.route(given) if len(self.routes) > 1 else (self.routes[0], given)
        request = route.request(client, values, given, client._query)
        if self.streamed:
            return download(client._http, request["path"], request.get("params"))
        answer = client._http.request(route.op.verb, request.pop("path"), idempotent=route.op.repeatable,
                                      job=route.op.job, **request)
        if self.result_type is None:
            return None
        result = parse(self.result_type, answer)
        return self.from_wire(result) if self.from_wire is not None and result is not None else result


def _remote_method(name: str, method: Callable[..., Any], ops: tuple[Operation, ...]) -> Callable[..., Any]:
    server_only = server_supplied(method)
    signature = inspect.signature(method)
    signature = signature.replace(parameters=[p for p in signature.parameters.values() if p.name not in server_only])
    plan: list[_Plan] = []

    def remote(self: RemoteApi, *args: Any, **kwargs: Any) -> Any:
        if not plan:
            plan.append(_Plan(method, ops, signature))
        return plan[0].call(self, args, kwargs)

    remote.__name__ = name
    remote.__doc__ = method.__doc__
    remote.__signature__ = signature  # type: ignore[attr-defined]
    # typing.get_type_hints reads these, resolved in the service's module (found through __wrapped__).
    remote.__annotations__ = {k: v for k, v in method.__annotations__.items() if k not in server_only}
    remote.__wrapped__ = method  # type: ignore[attr-defined]
    return remote


def derived(service: type, name: str) -> Callable[..., Any]:
    """The remote method derived from ``service``'s declared operation ``name``, for a hand-written
    method that prepares the caller's side and then sends the declared request."""
    method = getattr(service, name)
    return _remote_method(name, method, getattr(method, OPERATIONS_ATTRIBUTE))


def remote(service: type) -> Callable[[type[R]], type[R]]:
    """Decorate a domain's client class: it gains a remote method for every operation declared on
    ``service`` that it does not write by hand, and the service's :func:`~slipway._operations.composed` methods."""

    def derive(client: type[R]) -> type[R]:
        for name, method, ops in operations_of(service):
            if not hasattr(client, name):
                derived = _remote_method(name, method, ops)
                derived.__qualname__ = f"{client.__name__}.{name}"
                derived.__module__ = client.__module__
                setattr(client, name, derived)
        for name, method in composed_of(service):
            if not hasattr(client, name):
                setattr(client, name, method)  # the service's own code, calling the remote methods
        return client

    return derive


def derived_client(service: type, name: str, module: str) -> type[RemoteApi]:
    """The remote client, a class ``name`` of ``module``, of a domain none of whose operations differs
    by mode: every method is derived from ``service``'s declarations."""
    doc = (f"The same methods, records and errors as :class:`{service.__name__}`, which documents each of "
           "them, on a ``slipway server``.")
    return remote(service)(type(name, (RemoteApi,), {"__doc__": doc, "__module__": module}))
