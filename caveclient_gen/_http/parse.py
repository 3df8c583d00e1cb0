"""Narrowing what the generated parsers return to the type a method promises."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from ..errors import UnexpectedResponseError
from .plan import RawResponse

T = TypeVar("T")


def parsed(response: RawResponse[Any], kind: type[T]) -> T:
    """The parsed body, checked to be a `kind` (error models never reach here: errors raise)."""
    value = response.parsed
    if isinstance(value, kind):
        return value
    raise UnexpectedResponseError(
        f"expected {kind.__name__} from the server, got {type(value).__name__}"
    )


def parsed_list(response: RawResponse[Any], item: type[T]) -> list[T]:
    """A parsed JSON list whose items are all `item`."""
    value = parsed(response, list)
    if not all(isinstance(entry, item) for entry in value):
        raise UnexpectedResponseError(f"expected a list of {item.__name__} from the server")
    return value


def optional(value: T | None) -> T:
    """An optional query parameter for a generated function.

    Generated functions type optional parameters as `X | Unset`, with one Unset class per
    generated package, and drop both UNSET and None from the query string. None is therefore passed
    through as is; the cast only tells the type checker so.
    """
    return cast(T, value)
