"""Methods whose result type depends on an argument, typed for sync and async sub-clients.

`api_method` types a method from its plan's signature: one return type. A few methods return
different types depending on an argument (`query_table(return_df=False)` gives records instead of
a DataFrame; `get_skeleton(output_format="swc")` a DataFrame instead of a dict). For those, the
plan is decorated with `overloaded(SIGNATURES)`, where SIGNATURES is a
`Signatures[SyncProtocol, AsyncProtocol]`: at run time it is the same `api_method`; type checkers
see the protocol's overloaded `__call__`, per mode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, Generic, TypeVar, overload

from .plan import Async, P, Plan, SubClient, Sync, T, api_method

S = TypeVar("S")
A = TypeVar("A")


class overloaded_method(api_method[P, T], Generic[P, T, S, A]):  # noqa: N801 - a decorator
    """An `api_method` whose bound form is typed by a protocol per mode."""

    if TYPE_CHECKING:

        @overload  # type: ignore[override]
        def __get__(self, instance: None, owner: type) -> overloaded_method[P, T, S, A]: ...

        @overload
        def __get__(self, instance: SubClient[Sync], owner: type) -> S: ...

        @overload
        def __get__(self, instance: SubClient[Async], owner: type) -> A: ...

        def __get__(self, instance: SubClient[Any] | None, owner: type) -> Any: ...


class Signatures(Generic[S, A]):
    """Names, for type checkers, the protocols of a method on sync (S) and async (A) clients."""


def overloaded(
    signatures: Signatures[S, A],
) -> Callable[[Callable[Concatenate[Any, P], Plan[T]]], overloaded_method[P, T, S, A]]:
    """Decorate a plan: sync sub-clients expose it typed as S, async ones as A."""
    del signatures  # only type checkers read it

    def decorate(plan: Callable[Concatenate[Any, P], Plan[T]]) -> overloaded_method[P, T, S, A]:
        return overloaded_method(plan)

    return decorate
