"""Request bodies checked the way the services' marshmallow schemas check them.

The materialization and annotation services declare their JSON bodies as marshmallow schemas
(loaded through flask-accepts): unknown fields are rejected, values are type-checked, and the
failure is a 400 whose text embeds marshmallow's error messages, e.g. ``Error parsing request
body: {'tables': ['Missing data for required field.']}``. This module reproduces those checks
and messages for the handful of field types the bodies use.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from starlette.requests import Request

from ..server.restx_errors import BAD_REQUEST_DESCRIPTION, AbortError

_TRUTHY = {"t", "T", "true", "True", "TRUE", "on", "On", "ON", "y", "Y", "yes", "Yes", "YES", "1", 1}
_FALSY = {"f", "F", "false", "False", "FALSE", "off", "Off", "OFF", "n", "N", "no", "No", "NO", "0", 0}


class FieldError(Exception):
    """A value a field rejects; ``messages`` is what marshmallow reports for it."""

    def __init__(self, messages: Any) -> None:
        super().__init__(messages)
        self.messages = messages


class Field(Protocol):
    def load(self, value: Any) -> Any: ...


@dataclass(frozen=True)
class Str:
    def load(self, value: Any) -> str:
        if not isinstance(value, str):
            raise FieldError(["Not a valid string."])
        return value


@dataclass(frozen=True)
class Int:
    def load(self, value: Any) -> int:
        if isinstance(value, bool):
            raise FieldError(["Not a valid integer."])
        try:
            number = float(value) if isinstance(value, str) else value
            if isinstance(number, float) and not number.is_integer():
                raise ValueError(number)
            return int(number)
        except (TypeError, ValueError, OverflowError):
            raise FieldError(["Not a valid integer."]) from None


@dataclass(frozen=True)
class Float:
    def load(self, value: Any) -> float:
        if isinstance(value, bool):
            raise FieldError(["Not a valid number."])
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise FieldError(["Not a valid number."]) from None
        if math.isnan(number) or math.isinf(number):
            raise FieldError(["Special numeric values (nan or infinity) are not permitted."])
        return number


@dataclass(frozen=True)
class Bool:
    def load(self, value: Any) -> bool:
        hashable = isinstance(value, (str, int, bool))
        if hashable and value in _TRUTHY:
            return True
        if hashable and value in _FALSY:
            return False
        raise FieldError(["Not a valid boolean."])


@dataclass(frozen=True)
class Dict:
    def load(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise FieldError(["Not a valid mapping type."])
        return dict(value)


@dataclass(frozen=True)
class List:
    item: Field
    length: int | None = None

    def load(self, value: Any) -> list[Any]:
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
            raise FieldError(["Not a valid list."])
        loaded: list[Any] = []
        errors: dict[int, Any] = {}
        for index, item in enumerate(value):
            try:
                loaded.append(self.item.load(item))
            except FieldError as error:
                errors[index] = error.messages
        if errors:
            raise FieldError(errors)
        if self.length is not None and len(loaded) != self.length:
            raise FieldError([f"Length must be {self.length}."])
        return loaded


@dataclass(frozen=True)
class AwareDateTime:
    """An ISO 8601 date-time; one without a zone is taken as UTC."""

    def load(self, value: Any) -> datetime:
        if not isinstance(value, str):
            raise FieldError(["Not a valid datetime."])
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise FieldError(["Not a valid datetime."]) from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class Schema:
    """An object of declared fields; ``unknown`` fields are errors unless ``exclude_unknown``."""

    fields: Mapping[str, Field]
    required: frozenset[str] = field(default_factory=frozenset)
    exclude_unknown: bool = False

    def load(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise FieldError({"_schema": ["Invalid input type."]})
        errors: dict[str, Any] = {}
        loaded: dict[str, Any] = {}
        for name, declared in self.fields.items():
            if name not in value:
                if name in self.required:
                    errors[name] = ["Missing data for required field."]
                continue
            if value[name] is None:
                errors[name] = ["Field may not be null."]
                continue
            try:
                loaded[name] = declared.load(value[name])
            except FieldError as error:
                errors[name] = error.messages
        if not self.exclude_unknown:
            for name in value:
                if name not in self.fields:
                    errors[name] = ["Unknown field."]
        if errors:
            raise FieldError(errors)
        return loaded


def load_body(body: Any, schema: Schema) -> dict[str, Any]:
    """flask-accepts: load the body or abort 400 with marshmallow's messages."""
    try:
        return schema.load(body)
    except FieldError as error:
        raise AbortError(400, f"Error parsing request body: {error.messages}") from None


async def forced_json(request: Request, *, explain_decode_errors: bool = True) -> Any:
    """``request.get_json(force=True)``: any media type; undecodable bodies are 400s.

    Flask 2 names the decoding error; Flask 1 (the annotation engine) only gives werkzeug's
    generic description.
    """
    raw = await request.body()
    try:
        return json.loads(raw)
    except ValueError as error:
        description = (
            f"Failed to decode JSON object: {error}"
            if explain_decode_errors
            else BAD_REQUEST_DESCRIPTION
        )
        raise AbortError(400, description) from None
