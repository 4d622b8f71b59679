"""Reading MLflow's request messages: typed fields with MLflow's limits and its error wording.

MLflow's client sends a POST's message as a JSON body and a GET's as query parameters (a
repeated field as a repeated parameter). Numbers may come as JSON numbers or strings (protobuf
JSON writes 64-bit integers as strings), and doubles as ``"NaN"`` or ``"Infinity"``.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from typing import Any, TypeVar

from starlette.datastructures import QueryParams

from slipway.errors import InvalidInput

# MLflow's documented limits (mlflow/utils/validation.py), enforced with its error codes.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_EXPERIMENT_TAG_VAL_LENGTH = 20000
MAX_ENTITY_KEY_LENGTH = 250
MAX_REGISTRY_TAG_VALUE_LENGTH = 100_000
MAX_DATASETS_PER_BATCH = 1000
MAX_DATASET_NAME_SIZE = 500
MAX_DATASET_DIGEST_SIZE = 36
MAX_DATASET_SCHEMA_SIZE = 1048575
MAX_DATASET_SOURCE_SIZE = 65535
MAX_DATASET_PROFILE_SIZE = 16777215
MAX_INPUT_TAG_KEY_SIZE = 255
MAX_INPUT_TAG_VALUE_SIZE = 500
SEARCH_MAX_RESULTS_THRESHOLD = 50000
T = TypeVar("T")


class Fields:
    """One request message; each getter checks a field's type and names it when it is wrong."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    @classmethod
    def from_query(cls, query: QueryParams, repeated: tuple[str, ...] = ()) -> Fields:
        return cls({k: (query.getlist(k) if k in repeated else query[k]) for k in query})

    def has(self, name: str) -> bool:
        return self._data.get(name) not in (None, "")

    def text(self, name: str, *, required: bool = False, default: str | None = None) -> str | None:
        value = self._data.get(name)
        if value is None or value == "":
            if required:
                raise InvalidInput(f"Missing value for required parameter '{name}'.", field=name)
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidInput(f"Invalid value {value!r} for parameter '{name}': expected a string", field=name)
        return str(value)

    def req(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def integer(self, name: str, *, default: int | None = None, required: bool = False) -> int | None:
        value = self._data.get(name)
        if value is None or value == "":
            if required:
                raise InvalidInput(f"Missing value for required parameter '{name}'.", field=name)
            return default
        try:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"Invalid value {value!r} for parameter '{name}': expected an integer", field=name
            ) from None

    def boolean(self, name: str, *, default: bool = False) -> bool:
        """A JSON boolean, or ``true``/``false`` in a query string."""
        value = self._data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise InvalidInput(f"Invalid value {value!r} for parameter '{name}': expected a boolean", field=name)

    def number(self, name: str) -> float:
        value = self._data.get(name)
        if value is None:
            raise InvalidInput(f"Missing value for required parameter '{name}'.", field=name)
        return parse_double(value, name)

    def values(self, name: str) -> list[Any]:
        value = self._data.get(name)
        if value is None:
            return []
        if isinstance(value, str):  # a query parameter given once
            return [value]
        if not isinstance(value, list):
            raise InvalidInput(f"Invalid value for parameter '{name}': expected a list", field=name)
        return value

    def messages(self, name: str, *, max_items: int | None = None) -> list[Fields]:
        """A repeated message field; at most ``max_items`` entries, with MLflow's wording when there are more."""
        items = self.values(name)
        if not all(isinstance(item, dict) for item in items):
            raise InvalidInput(f"Invalid value for parameter '{name}': expected a list of objects", field=name)
        if max_items is not None and len(items) > max_items:
            raise InvalidInput(
                f"A batch logging request can contain at most {max_items} {name}. Got {len(items)} {name}.",
                field=name,
            )
        return [Fields(item) for item in items]

    def message(self, name: str) -> Fields:
        value = self._data.get(name) or {}
        if not isinstance(value, dict):
            raise InvalidInput(f"Invalid value for parameter '{name}': expected an object", field=name)
        return Fields(value)

    def key_value(self, value_limit: int, what: str) -> tuple[str, str]:
        """This message's ``key`` and ``value`` (a tag or param), each within MLflow's lengths."""
        key, value = self.req("key"), self.text("value", default="") or ""
        check_length(key, MAX_ENTITY_KEY_LENGTH, f"{what} key", key)
        check_length(value, value_limit, f"{what} value", key)
        return key, value

    def key_values(self, name: str, value_limit: int, *, max_items: int | None = None) -> dict[str, str]:
        """A list of ``{"key", "value"}`` messages as a dict, each within MLflow's lengths."""
        out: dict[str, str] = {}
        for entry in self.messages(name, max_items=max_items):
            key, value = entry.key_value(value_limit, name)
            out[key] = value
        return out


def check_length(text: str, limit: int, what: str, key: str) -> None:
    if len(text) > limit:
        raise InvalidInput(
            f"{what} '{key[:250]}' had length {len(text)}, which exceeded length limit of {limit}", field=what
        )


def parse_double(value: Any, name: str) -> float:
    """A protobuf JSON double: a number, or ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (or digits)."""
    if isinstance(value, bool):
        raise InvalidInput(f"Invalid value {value!r} for parameter '{name}': expected a number", field=name)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"Invalid value {value!r} for parameter '{name}': expected a number", field=name) from None


def double_out(value: float) -> float | str:
    """JSON has no NaN or infinities: protobuf JSON writes them as strings, which MLflow's client reads."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def check_max_results(value: int, limit: int, name: str = "max_results") -> int:
    if not 1 <= value <= limit:
        raise InvalidInput(
            f"Invalid value {value} for parameter '{name}' supplied. It must be at most {limit}, and at least 1",
            field=name,
        )
    return value


def page_of(items: list[T], page_token: str | None, max_results: int) -> tuple[list[T], str | None]:
    """One page of ``items`` and the token of the next (None on the last page)."""
    offset = decode_offset(page_token)
    more = offset + max_results < len(items)
    return items[offset : offset + max_results], encode_offset(offset + max_results) if more else None


def encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def decode_offset(token: str | None) -> int:
    """The position a page token of :func:`encode_offset` stands for (0 without one)."""
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        kind, _, number = text.partition(":")
        if kind != "offset" or not number.isdigit():
            raise ValueError
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(f"Invalid page token {token[:40]!r}", field="page_token") from None
