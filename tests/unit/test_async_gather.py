"""Concurrent requests of an async plan after one of them failed: like the sync runtime, the runtime
sends no more of them, and leaves no task of the call behind once the client has closed."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

import pytest

from caveclient_gen._http.plan import Gather, Request
from caveclient_gen._http.retry import RetryPolicy
from caveclient_gen._http.runtime import AsyncRuntime
from caveclient_gen.errors import ServerError

REQUESTS = 10
CONCURRENCY = 2


def test_a_failed_gather_sends_no_more_requests_and_leaves_no_task() -> None:
    started: list[int] = []

    async def main() -> list[Any]:
        runtime = AsyncRuntime(RetryPolicy(max_retries=0))
        in_flight = asyncio.Event()

        def request(index: int) -> Request[Any]:
            async def send() -> Any:
                started.append(index)
                if index == 0:
                    raise ServerError("m", method="POST", url="u", status_code=500, headers={})
                await in_flight.wait()  # answered only after the call has failed
                return index

            return Request(lambda: index, send, True)

        def plan() -> Generator[Any, Any, Any]:
            return (yield Gather([request(i) for i in range(REQUESTS)], CONCURRENCY))

        with pytest.raises(ServerError):
            await runtime.run(plan())
        in_flight.set()
        await runtime.abandon()  # what closing the client does
        for _ in range(REQUESTS * 5):  # bounded: let anything still scheduled run
            await asyncio.sleep(0)
        return [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]

    left_behind = asyncio.run(main())
    assert started == list(range(CONCURRENCY)), "requests sent after the call had failed"
    assert left_behind == []
