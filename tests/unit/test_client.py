"""Construction does nothing, sub-clients are lazy, and the pool is closed by close()/with."""

from __future__ import annotations

import asyncio
import contextvars
import subprocess
import sys

import httpx
import pytest

import caveclient_gen
from caveclient_gen import AsyncCAVEclient, CAVEclient, GlobalClientError, InvalidInputError


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json=["ds"])


def test_construction_makes_no_request_and_reads_no_file() -> None:
    recorder = Recorder()
    client = CAVEclient(
        "ds", server_address="https://cave.test", version=3, transport=httpx.MockTransport(recorder)
    )
    for name in ("auth", "info", "state", "schema"):
        getattr(client, name)
    assert recorder.requests == []
    assert client._core._token_source is None


def test_sub_clients_are_built_once() -> None:
    client = CAVEclient(server_address="https://cave.test")
    assert client.info is client.info
    assert client.state is client.state


def test_caveclient_parameters_are_accepted() -> None:
    client = CAVEclient(
        datastack_name="ds",
        server_address="https://cave.test",
        auth_token_file=None,
        auth_token_key=None,
        auth_token="t",
        global_only=False,
        max_retries=5,
        pool_maxsize=4,
        pool_block=True,
        desired_resolution=[4, 4, 40],
        info_cache=None,
        write_server_cache=False,
        version=None,
        timeout=12.0,
    )
    assert client.datastack_name == "ds"
    assert client.desired_resolution == [4, 4, 40]
    assert client._core.settings.retry.max_retries == 5
    assert client._core.settings.timeout.read == 12.0


def test_global_only_clients_refuse_datastack_work() -> None:
    client = CAVEclient("ds", server_address="https://cave.test", global_only=True)
    assert client.datastack_name is None
    with pytest.raises(GlobalClientError):
        client.info.local_server()


def test_bad_arguments_are_named() -> None:
    with pytest.raises(InvalidInputError, match="server_address"):
        CAVEclient(server_address="cave.test")
    with pytest.raises(InvalidInputError, match="version"):
        CAVEclient(version="3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pool_maxsize"):
        CAVEclient(pool_maxsize=0)
    with pytest.raises(ValueError, match="max_retries"):
        CAVEclient(max_retries=-1)


def test_close_and_context_manager() -> None:
    recorder = Recorder()
    with CAVEclient(
        server_address="https://cave.test", auth_token="t", transport=httpx.MockTransport(recorder)
    ) as client:
        assert client.info.get_datastacks() == ["ds"]
    with pytest.raises(RuntimeError, match="closed"):
        client.info.get_datastacks()


def test_every_sub_client_shares_one_connection_pool() -> None:
    client = CAVEclient("ds", server_address="https://cave.test", auth_token="t")
    session = client._core.session
    session.add_cave_server("https://local.test")
    first = session.http_client("https://cave.test")
    second = session.http_client("https://local.test")
    assert first is not second
    assert first._transport is second._transport  # one pool for every server and service
    assert first.timeout.read is not None
    assert first.timeout.connect == 5.0


@pytest.mark.anyio
async def test_the_async_client_runs_the_same_methods() -> None:
    recorder = Recorder()

    async def handler(request: httpx.Request) -> httpx.Response:
        return recorder(request)

    async with AsyncCAVEclient(
        server_address="https://cave.test", auth_token="t", transport=httpx.MockTransport(handler)
    ) as client:
        assert await client.info.get_datastacks() == ["ds"]
    assert len(recorder.requests) == 1


