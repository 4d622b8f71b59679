"""REST routes derived from the services' declared operations (see :mod:`slipway._operations`).

For each declared operation one route is built at start-up: its path and query parameters and its
JSON body model come from the method's signature, its response from the return annotation, its
documentation from the docstring. The route only translates: it calls the service of the app's
backend with the arguments the request gave and returns what the service returns. Arguments the
request left out are not passed, so the service's own defaults apply, as for an embedded caller.

Two kinds of value are not JSON: a ``BinaryIO`` argument is the raw request body (an upload,
spooled to disk past 1 MiB and never held whole in memory), and a ``BinaryIO`` result is streamed
out in chunks. An argument marked ``FROM_SERVER`` is never read from a request: the service uses
what the server's settings say.

An operation declared ``job=True`` is heavy work: on a server whose worker processes do the heavy
work (``offload``), its route queues the call's arguments, in their JSON form, as a job for a
worker (``slipway.worker`` runs it as the principal who asked and records the answer's JSON form)
and awaits the job's end on the event loop, holding no thread; without workers it calls the
service in a thread of this process. The answer is the same either way. One declared also
``accepted=True`` is answered ``202`` at once with the job to poll (``GET /api/v1/jobs/{id}``),
its result the answer's JSON form (see :mod:`slipway.server._jobs`).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import tempfile
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, cast

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic_core import PydanticUndefined, from_json, to_jsonable_python
from starlette.concurrency import run_in_threadpool

from slipway._operations import (
    Argument,
    Operation,
    Wire,
    arguments,
    is_stream,
    job_kind,
    operations_of,
    split_optional,
    wire_form,
)
from slipway._redact import check_reveal
from slipway.security import PERMISSION_ATTRIBUTE
from slipway.server._jobs import JobState, accepted, run_job, start_job

if TYPE_CHECKING:
    from slipway._backend import Backend

CHUNK = 1 << 20  # bytes per read when streaming a file out
JSON_BODY_LIMIT = 64 << 20  # a JSON body is parsed in memory; a full metrics batch is well under 20 MiB
SPOOL_IN_MEMORY = 1 << 20  # an upload bigger than this is spooled to a temporary file on disk
RAW_BODY: dict[str, Any] = {  # how an upload route documents its body (and how BodyLimitMiddleware finds it)
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
BINARY_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
}

_SERVICE = "slipway_service"  # the endpoint's own parameters: not a name any service argument uses
_REVEAL = "slipway_reveal"
_REQUEST = "slipway_request"
_BODY = "slipway_body"
_BACKGROUND = "slipway_background"


class JsonBody(BaseModel):
    """The base of every request body: an unknown field is an error, so a misspelt one is not ignored."""

    model_config = ConfigDict(extra="forbid")


def backend_of(request: Request) -> Backend:
    """The backend of the app serving ``request`` (``app.state`` holds it untyped)."""
    backend: Backend = request.app.state.backend
    return backend


def service_of(attribute: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency giving the app's backend's service ``attribute`` (async: no threadpool hop for it)."""

    async def service(request: Request) -> Any:
        return getattr(request.app.state.backend, attribute)

    return service


def _reveal(
    reveal_secrets: Annotated[
        bool, Query(description="admins only: show params and tags whose keys look like secrets, not ***")
    ] = False,
) -> bool:
    return check_reveal(reveal_secrets)


def read_chunks(stream: BinaryIO) -> Iterator[bytes]:
    """A stream's content in chunks, closing it at the end (or when the response is abandoned)."""
    with stream:
        while chunk := stream.read(CHUNK):
            yield chunk


@contextlib.asynccontextmanager
async def spooled(request: Request) -> AsyncIterator[BinaryIO]:
    """The raw request body in a temporary file (in memory up to 1 MiB), rewound, removed afterwards."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        yield cast(BinaryIO, spool)


class JsonRequest(Request):
    """A request whose JSON body pydantic-core's parser reads: a third of the standard library's
    time on a metrics batch. A body it refuses is read by the standard library's parser, so a
    malformed body meets the same error (a 422 naming where it breaks) as on any route."""

    async def json(self) -> Any:
        if not hasattr(self, "_parsed"):
            body = await self.body()
            try:
                self._parsed = from_json(body)
            except ValueError:
                self._parsed = json.loads(body)
        return self._parsed


class JsonRoute(APIRoute):
    """A declared operation's route with a JSON body: the body is read by :class:`JsonRequest`;
    its validation, the OpenAPI document and everything else are FastAPI's, as on any route."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            return await handle(JsonRequest(request.scope, request.receive))

        return handler


