"""Drivers of plans (see _plan): send what a plan yields, with retries, and hand back the answers.

The sync runtime blocks; concurrent requests of a plan run on a thread pool over the shared
connection pool. The async runtime awaits; concurrent requests run as tasks bounded by a semaphore.
Both apply the same RetryPolicy and map transport failures to caveclient_gen's errors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx

from ..errors import (
    CAVEConnectionError,
    CAVEError,
    CAVETimeoutError,
    ConnectTimeoutError,
    UnexpectedResponseError,
)
from .plan import Effect, Gather, Plan, RawResponse, Request
from .progress import ProgressSwitch, progress_bar
from .redact import redact_url
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
    if isinstance(error, NOT_SENT):
        kind = RequestNotSentError
        if isinstance(error, httpx.ConnectTimeout | httpx.PoolTimeout):
            return _timeout_not_sent(error, method, url)
    elif isinstance(error, httpx.TimeoutException):
        kind = CAVETimeoutError
    else:
        kind = CAVEConnectionError
    return kind(f"{type(error).__name__}: {error}", method=method, url=url)


def unexpected_response(error: Exception) -> UnexpectedResponseError:
    """A successful response the generated parser could not read as the spec describes it."""
    return UnexpectedResponseError(
        f"the server's answer does not match the documented shape ({type(error).__name__}: {error})"
    )


def _timeout_not_sent(error: httpx.TransportError, method: str, url: str) -> CAVEConnectionError:
    return ConnectTimeoutError(f"{type(error).__name__}: {error}", method=method, url=url)


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
        answer: Any = None
        failure: BaseException | None = None
        while True:
            try:
                effect = plan.send(answer) if failure is None else plan.throw(failure)
            except StopIteration as finished:
                return finished.value  # type: ignore[no-any-return]
            try:
                answer, failure = self._execute(effect), None
            except CAVEError as error:
                answer, failure = None, error

    def _execute(self, effect: Effect) -> Any:
        if isinstance(effect, Request):
            return self.send(effect)
        return self._gather(effect)

    def send(self, request: Request[T]) -> RawResponse[T]:
        retries = 0
        while True:
            try:
                return request.send()
            except (KeyError, TypeError, ValueError, AttributeError) as parse_error:
                raise unexpected_response(parse_error) from parse_error
            except httpx.TransportError as transport_error:
                error: CAVEError = connection_error(transport_error)
            except CAVEError as status_error:
                error = status_error
            retries += 1
            wait = self.retry.delay(retries, error, idempotent=request.idempotent)
            if wait is None:
                raise error
            logger.info("retry %d of %s in %.2f s: %s", retries, _where(error), wait, error)
            self._sleep(wait)

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
        progress: ProgressSwitch | None = None,
    ) -> None:
        import asyncio  # only async users pay for importing asyncio

        self.retry = retry
        self._sleep = sleep or asyncio.sleep
        self.progress = progress

    def run(self, plan: Plan[T]) -> Coroutine[Any, Any, T]:
        return self._run(plan)

    async def _run(self, plan: Plan[T]) -> T:
        answer: Any = None
        failure: BaseException | None = None
        while True:
            try:
                effect = plan.send(answer) if failure is None else plan.throw(failure)
            except StopIteration as finished:
                return finished.value  # type: ignore[no-any-return]
            try:
                answer, failure = await self._execute(effect), None
            except CAVEError as error:
                answer, failure = None, error

    async def _execute(self, effect: Effect) -> Any:
        if isinstance(effect, Request):
            return await self.send(effect)
        return await self._gather(effect)

    async def send(self, request: Request[T]) -> RawResponse[T]:
        retries = 0
        while True:
            try:
                return await request.send_async()
            except (KeyError, TypeError, ValueError, AttributeError) as parse_error:
                raise unexpected_response(parse_error) from parse_error
            except httpx.TransportError as transport_error:
                error: CAVEError = connection_error(transport_error)
            except CAVEError as status_error:
                error = status_error
            retries += 1
            wait = self.retry.delay(retries, error, idempotent=request.idempotent)
            if wait is None:
                raise error
            logger.info("retry %d of %s in %.2f s: %s", retries, _where(error), wait, error)
            await self._sleep(wait)

    async def _gather(self, gather: Gather[Any]) -> list[Any]:
        import asyncio

        limit = asyncio.Semaphore(gather.concurrency)
        with progress_bar(self.progress, len(gather.requests), gather.description) as advance:

            async def bounded(request: Request[Any]) -> Any:
                async with limit:
                    response = await self.send(request)
                advance(1)
                return response

            return list(await asyncio.gather(*(bounded(r) for r in gather.requests)))


def _where(error: CAVEError) -> str:
    method, url = getattr(error, "method", "?"), getattr(error, "url", "?")
    return f"{method} {url}"
