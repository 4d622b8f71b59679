"""Declared operations: a service method says, next to its permission, how it is reached over HTTP.

Every public operation of a domain is declared once, on its service::

    api = Api("runs")

    class TrackingService:
        @api.post("/runs/{run_id}/end")
        @requires(Permission.WRITE)
        def end_run(self, run_id: str, status: Status = RunStatus.FINISHED) -> Run:
            ...

The faces read the declaration and derive the rest: the REST route (``slipway.server._operations``:
path parameters from the ``{names}`` of the path, the other arguments from the query string for GET
and DELETE and from a JSON body otherwise, the result as the response, ``204`` for ``None``) and
the remote client's method (``slipway.client._operations``: the same signature, sending that
request and parsing the same record). The method's signature, annotations and docstring are the
spec: an ``Annotated`` type's ``pydantic.Field`` gives a field's constraints and description, the
docstring's ``Args:`` section a parameter's description, and :class:`Wire` says how a value
travels when its JSON form is not its Python form.

This module imports neither FastAPI nor httpx: a domain depends on the declaration, not on a face.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, BinaryIO, TypeVar, Union

F = TypeVar("F", bound=Callable[..., Any])

OPERATIONS_ATTRIBUTE = "__slipway_operations__"
COMPOSED_ATTRIBUTE = "__slipway_composed__"
_PATH_PARAM = re.compile(r"{(\w+)(?::path)?}")


@dataclass(frozen=True)
class Wire:
    """How a value travels when its JSON form differs from its Python form (``Annotated`` metadata).

    On an argument, ``to_wire`` runs on the caller's side and ``from_wire`` on the server's; on a
    result the other way round; neither sees None, which stays None. A path parameter's ``to_wire``
    is where a client checks a name with the service's own check before it goes into a URL, so a
    bad name fails as it does embedded.

    Attributes:
        type: the JSON-side type: requests are validated against it and the spec shows it (the
            Python type when None).
        to_wire: Python value -> the JSON value sent as it is (default: ``to_jsonable_python``,
            non-finite numbers as the strings "nan", "inf", "-inf").
        from_wire: validated JSON value -> Python value (default: the validated value).
        name: the JSON field or query parameter name, when it is not the Python one.
    """

    type: Any = None
    to_wire: Callable[[Any], Any] | None = None
    from_wire: Callable[[Any], Any] | None = None
    name: str | None = None


class _FromServer:
    """See :data:`FROM_SERVER`."""

    def __repr__(self) -> str:
        return "FROM_SERVER"


FROM_SERVER = _FromServer()
"""``Annotated[T, FROM_SERVER]``: an argument no request sets (what a process may read, say): on a
server the service uses what the server's settings say; a remote caller does not have it."""


@dataclass(frozen=True)
class Operation:
    """One HTTP route of a service method (a method may have several: ``/latest`` and ``/{version}``).

    Attributes:
        verb: GET, POST, PUT, PATCH or DELETE.
        path: below ``/api/v1``; ``{name}`` is the method's argument ``name``, ``{name:path}`` one
            that may hold ``/``.
        tag: the group of the route in the API's documentation.
        status: the success status; ``204`` (no body) when the method returns ``None``, else 200.
        query: arguments sent in the query string although the verb has a body (uploads).
        body: the one argument that *is* the JSON body, instead of one field of it; a request may
            leave the body out when the argument has a default.
        fixed: arguments this route does not take, with the value it stands for: a client
            sends the call here when the arguments have these values (``{"version": None}`` for
            ``/latest``).
        fill: how a client finds a path argument the caller left as None, by name: a function of
            the client and the call's arguments (the version number of ``latest``).
        body_doc: what the JSON body's schema says of it, where its fields' descriptions do not.
        redacted: the result holds params and tags, whose secret-looking values leave as ``***``
            unless an admin asks with ``reveal_secrets=true``.
        name: the route's name (summary and operation id), the method's by default.
        idempotent: whether a client may send the call again after a connection error or a
            429/502/503/504 answer; by default as HTTP says of the verb (GET, PUT and DELETE may be
            repeated, POST and PATCH not). Declare ``idempotent=True`` on a POST that changes
            nothing twice (a search, a "set to" call).
        job: heavy work, kept off the API's process: on a server whose worker processes do the
            heavy work, a worker runs the call as a job of kind :func:`job_kind` and the request
            awaits its end; embedded callers, and a server without workers, run it in-process.
        accepted: (a job) the route answers ``202`` at once with the job, which ``GET
            /api/v1/jobs/{id}`` tells until it ends, its result then the method's answer in JSON
            form; the remote client polls it and returns that answer, as an embedded call does.
    """

    verb: str
    path: str
    tag: str
    status: int | None = None
    query: tuple[str, ...] = ()
    body: str | None = None
    fixed: Mapping[str, Any] = field(default_factory=dict)
    fill: Mapping[str, Callable[[Any, Mapping[str, Any]], Any]] = field(default_factory=dict)
    body_doc: str | None = None
    redacted: bool = False
    name: str | None = None
    idempotent: bool | None = None
    job: bool = False
    accepted: bool = False

    def __post_init__(self) -> None:
        if self.accepted and not self.job:
            raise ValueError(f"{self.verb} {self.path}: only a job (job=True) is answered 202 and polled")

    @property
    def repeatable(self) -> bool:
        """Whether a client may send this request again after a blip (see ``idempotent``)."""
        return self.idempotent if self.idempotent is not None else self.verb in ("GET", "PUT", "DELETE")

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(_PATH_PARAM.findall(self.path))


