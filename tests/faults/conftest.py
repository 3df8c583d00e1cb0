"""A LocalCAVE whose every advertised address is a fault-injecting proxy in front of it."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
import uvicorn

from caveclient_gen import AsyncCAVEclient, CAVEclient
from caveclient_gen.testing import LocalCAVE
from tests.faults.proxy import FaultProxy
from tests.faults.proxy_thread import free_port


def call_outcome(
    open_client: Callable[[], CAVEclient | AsyncCAVEclient], mode: str, call: Callable[[Any], Any]
) -> Any:
    """The call's result on a fresh client from `open_client` (sync or async, as `mode` says); its
    exception if it raised one."""
    if mode == "sync":
        with cast(CAVEclient, open_client()) as client:
            try:
                return call(client)
            except Exception as error:
                return error

    async def main() -> Any:
        async with cast(AsyncCAVEclient, open_client()) as client:
            try:
                result = call(client)
                return await result if inspect.isawaitable(result) else result
            except Exception as error:
                return error

    return asyncio.run(main())


class FaultyCAVE:
    """LocalCAVE served on one port, advertised (and reached) through the proxy on another."""

    def __init__(self, cave: LocalCAVE, proxy: FaultProxy) -> None:
        self.cave = cave
        self.proxy = proxy
        self.info_cache: dict[str, Any] = {}


@pytest.fixture(scope="package")
def faulty() -> Iterator[FaultyCAVE]:
    proxy = FaultProxy().start()
    # Every URL in its records names the proxy. The L2 cache's attributes route answers 500 on the
    # real PCGL2Cache 1.3.1 (LocalCAVE's faithful default): idealised here, so L2 reads have a
    # correct answer for faults to spoil.
    cave = LocalCAVE(seed=21, port=proxy.port, idealised=["l2_attributes"])
    proxy.upstream_port = free_port()
    config = uvicorn.Config(
        cave.app,
        host="127.0.0.1",
        port=proxy.upstream_port,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http="h11",
        ws="none",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name="faulty-cave")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "LocalCAVE stopped while starting"
        assert time.monotonic() < deadline, "LocalCAVE did not start"
        time.sleep(0.01)
    faulty = FaultyCAVE(cave, proxy)
    with CAVEclient(cave.datastack, server_address=proxy.url, auth_token=cave.token) as client:
        faulty.info_cache[cave.datastack] = client.info.get_datastack_info()
    try:
        yield faulty
    finally:
        server.should_exit = True
        thread.join(5)
        proxy.stop()
