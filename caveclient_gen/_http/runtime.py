"""Drivers of plans (see _plan): send what a plan yields, with retries, and hand back the answers.

The sync runtime blocks; concurrent requests of a plan run on a thread pool over the shared
connection pool. The async runtime awaits; concurrent requests run as tasks bounded by a semaphore.
Both apply the same RetryPolicy and map transport failures to caveclient_gen's errors.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx

from .. import _defaults
from ..errors import CAVEConnectionError, CAVEError, CAVETimeoutError, ConnectTimeoutError
from .failures import Exchange, begin_exchange, exchange_failure, plan_failure
from .plan import Effect, Gather, Plan, RawResponse, Request
from .progress import ProgressSwitch, progress_bar
from .redact import redact_exception, redact_url
from .requests_mocks import NoMockMatchedError
from .retry import RequestNotSentError, RetryPolicy

logger = logging.getLogger("caveclient_gen")
T = TypeVar("T")

NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def connection_error(error: httpx.TransportError) -> CAVEConnectionError:
    """The caveclient_gen error for an httpx transport failure."""
    try:
        request = error.request
        method, url = request.method, redact_url(str(request.url))
    except RuntimeError:
        method, url = "?", "?"
    kind: type[CAVEConnectionError]
    if isinstance(error, NOT_SENT) or unprocessed_by_http2_server(error):
        kind = RequestNotSentError
        if isinstance(error, httpx.ConnectTimeout | httpx.PoolTimeout):
            return _timeout_not_sent(error, method, url)
    elif isinstance(error, httpx.TimeoutException):
        kind = CAVETimeoutError
    else:
        kind = CAVEConnectionError
    typed = kind(f"{type(error).__name__}: {error}", method=method, url=url)
    typed.__cause__ = error
    return typed


def unprocessed_by_http2_server(error: httpx.TransportError) -> bool:
    """Whether an HTTP/2 server said it did not process the request (RFC 9113, 8.7): it refused the
    stream, or went away having processed no stream of the connection. httpcore raises both as a
    RemoteProtocolError carrying h2's event; a GOAWAY that spares streams below our own is retried
    by httpcore itself, on a new connection."""
    cause = error.__cause__
    if not isinstance(error, httpx.RemoteProtocolError) or cause is None or not cause.args:
        return False
    import h2.errors
    import h2.events

    event = cause.args[0]
    if isinstance(event, h2.events.StreamReset):
        return bool(event.error_code == h2.errors.ErrorCodes.REFUSED_STREAM)
    if isinstance(event, h2.events.ConnectionTerminated):
        return event.last_stream_id == 0
    return False


def _timeout_not_sent(error: httpx.TransportError, method: str, url: str) -> CAVEConnectionError:
    typed = ConnectTimeoutError(f"{type(error).__name__}: {error}", method=method, url=url)
    typed.__cause__ = error
    return typed


class SyncRuntime:
    """Runs plans to completion, blocking."""

    def __init__(
        self,
        retry: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
        progress: ProgressSwitch | None = None,
    ) -> None:
        self.retry = retry
        self._sleep = sleep
        self.progress = progress

    def run(self, plan: Plan[T]) -> T:
        try:
            return self._drive(plan)
        except Exception as error:
            redact_exception(error)
            raise

    def _drive(self, plan: Plan[T]) -> T:
        answer: Any = None
        failure: BaseException | None = None
        received = False
        while True:
            finished, effect = _advance(plan, answer, failure, received=received)
            if finished:
                return effect  # type: ignore[no-any-return]
            try:
                answer, failure = self._execute(effect), None
                received = True
            except CAVEError as error:
                answer, failure = None, error

    def _execute(self, effect: Effect) -> Any:
        if isinstance(effect, Request):
            return self.send(effect)
        return self._gather(effect)

    def send(self, request: Request[T]) -> RawResponse[T]:
        retries = 0
        while True:
            exchange = begin_exchange()
            try:
                return request.send()
            except Exception as failure:
                error = _retryable_error(failure, exchange)
            retries += 1
            self._sleep(_retry_wait(self.retry, retries, error, request))

    def _gather(self, gather: Gather[Any]) -> list[Any]:
        if len(gather.requests) == 1:
            return [self.send(gather.requests[0])]
        workers = min(gather.concurrency, len(gather.requests))
        with (
            progress_bar(self.progress, len(gather.requests), gather.description) as advance,
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="caveclient_gen") as pool,
        ):
            futures = [pool.submit(self.send, request) for request in gather.requests]
            results = []
            try:
                for future in futures:
                    results.append(future.result())
                    advance(1)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
            return results


class AsyncRuntime:
    """Runs plans as coroutines."""

    def __init__(
        self,
        retry: RetryPolicy,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        pool_size: int = _defaults.POOL_MAXSIZE,
        progress: ProgressSwitch | None = None,
        on_new_loop: Callable[[], None] | None = None,
    ) -> None:
        import asyncio  # only async users pay for importing asyncio

        self.retry = retry
        self._on_new_loop = on_new_loop
        """Called when a call comes from a new event loop after the first one closed: the
        connections of the closed loop are to be forgotten."""
        self._sleep = sleep or asyncio.sleep
        self.progress = progress
        self._orphans: set[asyncio.Task[Any]] = set()
        self._pool_size = pool_size
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        """The event loop of the first call (kept even once closed: the connections were its)."""
        self._loop_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        """A copy is bound to no event loop yet, and has no call of the original to finish."""
        state = self.__dict__.copy()
        for name in ("_loop_lock", "_loop", "_slots"):
            del state[name]
        state["_orphans"] = set()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._slots = None
        self._loop = None
        self._loop_lock = threading.Lock()

    def _check_loop(self) -> None:
        """Refuse, before any request, a call from another event loop while the one the client is
        bound to is still open; move the client to the new loop once the old one has closed.

        The connections of the pool belong to the loop that opened them: used from another loop
        (another thread's) they fail, or hang, in ways that do not say so. A closed loop's
        connections are of no use to anyone, so a later `asyncio.run` starts with new ones.
        """
        import asyncio

        loop = asyncio.get_running_loop()
        with self._loop_lock:
            if self._loop is not None and self._loop is not loop and self._loop.is_closed():
                if self._on_new_loop is not None:
                    self._on_new_loop()
                self._loop = None
                self._slots = None
                self._orphans = set()
            if self._loop is None:
                self._loop = loop
            bound = self._loop
        if bound is not loop:
            raise RuntimeError(
                "this AsyncCAVEclient is in use by another event loop that is still open, and its "
                "connections belong to that one: create one AsyncCAVEclient per event loop (or "
                "share a CAVEclient between threads, which is safe)"
            )

    async def _shielded(self, request: Request[T]) -> RawResponse[T]:
        """Send a request in a task of its own that a cancellation of the caller does not interrupt.

        httpcore 1.0.9 can leave a pool connection half-open when a request is cancelled at the wrong
        moment, until every later request fails with PoolTimeout. The caller is cancelled at once;
        the exchange itself runs on to its end (answer read, or a timeout), so its connection goes
        back to the pool in a clean state. A semaphore as large as the pool admits requests, so they
        wait for a connection here, where a cancellation is clean, and never inside httpcore.
        """
        import asyncio

        if self._slots is None:
            self._slots = asyncio.Semaphore(self._pool_size)
        slots = self._slots
        await slots.acquire()  # a cancellation here is clean: the pool has not seen the request
        task = asyncio.ensure_future(request.send_async())
        task.add_done_callback(lambda _: slots.release())
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                self._orphans.add(task)
                task.add_done_callback(self._forget_orphan)
            raise

    def _forget_orphan(self, task: Any) -> None:
        self._orphans.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: nobody waits for the answer of a cancelled call

    async def abandon(self) -> None:
        """Stop the exchanges of cancelled calls still running (the pool is about to be closed)."""
        import asyncio

        orphans = list(self._orphans)
        for task in orphans:
            task.cancel()
        if orphans:
            await asyncio.gather(*orphans, return_exceptions=True)

    def run(self, plan: Plan[T]) -> Coroutine[Any, Any, T]:
        return self._run(plan)

    async def _run(self, plan: Plan[T]) -> T:
        try:
            self._check_loop()
        except RuntimeError:
            plan.close()
            raise
        try:
            return await self._drive(plan)
        except Exception as error:
            redact_exception(error)
            raise

    async def _drive(self, plan: Plan[T]) -> T:
        answer: Any = None
        failure: BaseException | None = None
        received = False
        while True:
            finished, effect = _advance(plan, answer, failure, received=received)
            if finished:
                return effect  # type: ignore[no-any-return]
            try:
                answer, failure = await self._execute(effect), None
                received = True
            except CAVEError as error:
                answer, failure = None, error

    async def _execute(self, effect: Effect) -> Any:
        if isinstance(effect, Request):
            return await self.send(effect)
        return await self._gather(effect)

    async def send(self, request: Request[T]) -> RawResponse[T]:
        retries = 0
        while True:
            exchange = begin_exchange()
            try:
                return await self._shielded(request)
            except Exception as failure:
                error = _retryable_error(failure, exchange)
            retries += 1
            await self._sleep(_retry_wait(self.retry, retries, error, request))

    async def _gather(self, gather: Gather[Any]) -> list[Any]:
        import asyncio

        limit = asyncio.Semaphore(gather.concurrency)
        failed = asyncio.Event()
        with progress_bar(self.progress, len(gather.requests), gather.description) as advance:

            async def bounded(request: Request[Any]) -> Any:
                async with limit:
                    if failed.is_set():  # woken by the failed request's slot: the call is over
                        return None
                    try:
                        response = await self.send(request)
                    except BaseException:
                        failed.set()  # before the slot is released to the next request
                        raise
                advance(1)
                return response

            tasks = [asyncio.ensure_future(bounded(r)) for r in gather.requests]
            try:
                return list(await asyncio.gather(*tasks))
            finally:
                # After a failure, as in the sync runtime: the requests not sent yet are not sent, and
                # those in flight run on as orphans (see _shielded) until they end or the client closes.
                unfinished = [task for task in tasks if not task.done()]
                for task in unfinished:
                    task.cancel()
                if unfinished:
                    await asyncio.gather(*unfinished, return_exceptions=True)


def _advance(
    plan: Plan[Any], answer: Any, failure: BaseException | None, *, received: bool
) -> tuple[bool, Any]:
    """Run a plan to its next request: (False, request), or (True, result) when it has finished.

    An exception the plan raises leaves as a caveclient_gen error (see `failures.plan_failure`).
    """
    try:
        effect = plan.send(answer) if failure is None else plan.throw(failure)
    except StopIteration as stopped:
        return True, stopped.value
    except Exception as error:
        typed = plan_failure(error, received=received)
        if typed is None:
            raise
        raise typed from error
    return False, effect


def _retryable_error(failure: Exception, exchange: Exchange) -> CAVEError:
    """The error a failed attempt to send a request stands for, for the retry policy to judge.

    Raised here instead: a test double's transport (respx, MockTransport) refusing a request, a
    mock of `requests` that has no answer for it (it would have none the next time either), and
    any failure that is neither a transport failure nor a CAVE error (typed by `exchange_failure`).
    """
    if isinstance(failure, NoMockMatchedError):
        raise connection_error(failure)
    if isinstance(failure, httpx.TransportError):
        return connection_error(failure)
    if isinstance(failure, CAVEError):
        return failure
    if isinstance(failure, AssertionError):
        raise failure
    raise exchange_failure(failure, received=exchange.received) from failure


def _retry_wait(policy: RetryPolicy, retries: int, error: CAVEError, request: Request[Any]) -> float:
    """Seconds to wait before retry number `retries` of `request`; raises `error` when not retried."""
    wait = policy.delay(retries, error, idempotent=request.idempotent)
    if wait is None:
        raise error
    logger.info("retry %d of %s in %.2f s: %s", retries, _where(error), wait, error)
    return wait


def _where(error: CAVEError) -> str:
    method, url = getattr(error, "method", "?"), getattr(error, "url", "?")
    return f"{method} {url}"