class Api:
    """The declarations of one group of routes (one documentation tag): ``@api.get(path)`` and so on.

    Declaring adds nothing to a call: the method is returned as it is, marked with its operations.
    """

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def _declare(self, verb: str, path: str, options: dict[str, Any]) -> Callable[[F], F]:
        options["query"] = tuple(options.get("query", ()))
        op = Operation(verb, path, self.tag, **options)

        def mark(method: F) -> F:
            declared = list(getattr(method, OPERATIONS_ATTRIBUTE, ()))
            setattr(method, OPERATIONS_ATTRIBUTE, (op, *declared))  # in reading order, top first
            return method

        return mark

    def get(self, path: str, **options: Any) -> Callable[[F], F]:
        return self._declare("GET", path, options)

    def post(self, path: str, **options: Any) -> Callable[[F], F]:
        return self._declare("POST", path, options)

    def put(self, path: str, **options: Any) -> Callable[[F], F]:
        return self._declare("PUT", path, options)

    def patch(self, path: str, **options: Any) -> Callable[[F], F]:
        return self._declare("PATCH", path, options)

    def delete(self, path: str, **options: Any) -> Callable[[F], F]:
        return self._declare("DELETE", path, options)


# The job of a monitor run: slipway.server queues it, slipway.worker runs it. Its payload is
# ``{"name", "start", "end"}`` (over the captured traffic) and ``"input"``: the id of the staged
# predictions and labels a request sent, the file JOB_INPUT_FILE of the artifact owner
# ``Owner(JOB_INPUT, id)``, which the worker forgets once the run is done.
MONITOR_RUN = "monitor.run"
JOB_INPUT = "job_input"
JOB_INPUT_FILE = "input.json"
# The job of an automation run a hook call recorded (payload ``{"run": id}``): a worker runs its action.
ACTION_RUN = "automation.action_run"
# The job of data a server registers as a dataset's next version: its payload is ``name`` and the
# ``register`` options the request gave (``format``, ``description``, ``source``, ``tags``,
# ``produced_by``, ``derived_from``), with the data: ``input``, the staged upload, or ``uri``, which
# the worker reads as the server would (within its ``dataset_roots``).
DATASETS_REGISTER = "datasets.register"
# The job of rows a server ingests into a feature group: ``{"name", "online", "format"}``, ``format``
# saying what the staged ``input`` is: ``parquet`` (the rows) or ``records`` (the JSON body ``{"records": [...]}``).
FEATURES_INGEST = "features.ingest"
# The jobs of a bias or explainability report computed by the server over a registered dataset version.
CLARIFY_BIAS = "clarify.bias"
CLARIFY_EXPLAIN = "clarify.explain"


def job_kind(attribute: str, method_name: str) -> str:
    """The kind of job (``automation.collect_garbage``) that runs the operation declared ``job=True`` of
    the method ``method_name`` of the backend's service ``attribute``: the server queues it, workers claim it."""
    return f"{attribute}.{method_name}"


def composed(method: F) -> F:
    """Mark a public method made only of calls to the service's other public methods (``approve`` is
    ``update_status(..., APPROVED)``): it has no route of its own, and a remote client runs this same
    code, its calls going to the server one by one."""
    setattr(method, COMPOSED_ATTRIBUTE, True)
    return method


def _members(service: type) -> dict[str, Any]:
    """The service's attributes, its bases' first, in definition order (a subclass's override wins)."""
    found: dict[str, Any] = {}
    for klass in reversed(service.__mro__[:-1]):
        found.update(vars(klass))
    return found


def operations_of(service: type) -> Iterator[tuple[str, Callable[..., Any], tuple[Operation, ...]]]:
    """(name, method, its operations) of every declared method of ``service``, in definition order."""
    for name, method in _members(service).items():
        declared = getattr(method, OPERATIONS_ATTRIBUTE, None)
        if declared:
            yield name, method, declared


def composed_of(service: type) -> Iterator[tuple[str, Callable[..., Any]]]:
    """(name, method) of every method of ``service`` marked :func:`composed`."""
    for name, method in _members(service).items():
        if getattr(method, COMPOSED_ATTRIBUTE, False):
            yield name, method


def split_optional(hint: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); anything else -> (hint, False)."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        members = [m for m in typing.get_args(hint) if m is not type(None)]
        if len(members) < len(typing.get_args(hint)):
            return (members[0] if len(members) == 1 else Union[tuple(members)]), True  # noqa: UP007
    return hint, False


