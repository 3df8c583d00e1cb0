"""Method bodies written once for the sync and the async client.

A sub-client method is a *plan*: a generator that yields the requests it needs and receives their
responses, then returns its result. It performs no I/O itself. A runtime drives it: the sync runtime
sends each request and blocks, the async runtime awaits it. The `api_method` descriptor makes the
same plan a plain method on a sync sub-client and a coroutine method on an async one, with the
signature and return type visible to type checkers and IDEs.

    class InfoServiceClient(SubClient[M]):
        @api_method
        def get_datastacks(self) -> Plan[list[str]]:
            response = yield from fetch(read(get_datastacks.sync_detailed,
                                             get_datastacks.asyncio_detailed, client=...))
            return ...
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, cast, overload

P = ParamSpec("P")
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Mode:
    """Marks how a sub-client runs its plans."""


class Sync(Mode):
    """Methods block and return their result."""


class Async(Mode):
    """Methods return awaitables."""


M = TypeVar("M", bound=Mode)


class RawResponse(Protocol[T_co]):
    """What the generated `*_detailed` functions return (one class per generated package)."""

    @property
    def status_code(self) -> int: ...

    @property
    def content(self) -> bytes: ...

    @property
    def headers(self) -> Any: ...

    @property
    def parsed(self) -> T_co | None: ...


@dataclass(frozen=True, slots=True)
class Request(Generic[T]):
    """One HTTP exchange, ready to be sent either way, and whether it may be retried freely."""

    send: Callable[[], RawResponse[T]]
    send_async: Callable[[], Awaitable[RawResponse[T]]]
    idempotent: bool


@dataclass(frozen=True, slots=True)
class Gather(Generic[T]):
    """Several requests sent concurrently, at most `concurrency` at a time, answered in order."""

    requests: Sequence[Request[T]]
    concurrency: int
    description: str = ""


Effect = Request[Any] | Gather[Any]
Plan = Generator[Effect, Any, T]


def read(
    sync: Callable[P, RawResponse[T]],
    asyncio: Callable[P, Awaitable[RawResponse[T]]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> Request[T]:
    """A request that changes nothing on the server: retried on any transient failure."""
    return Request(
        functools.partial(sync, *args, **kwargs), functools.partial(asyncio, *args, **kwargs), True
    )


def write(
    sync: Callable[P, RawResponse[T]],
    asyncio: Callable[P, Awaitable[RawResponse[T]]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> Request[T]:
    """A request that changes server state: retried only when the server cannot have acted."""
    return Request(
        functools.partial(sync, *args, **kwargs), functools.partial(asyncio, *args, **kwargs), False
    )


def fetch(request: Request[T]) -> Generator[Effect, Any, RawResponse[T]]:
    """Send one request from inside a plan: `response = yield from fetch(request)`."""
    response = yield request
    return cast(RawResponse[T], response)


def fetch_all(
    requests: Sequence[Request[T]], concurrency: int, description: str = ""
) -> Generator[Effect, Any, list[RawResponse[T]]]:
    """Send requests concurrently from inside a plan; responses come back in request order."""
    if not requests:
        return []
    responses = yield Gather(requests, max(1, concurrency), description)
    return cast(list[RawResponse[T]], responses)


class Runtime(Protocol):
    def run(self, plan: Plan[Any]) -> Any: ...


class SubClient(Generic[M]):
    """Base of every sub-client: holds the runtime that drives its plans."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def __getstate__(self) -> dict[str, Any]:
        """Copies (deepcopy, pickle) leave out the methods bound on first use: bound to this
        instance, they would drive the original; the copy binds its own."""
        cls = type(self)
        return {
            name: value
            for name, value in self.__dict__.items()
            if not isinstance(getattr(cls, name, None), api_method)
        }


class api_method(Generic[P, T]):  # noqa: N801 - used as a decorator, named like one
    """Turns a plan into a method: blocking on sync sub-clients, awaitable on async ones."""

    def __init__(self, plan: Callable[Concatenate[Any, P], Plan[T]]) -> None:
        self._plan = plan
        functools.update_wrapper(self, plan)  # type: ignore[arg-type]
        self._name = plan.__name__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type) -> api_method[P, T]: ...

    @overload
    def __get__(self, instance: SubClient[Sync], owner: type) -> Callable[P, T]: ...

    @overload
    def __get__(self, instance: SubClient[Async], owner: type) -> Callable[P, Awaitable[T]]: ...

    def __get__(self, instance: SubClient[Any] | None, owner: type) -> Any:
        if instance is None:
            return self
        plan = self._plan
        runtime = instance._runtime

        @functools.wraps(plan)
        def method(*args: Any, **kwargs: Any) -> Any:
            return runtime.run(plan(instance, *args, **kwargs))

        setattr(method, _BOUND_HERE, True)
        instance.__dict__[self._name] = method
        return method

    def plan(self, instance: SubClient[Any], *args: P.args, **kwargs: P.kwargs) -> Plan[T]:
        """The underlying plan, for composing methods inside other plans."""
        return self._plan(instance, *args, **kwargs)


_BOUND_HERE = "_bound_by_api_method"


def replacement(instance: SubClient[Any], name: str) -> Callable[..., Any] | None:
    """What replaced the method `name` on this one sub-client (`mock.patch.object`,
    `monkeypatch.setattr`), or None when it is the class's own.

    A plan that uses another sub-client's method calls the replacement when there is one, as
    caveclient's methods call each other through the instance, so tests that replace a method on a
    client's sub-client see it used."""
    found = instance.__dict__.get(name)
    # "is True": a MagicMock answers every attribute with another (truthy) mock.
    if found is None or getattr(found, _BOUND_HERE, None) is True:
        return None
    return cast(Callable[..., Any], found)


def replaced_result(name: str, result: Any) -> Any:
    """The value a replacement returned; an awaitable cannot be awaited inside a plan (a
    RuntimeError, which a plan's runtime lets through unchanged)."""
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise RuntimeError(
            f"{name} was replaced by an async function; a replacement used by another method "
            "must return its value (e.g. unittest.mock.MagicMock, not AsyncMock)"
        )
    return result


class api_property(Generic[T]):  # noqa: N801 - used as a decorator, named like one
    """A property computed by a plan: a value on sync sub-clients, an awaitable on async ones."""

    def __init__(self, plan: Callable[[Any], Plan[T]]) -> None:
        self._plan = plan
        self.__doc__ = plan.__doc__

    @overload
    def __get__(self, instance: None, owner: type) -> api_property[T]: ...

    @overload
    def __get__(self, instance: SubClient[Sync], owner: type) -> T: ...

    @overload
    def __get__(self, instance: SubClient[Async], owner: type) -> Awaitable[T]: ...

    def __get__(self, instance: SubClient[Any] | None, owner: type) -> Any:
        if instance is None:
            return self
        return instance._runtime.run(self._plan(instance))

    def plan(self, instance: SubClient[Any]) -> Plan[T]:
        return self._plan(instance)
