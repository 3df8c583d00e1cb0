"""A canary token never leaves the client: not in errors, their attributes or causes, warnings, or logs.

Tokens are also cleaned wherever they come from (surrounding whitespace removed) and refused, without
being shown, when they hold characters an HTTP header cannot carry.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from caveclient_gen import CAVEclient
from caveclient_gen.errors import (
    CAVEConnectionError,
    CAVEError,
    CAVEServerWarning,
    CAVEStatusError,
    InvalidInputError,
)
from tests.unit.materialize_support import (
    DATASTACK,
    GLOBAL,
    V3,
    FakeCAVE,
    arrow_response,
    standard_materialize,
)

CANARY = "CanaryT0ken-5f1e2d3c4b5a69788796a5b4c3d2e1f0"
ECHOED = CANARY[:12] + "...truncated"  # a server echoing the token cut short, with its own suffix

Handler = Callable[[httpx.Request], httpx.Response]


def leaks(value: Any) -> bool:
    text = value if isinstance(value, str) else repr(value)
    return CANARY[:8] in text


def client_with(handler: Handler, **options: Any) -> CAVEclient:
    return CAVEclient(
        server_address="https://cave.test",
        auth_token=CANARY,
        transport=httpx.MockTransport(handler),
        max_retries=options.pop("max_retries", 0),
        **options,
    )


def chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [current.__cause__, current.__context__]


def assert_clean(error: BaseException) -> None:
    for link in chain(error):
        assert not leaks(str(link)), f"{type(link).__name__}: {link}"
        assert not leaks(link.args)
        for name in ("data", "headers", "server_message", "url"):
            assert not leaks(getattr(link, name, "")), name


# ---------------------------------------------------------------- cleaning and refusing


def header_seen(requests: list[httpx.Request]) -> str:
    return requests[-1].headers["authorization"]


def recording() -> tuple[list[httpx.Request], Handler]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json=["ds"])

    return requests, handler


@pytest.mark.parametrize("pasted", [f"{CANARY}\n", f"  {CANARY}\r\n", f"\t{CANARY} "])
def test_a_token_argument_is_stripped(pasted: str) -> None:
    requests, handler = recording()
    with CAVEclient(
        server_address="https://cave.test", auth_token=pasted, transport=httpx.MockTransport(handler)
    ) as client:
        assert client.info.get_datastacks() == ["ds"]
        assert client.auth.token == CANARY
    assert header_seen(requests) == f"Bearer {CANARY}"


def test_a_token_from_a_file_or_the_environment_is_stripped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests, handler = recording()
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"token": f"{CANARY}\n"}))
    with CAVEclient(
        server_address="https://cave.test",
        auth_token_file=secret,
        transport=httpx.MockTransport(handler),
    ) as client:
        client.info.get_datastacks()
    assert header_seen(requests) == f"Bearer {CANARY}"
    monkeypatch.setenv("CAVE_TOKEN", f" {CANARY}\n")
    with CAVEclient(
        server_address="https://cave.test", transport=httpx.MockTransport(handler)
    ) as client:
        client.info.get_datastacks()
    assert header_seen(requests) == f"Bearer {CANARY}"


@pytest.mark.parametrize(
    "bad", [f"{CANARY[:20]} {CANARY[20:]}", f"{CANARY}\x01x", f"{CANARY}é", f"{CANARY}\nsecond-line"]
)
def test_a_token_a_header_cannot_carry_is_refused_without_showing_it(
    bad: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests, handler = recording()
    with pytest.raises(InvalidInputError) as raised:
        CAVEclient(
            server_address="https://cave.test", auth_token=bad, transport=httpx.MockTransport(handler)
        )
    assert raised.value.parameter == "auth_token"
    assert not leaks(str(raised.value))
    monkeypatch.setenv("CAVE_TOKEN", bad)
    with (
        CAVEclient(server_address="https://cave.test", transport=httpx.MockTransport(handler)) as client,
        pytest.raises(InvalidInputError) as from_environment,
    ):
        client.info.get_datastacks()
    assert from_environment.value.parameter == "CAVE_TOKEN"
    assert not leaks(str(from_environment.value))
    monkeypatch.delenv("CAVE_TOKEN")
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"token": bad}))
    with (
        CAVEclient(
            server_address="https://cave.test",
            auth_token_file=secret,
            transport=httpx.MockTransport(handler),
        ) as client,
        pytest.raises(InvalidInputError) as from_file,
    ):
        client.info.get_datastacks()
    assert from_file.value.parameter == "auth_token_file"
    assert not leaks(str(from_file.value))
    assert requests == []


def test_setting_a_token_cleans_it_too() -> None:
    requests, handler = recording()
    with client_with(handler) as client:
        client.auth.token = f"{CANARY}\n"
        client.info.get_datastacks()
        with pytest.raises(InvalidInputError) as raised:
            client.auth.token = f"{CANARY} x"
        assert not leaks(str(raised.value))
    assert header_seen(requests) == f"Bearer {CANARY}"


# ---------------------------------------------------------------- errors


def test_a_status_error_echoing_the_token_is_redacted_everywhere() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            500,
            json={
                "message": f"token {ECHOED} rejected; header was {request.headers['authorization']}",
                "data": {"token": CANARY, "nested": [f"Bearer {CANARY}", ECHOED]},
            },
            headers={"warning": f'199 - "bad token {CANARY}"', "www-authenticate": f"Bearer {ECHOED}"},
        )

    with client_with(handler) as client, pytest.raises(CAVEStatusError) as raised:
        client.info.get_datastacks()
    assert_clean(raised.value)
    assert raised.value.status_code == 500


def test_a_transport_error_carrying_the_token_is_redacted_with_its_cause() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"proxy refused {request.headers['authorization']}", request=request)

    with client_with(handler) as client, pytest.raises(CAVEConnectionError) as raised:
        client.info.get_datastacks()
    assert isinstance(raised.value.__cause__, httpx.ConnectError)
    assert_clean(raised.value)


def test_a_foreign_failure_carrying_the_token_is_redacted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise RuntimeError(f"broken with {CANARY}")

    with client_with(handler) as client, pytest.raises(CAVEError) as raised:
        client.info.get_datastacks()
    assert_clean(raised.value)


# ---------------------------------------------------------------- warnings


def test_a_server_warning_echoing_the_token_is_redacted() -> None:
    fake = FakeCAVE()
    standard_materialize(fake)
    fake.route(
        "POST",
        f"{V3}/version/3/table/synapses/query",
        arrow_response(pd.DataFrame({"id": [1]}), warnings=[f"slow query for {ECHOED}"]),
    )
    with (
        CAVEclient(
            DATASTACK,
            server_address=GLOBAL,
            auth_token=CANARY,
            transport=httpx.MockTransport(fake),
            max_retries=0,
            write_server_cache=False,
        ) as client,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        client.materialize.query_table("synapses")
    texts = [str(item.message) for item in caught if issubclass(item.category, CAVEServerWarning)]
    assert texts
    assert all("REDACTED" in text and not leaks(text) for text in texts)


# ---------------------------------------------------------------- logs


def test_retry_messages_and_debug_logs_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    attempts: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) == 1:
            raise httpx.ReadError(
                f"reset while sending {request.headers['authorization']}", request=request
            )
        return httpx.Response(200, json=["ds"])

    caplog.set_level(logging.DEBUG)
    with client_with(handler, max_retries=1) as client:
        runtime = client._core.runtime
        runtime.retry = dataclasses.replace(runtime.retry, backoff_initial=0.001)
        assert client.info.get_datastacks() == ["ds"]
    retries = [record for record in caplog.records if "retry 1" in record.getMessage()]
    assert retries, "the retry was logged"
    assert all(not leaks(record.getMessage()) for record in caplog.records)


@pytest.mark.parametrize(
    "name", ["httpx", "httpcore.http11", "httpcore.connection", "httpcore.http2", "hpack.hpack"]
)
def test_records_of_http_libraries_are_redacted(name: str, caplog: pytest.LogCaptureFixture) -> None:
    with client_with(recording()[1]):
        pass  # a client installs the filters (no request needed)
    caplog.set_level(logging.DEBUG)
    logging.getLogger(name).debug("headers=%r", [(b"authorization", f"Bearer {CANARY}".encode())])
    logging.getLogger(name).info("GET https://cave.test/?middle_auth_token=%s", ECHOED)
    assert len(caplog.records) == 2
    assert all(not leaks(record.getMessage()) for record in caplog.records)


def test_an_exception_logged_with_exc_info_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    with client_with(recording()[1]):
        pass
    try:
        raise ValueError(f"inner {CANARY}")
    except ValueError:
        logging.getLogger("caveclient_gen").exception("failed")
    assert not leaks(caplog.text)