def wire_form(hint: Any) -> tuple[Any, Wire | None]:
    """The JSON-side type of an annotation and its :class:`Wire`, ``X | None`` looked into."""
    inner, optional = split_optional(hint)
    metadata = getattr(inner, "__metadata__", ())
    wire = next((m for m in metadata if isinstance(m, Wire)), None)
    if wire is None:
        return hint, None
    base = inner.__origin__ if wire.type is None else wire.type
    rest = tuple(m for m in metadata if not isinstance(m, Wire))
    typed = Annotated[(base, *rest)] if rest else base
    return (typed | None if optional else typed), wire


def is_stream(hint: Any) -> bool:
    """Whether an annotation is a binary stream (``BinaryIO``, ``bytes | BinaryIO``): a raw body or a download."""
    inner, _ = split_optional(hint)
    members = typing.get_args(inner) if typing.get_origin(inner) in (Union, types.UnionType) else (inner,)
    return any(m is BinaryIO or m is typing.IO for m in members)


@dataclass(frozen=True)
class Argument:
    """One argument of a declared method and where a request to one of its operations carries it.

    ``where`` is ``path``, ``query``, ``body`` (a field of the JSON body, or the whole body when the
    operation names it as ``body``), ``raw`` (the raw request body: a ``BinaryIO`` argument) or
    ``server`` (supplied by the server, never sent). A ``BinaryIO`` argument, or one whose
    :class:`Wire` type is ``BinaryIO`` (a DataFrame sent as Parquet), is the raw request body, and
    the other arguments of its operation travel in the query string.
    """

    name: str
    where: str
    type: Any
    wire: Wire | None
    default: Any
    description: str | None

    @property
    def alias(self) -> str | None:
        return self.wire.name if self.wire is not None else None

    @property
    def key(self) -> str:
        """Its name in the request: the field, query or path parameter name."""
        return self.alias or self.name

    def decode(self, value: Any) -> Any:
        """A validated JSON value as the service takes it (``from_wire``); None stays None on either side."""
        if self.wire is None or self.wire.from_wire is None or value is None:
            return value
        return self.wire.from_wire(value)


def arguments(method: Callable[..., Any], op: Operation) -> list[Argument]:
    """Where each argument of ``method`` (but ``self`` and the operation's fixed ones) travels to ``op``."""
    hints = typing.get_type_hints(method, include_extras=True)
    docs = argument_docs(method)
    params = [p for p in list(inspect.signature(method).parameters.values())[1:] if p.name not in op.fixed]
    forms = {p.name: wire_form(hints.get(p.name, Any)) for p in params}
    raw = {name for name, (typed, _wire) in forms.items() if is_stream(typed)}  # the raw request body
    found = []
    from_server = server_supplied(method)
    for param in params:
        typed, wire = forms[param.name]
        if param.name in from_server:
            where = "server"
        elif (wire.name if wire is not None and wire.name else param.name) in op.path_params:
            where = "path"
        elif param.name in raw:
            where = "raw"
        elif raw or param.name in op.query or (op.verb in ("GET", "DELETE") and op.body != param.name):
            where = "query"  # beside a raw body, every other argument is in the query string
        else:
            where = "body"
        found.append(Argument(param.name, where, typed, wire, param.default, _joined(docs.get(param.name), typed)))
    return found


def server_supplied(method: Callable[..., Any]) -> set[str]:
    """The arguments of ``method`` marked :data:`FROM_SERVER`."""
    hints = typing.get_type_hints(method, include_extras=True)
    return {name for name, hint in hints.items() if FROM_SERVER in getattr(split_optional(hint)[0], "__metadata__", ())}


def _joined(doc: str | None, hint: Any) -> str | None:
    """A field's description: what the docstring says of the argument, then what its type says of the value."""
    typed = _described(hint)
    if doc is None or typed is None or typed in doc:
        return doc or typed
    return f"{doc.rstrip('.')}; {typed}"


def _described(hint: Any) -> str | None:
    """The description an ``Annotated`` type carries (``X | None`` looked into), for the field itself."""
    inner, _ = split_optional(hint)
    texts = [getattr(m, "description", None) for m in getattr(inner, "__metadata__", ())]
    return next((t for t in reversed(texts) if isinstance(t, str)), None)


def argument_docs(method: Callable[..., Any]) -> dict[str, str]:
    """The descriptions of a Google-style docstring's ``Args:`` section, by argument name."""
    doc = inspect.getdoc(method) or ""
    found: dict[str, str] = {}
    section = False
    current: str | None = None
    for line in doc.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            section, current = line.strip() == "Args:", None
            continue
        if not section:
            continue
        entry = re.match(r"\s+(\*{0,2}\w+)(?: \([^)]*\))?: (.*)", line)
        if entry and indent <= 4:
            current = entry.group(1)
            found[current] = entry.group(2).strip()
        elif current is not None:
            found[current] = f"{found[current]} {line.strip()}"
    return found
