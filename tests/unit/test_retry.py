"""The retry policy, as a table of cases, and the runtime's retry loop with a retries counter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from caveclient_gen import CAVEclient
from caveclient_gen._http.retry import RequestNotSentError, RetryPolicy
from caveclient_gen._http.status import retry_after_seconds
from caveclient_gen.errors import (
    BadRequestError,
    CAVEConnectionError,
    CAVEError,
    CAVETimeoutError,
    RateLimitError,
    ServerError,
)


def status(kind: type[CAVEError], code: int, retry_after: str | None = None) -> CAVEError:
    headers = {"retry-after": retry_after} if retry_after else {}
    return kind("m", method="GET", url="u", status_code=code, headers=headers)  # type: ignore[call-arg]


NOT_SENT = RequestNotSentError("refused", method="POST", url="u")
BROKEN = CAVEConnectionError("reset", method="GET", url="u")
TIMEOUT = CAVETimeoutError("slow", method="GET", url="u")


@pytest.mark.parametrize(
    ("error", "idempotent", "retried"),
    [
        (NOT_SENT, True, True),
        (NOT_SENT, False, True),  # nothing reached the server: safe even for writes
        (BROKEN, True, True),
        (BROKEN, False, False),  # the server may have acted: writes are not replayed
        (TIMEOUT, True, False),  # waiting as long again would not help
        (status(ServerError, 502), True, True),
        (status(ServerError, 503), True, True),
        (status(ServerError, 504), True, True),
        (status(ServerError, 500), True, False),
        (status(ServerError, 503), False, False),
        (status(RateLimitError, 429), True, True),
        (status(RateLimitError, 429), False, True),  # refused, not acted on
        (status(BadRequestError, 400), True, False),
    ],
)
def test_which_failures_are_retried(error: CAVEError, idempotent: bool, retried: bool) -> None:
    assert RetryPolicy().is_retryable(error, idempotent=idempotent) is retried


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    policy = RetryPolicy(max_retries=6, random_fraction=lambda: 0.0)
    waits = [policy.delay(n, BROKEN, idempotent=True) for n in range(1, 7)]
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    jittered = RetryPolicy(random_fraction=lambda: 1.0).delay(1, BROKEN, idempotent=True)
    assert jittered == pytest.approx(0.5 * 0.75)


def test_retries_stop_after_max_retries() -> None:
    policy = RetryPolicy(max_retries=2)
    assert policy.delay(2, BROKEN, idempotent=True) is not None
    assert policy.delay(3, BROKEN, idempotent=True) is None


def test_retry_after_sets_the_wait_and_a_long_one_ends_retries() -> None:
    policy = RetryPolicy()
    assert policy.delay(1, status(RateLimitError, 429, "3"), idempotent=True) == 3.0
    assert policy.delay(1, status(RateLimitError, 429, "600"), idempotent=True) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [("0", 0.0), ("2.5", 2.5), ("-4", 0.0), ("soon", None), (None, None), ("", None)],
)
def test_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert retry_after_seconds(header) == expected


def test_retry_after_http_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(later, now=now.timestamp()) == pytest.approx(30.0)


class Flaky:
    """A transport answering with the given statuses in turn, counting the calls."""

    def __init__(self, *statuses: int, retry_after: str | None = None) -> None:
        self.statuses = list(statuses)
        self.calls = 0
        self.retry_after = retry_after

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        code = self.statuses.pop(0) if self.statuses else 200
        headers = {"retry-after": self.retry_after} if self.retry_after and code != 200 else {}
        if code == 200:
            return httpx.Response(200, json=["a", "b"])
        return httpx.Response(code, json={"message": "busy"}, headers=headers)


def client_for(handler: Flaky, **options: object) -> CAVEclient:
    client = CAVEclient(
        server_address="https://cave.test",
        auth_token="t0ken",
        transport=httpx.MockTransport(handler),
        **options,  # type: ignore[arg-type]
    )
    client._core.runtime._sleep = lambda seconds: None  # type: ignore[union-attr]
    return client


def test_a_read_is_retried_until_it_succeeds() -> None:
    handler = Flaky(503, 502)
    assert client_for(handler).info.get_datastacks() == ["a", "b"]
    assert handler.calls == 3


def test_retries_give_up_after_max_retries_with_the_last_error() -> None:
    handler = Flaky(503, 503, 503)
    with pytest.raises(ServerError) as raised:
        client_for(handler, max_retries=2).info.get_datastacks()
    assert raised.value.status_code == 503
    assert handler.calls == 3


def test_no_retries_when_max_retries_is_zero() -> None:
    handler = Flaky(503)
    with pytest.raises(ServerError):
        client_for(handler, max_retries=0).info.get_datastacks()
    assert handler.calls == 1


def test_a_write_is_not_replayed_after_a_server_error() -> None:
    handler = Flaky(503)
    with pytest.raises(ServerError):
        client_for(handler).state.upload_state_json({"layers": []})
    assert handler.calls == 1


def test_connection_refused_is_retried_then_reported() -> None:
    calls = 0

    def refuse(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("connection refused", request=request)

    client = CAVEclient(
        server_address="https://cave.test",
        auth_token="t0ken",
        transport=httpx.MockTransport(refuse),
        max_retries=2,
    )
    client._core.runtime._sleep = lambda seconds: None  # type: ignore[union-attr]
    with pytest.raises(CAVEConnectionError, match="connection refused"):
        client.info.get_datastacks()
    assert calls == 3


def _http2_failure(event: object) -> httpx.RemoteProtocolError:
    """What httpx raises for an HTTP/2 event httpcore reports as a protocol error."""
    import httpcore

    error = httpx.RemoteProtocolError(str(event))
    error.__cause__ = httpcore.RemoteProtocolError(event)
    return error


def _stream_reset(code: int) -> object:
    import h2.events

    return h2.events.StreamReset(stream_id=1, error_code=code, remote_reset=True)


def _goaway(last_stream_id: int) -> object:
    import h2.events

    event = h2.events.ConnectionTerminated()
    event.error_code, event.last_stream_id = 0, last_stream_id
    return event


@pytest.mark.parametrize(
    ("event", "writes_retried"),
    [
        (_stream_reset(7), True),  # REFUSED_STREAM: not processed (RFC 9113, 8.7)
        (_goaway(0), True),  # the server went away having processed no stream
        (_stream_reset(2), False),  # INTERNAL_ERROR: the server may have acted
        (_goaway(1), False),  # our stream 1 may have been processed
    ],
)
def test_http2_refusals_before_processing_let_writes_be_retried(
    event: object, writes_retried: bool
) -> None:
    calls = 0

    def fail_once(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise _http2_failure(event)
        return httpx.Response(200, json="https://cave.test/nglstate/api/v1/5")  # the new state

    client = CAVEclient(
        server_address="https://cave.test",
        auth_token="t0ken",
        transport=httpx.MockTransport(fail_once),
    )
    client._core.runtime._sleep = lambda seconds: None  # type: ignore[union-attr]
    if writes_retried:
        client.state.upload_state_json({"layers": []})
        assert calls == 2
    else:
        with pytest.raises(CAVEConnectionError) as raised:
            client.state.upload_state_json({"layers": []})
        assert not isinstance(raised.value, RequestNotSentError)
        assert calls == 1