# ------------------------------------------------------------------------------------------ bodies


def _default(value: Any) -> Any:
    """A parameter's default as the spec shows it: a sentinel that JSON cannot show is None."""
    if value is inspect.Parameter.empty:
        return PydanticUndefined
    try:
        to_jsonable_python(value)
    except Exception:  # noqa: BLE001 - any object pydantic cannot show
        return None
    return value


def _documented(arg: Argument) -> dict[str, Any]:
    """The alias and description of a field or parameter, where it has them (None would erase its type's)."""
    return {k: v for k, v in (("alias", arg.alias), ("description", arg.description)) if v is not None}


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


@functools.cache
def body_model(service: type, method_name: str, op_index: int) -> type[BaseModel] | None:
    """The JSON body model of one operation: its body arguments as fields (cached: built once per process)."""
    method = getattr(service, method_name)
    op = method.__slipway_operations__[op_index]
    fields = {
        arg.name: (arg.type, Field(_default(arg.default), **_documented(arg)))
        for arg in arguments(method, op)
        if arg.where == "body" and op.body is None
    }
    if not fields:
        return None
    name = op.name or method_name
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        _MODEL_NAMES.get((service.__name__, name), _camel(name)), __base__=JsonBody, __module__=service.__module__,
        __doc__=op.body_doc, **fields,
    )
    return model


# Body models whose derived name another domain's model already has (the spec needs distinct names).
_MODEL_NAMES = {("FeatureService", "create_group"): "CreateFeatureGroup",
                ("FeatureService", "update_group"): "UpdateFeatureGroup"}


# ------------------------------------------------------------------------------------------ routes


