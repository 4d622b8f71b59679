"""What a server's text tells about its disk: no path of its own folders leaves in a message.

A path inside an error is a map for the next attack: the model cache's folder in an
``UntrustedModel`` message told a caller where registered files land, which a pipeline definition
could then name. Messages are written to name what the caller knows (a model version, an
artifact, a data set, a step) instead of a file; a :class:`PathScreen` is the backstop under
every text a server hands to others: error bodies, and the failure reasons stored on endpoints,
pipeline steps and executions, monitor executions and automation runs, and a step's logs.

A screen replaces each absolute path below one of its ``hidden`` folders (the server's home,
artifact and cache folders, the temporary folder, the Python installation) by
``<server path>/NAME``, keeping only the last part of the path; paths below a ``shown`` folder
(``dataset_roots``: the folders callers name files in) stay as they are. Embedded mode hides
nothing: the local user may see their own disk.

Example:
    >>> screen = PathScreen.around(["/srv/slipway", "/tmp"], shown=["/srv/slipway/shared"])
    >>> screen.text("cannot read /srv/slipway/cache/models/01H/model.pkl: denied")
    'cannot read <server path>/model.pkl: denied'
    >>> screen.text("no file '/srv/slipway/shared/rows.csv'")
    "no file '/srv/slipway/shared/rows.csv'"
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.errors import SlipwayError

HIDDEN = "<server path>"
# What may follow a root inside a path: not a space, a quote, a bracket, a separator of a list, a
# backslash (which would split a JSON escape) or markup.
_PATH_CHARS = r"[^\s'\"`<>|,;:()\[\]{}\\]*"
_E = TypeVar("_E", bound=SlipwayError)


@dataclass(frozen=True)
class PathScreen:
    """Hides the paths below ``hidden`` folders in text (see the module's docstring).

    Attributes:
        hidden: absolute folders whose paths never leave in text, as written and as resolved.
        shown: folders below ``hidden`` ones whose paths may be shown (callers name them).
    """

    hidden: tuple[str, ...] = ()
    shown: tuple[str, ...] = ()
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.hidden:
            roots = "|".join(re.escape(r) for r in sorted(self.hidden, key=len, reverse=True))
            pattern = re.compile(rf"(?<![\w.~$-])(?:{roots})(?![\w.~$-]){_PATH_CHARS}")
            object.__setattr__(self, "_pattern", pattern)

    @classmethod
    def around(cls, hidden: Iterable[str | Path], *, shown: Iterable[str | Path] = ()) -> PathScreen:
        """A screen of the folders ``hidden`` (each also as resolved), showing paths below ``shown``.

        The file system's root and relative paths are ignored: they would hide every path, or none.
        """
        return cls(hidden=_variants(hidden), shown=_variants(shown))

    @property
    def active(self) -> bool:
        """Whether this screen hides anything (embedded mode's hides nothing)."""
        return self._pattern is not None

    def text(self, text: str) -> str:
        """``text`` with every path below a hidden folder replaced (see the module's docstring)."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(self._replace, text)

    def optional(self, text: str | None) -> str | None:
        """:meth:`text`, passing None through (a reason that may be absent)."""
        return None if text is None else self.text(text)

    def error(self, exc: _E) -> _E:
        """``exc`` if its message names no hidden path, else a copy of it (same class) without them."""
        message = self.text(exc.message)
        details = _screened(exc.details, self) if exc.details is not None else None
        if message == exc.message and details == exc.details:
            return exc
        return relabelled(exc, message, details=details)

    def _replace(self, match: re.Match[str]) -> str:
        path = match.group(0)
        if ".." not in path.split("/") and any(path == s or path.startswith(s.rstrip("/") + "/") for s in self.shown):
            return path
        name = path.rstrip("/").rsplit("/", 1)[-1]
        root = next((r for r in self.hidden if path.rstrip("/") == r.rstrip("/")), None)
        return HIDDEN if root is not None or not name else f"{HIDDEN}/{name}"


def relabelled(exc: _E, message: str, *, details: Any = None) -> _E:
    """A copy of ``exc`` (same class, field and headers) with another message (and ``details``)."""
    copy = type(exc).__new__(type(exc))
    copy.__dict__.update(exc.__dict__)
    copy.args = (message,)
    copy.message = message
    if details is not None:
        copy.details = details
    return copy


def naming(exc: _E, path: str | Path, label: str) -> _E:
    """``exc`` with the folder ``path`` named ``label`` in its message (an object the caller knows).

    Example:
        >>> from slipway.errors import NotFound
        >>> naming(NotFound("no file /cache/01H/model.pkl"), "/cache/01H", "models:/fraud/3").message
        'no file models:/fraud/3/model.pkl'
    """
    folder = str(path).rstrip("/")
    if folder not in exc.message:
        return exc
    return relabelled(exc, exc.message.replace(folder, label))


def _variants(folders: Iterable[str | Path]) -> tuple[str, ...]:
    found: list[str] = []
    for folder in folders:
        path = Path(folder).expanduser()
        if not path.is_absolute():
            continue
        for variant in (str(path), os.path.realpath(path)):
            variant = variant.rstrip("/")
            if variant and variant not in found:
                found.append(variant)
    return tuple(found)


def _screened(value: Any, screen: PathScreen) -> Any:
    if isinstance(value, str):
        return screen.text(value)
    if isinstance(value, dict):
        return {k: _screened(v, screen) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_screened(v, screen) for v in value]
    return value


_TEXT_TYPES = (b"application/json", b"application/problem+json", b"text/")


class ScreenedErrorsMiddleware:
    """Hide server paths in every error answer (status 400 and above) of a text type.

    The backstop beneath the messages themselves, for every route of the app it wraps (the REST
    and MLflow APIs, the web UI's error pages, the inference routes): whatever a deeper layer put
    into an error's text, the body sent is screened. Success bodies are never touched (a user's
    own values may hold paths of their machine), nor bodies of other types.
    """

    def __init__(self, app: ASGIApp, *, screen: PathScreen) -> None:
        self.app = app
        self.screen = screen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.screen.active:
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def screening_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if message["status"] >= 400 and _is_text(message.get("headers", [])):
                    start = message
                    return
                await send(message)
            elif start is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._flush(start, b"".join(chunks), send)
            else:
                await send(message)

        await self.app(scope, receive, screening_send)

    async def _flush(self, start: Message, body: bytes, send: Send) -> None:
        text = body.decode("utf-8", errors="surrogateescape")
        screened = self.screen.text(text)
        if screened != text:
            body = screened.encode("utf-8", errors="surrogateescape")
            start["headers"] = list(start.get("headers", []))
            MutableHeaders(raw=start["headers"])["content-length"] = str(len(body))
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _is_text(headers: Sequence[tuple[bytes, bytes]]) -> bool:
    kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    return kind.startswith(_TEXT_TYPES)


__all__ = ["HIDDEN", "PathScreen", "ScreenedErrorsMiddleware", "naming", "relabelled"]
