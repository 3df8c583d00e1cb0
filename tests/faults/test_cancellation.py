"""Cancelled async calls leave the shared connection pool usable.

httpcore 1.0.9 (the release uv.lock pins, with httpx 0.28.1) can leave a pool connection half-open
when a request is cancelled while it waits for, or opens, a connection (encode/httpcore#1093, still
open); once every slot is taken, each later request fails with PoolTimeout. The async runtime sends
each exchange in a task that the caller's cancellation does not interrupt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from caveclient_gen import AsyncCAVEclient
from caveclient_gen.testing import LocalCAVE

ROUNDS = 50
CALLS_PER_ROUND = 20
"""ROUNDS x CALLS_PER_ROUND = 1000 cancelled calls."""


@pytest.fixture(scope="module")
def cave() -> Iterator[LocalCAVE]:
    with LocalCAVE(seed=11, latency=0.002) as running:
        yield running


def short_client(cave: LocalCAVE) -> AsyncCAVEclient:
    return AsyncCAVEclient(
        cave.datastack,
        server_address=cave.url,
        auth_token=cave.token,
        pool_maxsize=4,
        max_retries=0,
        timeout=httpx.Timeout(5.0, pool=3.0),
    )


@pytest.mark.anyio
async def test_a_thousand_cancelled_calls_leave_the_client_answering(cave: LocalCAVE) -> None:
    async with short_client(cave) as client:
        expected = await client.info.get_datastacks()
        cancelled = 0
        for round_number in range(ROUNDS):
            tasks = [asyncio.ensure_future(client.info.get_datastacks()) for _ in range(CALLS_PER_ROUND)]
            # Cancel at a different moment each round: waiting for the pool, connecting, reading.
            await asyncio.sleep((round_number % 10) * 0.0004)
            for task in tasks:
                task.cancel()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            cancelled += sum(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes)
            assert all(
                outcome == expected or isinstance(outcome, asyncio.CancelledError)
                for outcome in outcomes
            )
        assert cancelled > ROUNDS * CALLS_PER_ROUND // 2
        answers = await asyncio.gather(*(client.info.get_datastacks() for _ in range(8)))
        assert answers == [expected] * 8


@pytest.mark.anyio
async def test_timeouts_of_the_caller_leave_the_client_answering(cave: LocalCAVE) -> None:
    async with short_client(cave) as client:
        expected = await client.info.get_datastacks()
        for attempt in range(200):
            try:
                async with asyncio.timeout(0.0005 * (attempt % 7)):
                    await asyncio.gather(*(client.info.get_datastacks() for _ in range(5)))
            except TimeoutError:
                pass
        assert await client.info.get_datastacks() == expected