def _parameter(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def _endpoint_parameters(service: type, method_name: str, op_index: int, op: Operation, args: list[Argument],
                         get_service: Callable[..., Any]) -> list[inspect.Parameter]:
    out = [_parameter(_SERVICE, Annotated[Any, Depends(get_service)])]
    for arg in args:
        default = _default(arg.default)
        if arg.where == "path":
            path_type = split_optional(arg.type)[0]  # a path always has a value: None is the client's to fill
            out.append(_parameter(arg.key, Annotated[path_type, Path(**_documented(arg) | {"alias": None})]))
        elif arg.where == "query":
            marker = Query(**_documented(arg))
            out.append(_parameter(arg.name, Annotated[arg.type, marker],
                                  inspect.Parameter.empty if default is PydanticUndefined else default))
        elif arg.where == "body" and op.body == arg.name:  # the whole body: optional when the argument is
            out.append(_parameter(_BODY, Annotated[arg.type, Body(**_documented(arg) | {"alias": None})],
                                  inspect.Parameter.empty if default is PydanticUndefined else default))
    model = body_model(service, method_name, op_index)
    if model is not None:
        out.append(_parameter(_BODY, model))
    if op.job or any(arg.where == "raw" for arg in args):
        out.append(_parameter(_REQUEST, Request))
    if op.accepted:
        out.append(_parameter(_BACKGROUND, BackgroundTasks))
    if op.redacted:  # the answer is redacted by the server's middleware; only an admin may ask it not to be
        out.append(_parameter(_REVEAL, Annotated[bool, Depends(_reveal)]))
    return out


def _given(args: list[Argument], op: Operation, values: dict[str, Any]) -> list[tuple[Argument, Any]]:
    """The arguments an endpoint's request gave (the absent ones are not), validated, in their JSON form."""
    given: list[tuple[Argument, Any]] = []
    body: Any = values.get(_BODY)
    for arg in args:
        if arg.where == "body":
            if op.body == arg.name:
                if body is not None or arg.default is inspect.Parameter.empty:  # no body: the service's default
                    given.append((arg, body))
            elif arg.name in body.model_fields_set:
                given.append((arg, getattr(body, arg.name)))
        elif arg.where == "path":
            given.append((arg, values[arg.key]))
        elif arg.where == "query":
            value = values[arg.name]
            if value is not None or arg.default is None:  # an absent query argument leaves the service's default
                given.append((arg, value))
    return given


def _call_arguments(args: list[Argument], op: Operation, values: dict[str, Any]) -> dict[str, Any]:
    """The service call's keyword arguments from an endpoint's values: only what the request gave."""
    return {**op.fixed, **{arg.name: arg.decode(value) for arg, value in _given(args, op, values)}}


def _make_endpoint(method_name: str, op: Operation, args: list[Argument], result: Wire | None,
                   streamed: bool, kind: str) -> Callable[..., Any]:
    encode = result.to_wire if result is not None else None

    def answer(value: Any) -> Any:
        if streamed:
            return StreamingResponse(read_chunks(value), media_type="application/octet-stream")
        if encode is not None:
            value = encode(value) if value is not None else None
        return value  # secret-looking values are hidden on the way out (slipway.server._redaction)

    if op.job:  # a worker computes and encodes the answer, when the server has workers
        async def job(**values: Any) -> Any:
            request: Request = values[_REQUEST]
            payload = to_jsonable_python({arg.name: value for arg, value in _given(args, op, values)})
            call = _call_arguments(args, op, values)

            def here() -> Any:
                return answer(getattr(values[_SERVICE], method_name)(**call))

            if op.accepted:
                return accepted(await start_job(request, kind, payload, here, values[_BACKGROUND]), kind)
            return await run_job(request, kind, payload, here)

        return job

    if not any(arg.where == "raw" for arg in args):
        def endpoint(**values: Any) -> Any:
            call = _call_arguments(args, op, values)
            return answer(getattr(values[_SERVICE], method_name)(**call))

        return endpoint

    body = next(arg for arg in args if arg.where == "raw")

    async def upload(**values: Any) -> Any:
        call = _call_arguments(args, op, values)
        method = getattr(values[_SERVICE], method_name)
        async with spooled(values[_REQUEST]) as spool:
            found = await run_in_threadpool(lambda: method(**call, **{body.name: body.decode(spool)}))
        return answer(found)

    return upload


def add_operation_routes(router: APIRouter, service: type, attribute: str) -> None:
    """Add a route for every operation declared on ``service`` (found on the backend as ``attribute``)."""
    get_service = service_of(attribute)
    for method_name, method, ops in operations_of(service):
        hints = typing.get_type_hints(method, include_extras=True)
        result_type, result_wire = wire_form(hints.get("return", Any))
        streamed = is_stream(result_type)
        for index, op in enumerate(ops):
            args = arguments(method, op)
            endpoint = _make_endpoint(method_name, op, args, result_wire, streamed, job_kind(attribute, method_name))
            endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
                _endpoint_parameters(service, method_name, index, op, args, get_service)
            )
            endpoint.__name__ = endpoint.__qualname__ = op.name or method_name
            # What the server checks before reading the body (slipway.server._guard): the method's permission.
            setattr(endpoint, PERMISSION_ATTRIBUTE, getattr(method, PERMISSION_ATTRIBUTE, None))
            options: dict[str, Any] = {}
            if op.accepted:
                options.update(status_code=202, response_model=JobState)
            elif streamed:
                options.update(response_class=StreamingResponse, responses=BINARY_RESPONSE, response_model=None)
            elif result_type is None or result_type is type(None):
                options.update(status_code=204, response_class=Response, response_model=None)
            else:
                options.update(response_model=result_type)
            if any(arg.where == "raw" for arg in args):
                options["openapi_extra"] = RAW_BODY  # streamed to disk: the upload limit, not the JSON one
            else:
                options.update(max_body_size=JSON_BODY_LIMIT, route_class_override=JsonRoute)
            if op.status is not None:
                options["status_code"] = op.status
            router.add_api_route(
                op.path, endpoint, methods=[op.verb], tags=[op.tag], name=op.name or method_name,
                description=inspect.getdoc(method) or None, **options,
            )


def _specificity(route: Any) -> tuple[tuple[int, str], ...]:
    """Literal segments before ``{parameters}`` before ``{catch:path}``: ``/runs/search`` before ``/runs/{id}``."""
    path = getattr(route, "path", "")
    return tuple((2, "") if ":path}" in s else (1, "") if s.startswith("{") else (0, s) for s in path.split("/"))


def ordered(router: APIRouter) -> APIRouter:
    """``router`` with its routes sorted so that no parameter swallows a literal path of another route."""
    router.routes.sort(key=lambda r: _specificity(r) if isinstance(r, APIRoute) else ())
    return router

