"""Every failure of a public method is a CAVEError: nothing of httpx, json, pyarrow, numpy escapes."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable

import httpx
import pytest

from caveclient_gen import AsyncCAVEclient, CAVEclient
from caveclient_gen._http.failures import RequestFailedError
from caveclient_gen.errors import (
    CAVEConnectionError,
    CAVEError,
    InvalidInputError,
    UnexpectedResponseError,
)

Handler = Callable[[httpx.Request], httpx.Response]


def sync_client(handler: Handler) -> CAVEclient:
    return CAVEclient(
        server_address="https://cave.test",
        auth_token="t0ken",
        transport=httpx.MockTransport(handler),
        max_retries=0,
    )


def async_client(handler: Handler) -> AsyncCAVEclient:
    async def answer(request: httpx.Request) -> httpx.Response:
        return handler(request)

    return AsyncCAVEclient(
        server_address="https://cave.test",
        auth_token="t0ken",
        transport=httpx.MockTransport(answer),
        max_retries=0,
    )


def mislabelled_gzip(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200,
        headers={"content-encoding": "gzip", "content-type": "application/json"},
        stream=httpx.ByteStream(b'["ds"] is not gzip'),
    )


def corrupt_deflate_error(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        503, headers={"content-encoding": "deflate"}, stream=httpx.ByteStream(b"\x00\x01garbage")
    )


def not_json(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "application/json"}, content=b"[1, 2")


def raises(error: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return handler


CASES: list[tuple[str, Handler, type[CAVEError]]] = [
    ("a body labelled gzip that is not", mislabelled_gzip, UnexpectedResponseError),
    ("an error status with a corrupt deflate body", corrupt_deflate_error, UnexpectedResponseError),
    ("a JSON body cut short", not_json, UnexpectedResponseError),
    ("an SSL failure outside httpx's mapping", raises(ssl.SSLError("bad mac")), CAVEConnectionError),
    ("an httpx StreamError", raises(httpx.StreamConsumed()), CAVEConnectionError),
    ("a json error inside the transport", raises(json.JSONDecodeError("x", "doc", 0)), CAVEError),
]


@pytest.mark.parametrize(("case", "handler", "kind"), CASES, ids=[case[0] for case in CASES])
def test_sync_failures_are_typed(case: str, handler: Handler, kind: type[CAVEError]) -> None:
    with sync_client(handler) as client, pytest.raises(kind) as raised:
        client.info.get_datastacks()
    assert isinstance(raised.value, CAVEError)
    assert raised.value.__cause__ is not None  # the original stays available for debugging


@pytest.mark.anyio
@pytest.mark.parametrize(("case", "handler", "kind"), CASES, ids=[case[0] for case in CASES])
async def test_async_failures_are_typed(case: str, handler: Handler, kind: type[CAVEError]) -> None:
    async with async_client(handler) as client:
        with pytest.raises(kind):
            await client.info.get_datastacks()


def test_a_failure_before_the_answer_is_not_retried_as_a_network_error() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise RuntimeError("the transport broke")

    with (
        CAVEclient(
            server_address="https://cave.test",
            auth_token="t0ken",
            transport=httpx.MockTransport(handler),
            max_retries=3,
        ) as client,
        pytest.raises(RequestFailedError),
    ):
        client.info.get_datastacks()
    assert len(calls) == 1


@pytest.mark.parametrize(
    "body",
    [b"ARROW?", b"\x28\xb5\x2f\xfd garbage", b"\xff\xff\xff\xff\x00\x00"],
    ids=["not arrow", "bad zstd", "bad ipc header"],
)
def test_an_arrow_answer_that_is_not_arrow_is_unexpected(body: bytes) -> None:
    from tests.unit.materialize_support import V3, FakeCAVE, standard_materialize

    fake = FakeCAVE()
    standard_materialize(fake)
    fake.route(
        "POST",
        f"{V3}/version/3/table/synapses/query",
        httpx.Response(
            200, headers={"content-type": "application/vnd.apache.arrow.stream"}, content=body
        ),
    )
    with pytest.raises(UnexpectedResponseError):
        fake.materialize().query_table("synapses")


def test_a_plan_refusing_input_before_sending_keeps_its_error() -> None:
    with sync_client(not_json) as client, pytest.raises(InvalidInputError):
        client.chunkedgraph.get_roots([1.5])