def test_importing_the_package_loads_no_heavy_module() -> None:
    code = (
        "import sys, caveclient_gen\n"
        "client = caveclient_gen.CAVEclient('ds', server_address='https://cave.test')\n"
        "client.info; client.state\n"
        "heavy = ('pandas', 'pyarrow', 'numpy', 'caveclient_gen_api.materialize')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_public_names_are_pinned() -> None:
    assert sorted(caveclient_gen.__all__) == sorted(
        [
            "AnnotationUploadError",
            "AsyncCAVEclient",
            "AuthException",
            "AuthenticationError",
            "BadRequestError",
            "CAVEConnectionError",
            "CAVEError",
            "CAVEServerWarning",
            "CAVEStatusError",
            "CAVETimeoutError",
            "CAVEclient",
            "ConflictError",
            "GlobalClientError",
            "InvalidInequalityException",
            "InvalidInputError",
            "MissingSkeletonsWarning",
            "NotFoundError",
            "PermissionDeniedError",
            "RateLimitError",
            "ServerError",
            "ServerIncompatibilityError",
            "TermsOfServiceError",
            "UnexpectedResponseError",
            "UnprocessableEntityError",
            "__version__",
            "get_session_defaults",
            "set_session_defaults",
        ]
    )
    for name in caveclient_gen.__all__:
        assert hasattr(caveclient_gen, name)


GATE_TIMEOUT = 30.0
"""Seconds a held request waits for the others: only reached when the calls are not concurrent."""


class GatedServer:
    """Holds each datastack request until `width` are in flight at once (or the rest of the calls
    have all started), so the most ever in flight shows the concurrency whatever the machine's speed.
    """

    def __init__(self, width: int, calls: int) -> None:
        import threading

        self.width = width
        self.calls = calls
        self.started = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self.gave_up = False
        self.changed = threading.Condition()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.changed:
            self.started += 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.changed.notify_all()
            if not self.changed.wait_for(self._may_go_on, timeout=GATE_TIMEOUT):
                self.gave_up = True
                self.changed.notify_all()
            self.in_flight -= 1
        name = request.url.path.split("/")[-2]
        if name == "bad":
            return httpx.Response(404, json={"message": "no datastack bad"})
        return httpx.Response(200, json=[f"mirror-of-{name}"])

    def _may_go_on(self) -> bool:
        return self.gave_up or self.in_flight >= self.width or self.started == self.calls


def test_map_runs_calls_concurrently_in_order() -> None:
    names = [f"ds{i}" for i in range(12)]
    server = GatedServer(width=4, calls=len(names))
    client = CAVEclient(
        server_address="https://cave.test", auth_token="t", transport=httpx.MockTransport(server)
    )
    results = client.map(client.info.get_datastacks_by_aligned_volume, names, concurrency=4)
    assert results == [[f"mirror-of-{name}"] for name in names]
    assert not server.gave_up
    assert server.most_in_flight == 4


def test_map_raises_the_first_failure() -> None:
    client = CAVEclient(
        server_address="https://cave.test",
        auth_token="t",
        transport=httpx.MockTransport(GatedServer(width=1, calls=3)),
        max_retries=0,
    )
    with pytest.raises(caveclient_gen.NotFoundError, match="no datastack bad"):
        client.map(client.info.get_datastacks_by_aligned_volume, ["a", "bad", "c"])
    with pytest.raises(InvalidInputError, match="concurrency"):
        client.map(client.info.get_datastacks_by_aligned_volume, ["a"], concurrency=0)


CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="unset")


def test_map_calls_see_the_callers_context_variables_as_on_the_async_client() -> None:
    def seen(_: int) -> str:
        return CALLER.get()

    async def seen_async(_: int) -> str:
        return CALLER.get()

    async def async_map() -> list[str]:
        CALLER.set("the caller's")
        async with AsyncCAVEclient(server_address="https://cave.test", auth_token="t") as client:
            return await client.map(seen_async, range(6), concurrency=3)

    def sync_map() -> list[str]:
        CALLER.set("the caller's")
        return CAVEclient(server_address="https://cave.test", auth_token="t").map(
            seen, range(6), concurrency=3
        )

    assert contextvars.copy_context().run(sync_map) == ["the caller's"] * 6
    assert asyncio.run(async_map()) == ["the caller's"] * 6


@pytest.mark.anyio
async def test_async_map_bounds_concurrency() -> None:
    import asyncio

    names = [f"v{i}" for i in range(9)]
    width = 3
    started = in_flight = most = 0
    changed = asyncio.Condition()

    def may_go_on() -> bool:
        return in_flight >= width or started == len(names)

    async def handler(request: httpx.Request) -> httpx.Response:
        # Held until `width` are in flight (or all have started): the count does not hang on timing.
        nonlocal started, in_flight, most
        async with changed:
            started += 1
            in_flight += 1
            most = max(most, in_flight)
            changed.notify_all()
            await asyncio.wait_for(changed.wait_for(may_go_on), GATE_TIMEOUT)
            in_flight -= 1
        return httpx.Response(200, json=[request.url.path.split("/")[-2]])

    async with AsyncCAVEclient(
        server_address="https://cave.test", auth_token="t", transport=httpx.MockTransport(handler)
    ) as client:
        results = await client.map(
            client.info.get_datastacks_by_aligned_volume, names, concurrency=width
        )
    assert results == [[name] for name in names]
    assert most == width


def test_both_clients_check_the_version_argument() -> None:
    with pytest.raises(InvalidInputError, match="version"):
        AsyncCAVEclient(version="3")  # type: ignore[arg-type]
    assert CAVEclient(version=np_int(3)).version == 3


def np_int(value: int) -> object:
    import numpy as np

    return np.int64(value)
