"""How a command reaches the services: settings, client and argument translation.

Commands never build engines themselves: they open a :class:`~slipway.client.Client` from the
effective settings, which is embedded or remote (``SLIPWAY_SERVER_URL``) with the same calls. The
helpers here translate what a user types (an experiment name, ``key=value``) into what the service
takes, and nothing more.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from slipway._config import load_settings
from slipway._references import VersionRef
from slipway.client import Client
from slipway.errors import InvalidInput, NotFound
from slipway.tracking import Experiment

if TYPE_CHECKING:
    from slipway.client import TrackingApi as Tracking

T = TypeVar("T")

def opener(domain: Callable[[Client], T]) -> Callable[[], contextlib.AbstractContextManager[T]]:
    """A function opening one domain of the client for the current settings, closed when the command is done.

    Settings are read when the function is called, so each invocation sees the environment it runs in.

    Example:
        >>> open_registry = opener(lambda client: client.registry)
    """

    @contextlib.contextmanager
    def open_domain() -> Iterator[T]:
        with Client(load_settings()) as client:
            yield domain(client)

    return open_domain


open_tracking = opener(lambda client: client.tracking)


def find_experiment(tracking: Tracking, name_or_id: str) -> Experiment:
    """The experiment a user named, by name first and then by id.

    Names are what people type; ids are what scripts copy from ``--json`` output, so both work.
    When neither matches, the error speaks of the name, which is the common case.
    """
    try:
        return tracking.get_experiment_by_name(name_or_id)
    except NotFound as by_name:
        try:
            return tracking.get_experiment(name_or_id)
        except NotFound:
            raise by_name from None


def experiment_ids(tracking: Tracking, names: Sequence[str]) -> list[str] | None:
    """Ids for ``--experiment`` options; None (all experiments) when none was given."""
    return [find_experiment(tracking, name).id for name in names] or None


def parse_key_values(pairs: Sequence[str], option: str) -> dict[str, str]:
    """``["team=ads", "owner=kim"]`` as a dict; a pair without ``=`` is a usage error (exit 2).

    Only the first ``=`` splits, so values may contain ``=`` themselves.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint=f"'{option}'")
        out[key] = value
    return out


def json_or_text(text: str) -> Any:
    """``true``, ``3``, ``{"a": 1}`` as JSON values; anything else as the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_ref(ref: str, version: int | None = None) -> tuple[str, int | None]:
    """``abalone:3`` -> ("abalone", 3); ``abalone`` -> ("abalone", None): the latest.

    ``version``, when the user typed it as a separate argument (``abalone 3``), is taken as is.
    """
    try:
        name, number = VersionRef.parse(ref, "ref")
    except InvalidInput as exc:
        raise typer.BadParameter(exc.message) from None
    if number is None:
        return name, version
    if version is not None:
        raise typer.BadParameter(f"{ref!r} names a version already; give it once")
    return name, number
