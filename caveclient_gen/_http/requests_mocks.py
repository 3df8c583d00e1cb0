"""Requests mocked for the `requests` library (`responses`, `requests-mock`) reach this client too.

Test suites written for caveclient mock its HTTP with `responses`, which replaces
`requests.adapters.HTTPAdapter.send` while a test runs, or with `requests-mock`, whose `Mocker`
(also the `requests_mock` pytest fixture) replaces `requests.Session.send`. This client speaks
httpx, so those mocks would never see its requests. The transports here wrap the client's own
network transport and look, at each request, whether such a mock is active; when it is, the request
is handed to a `requests.Session` so that the mock answers it, and its answer is handed back to httpx
unchanged (status, every header including repeated ones, the body's bytes as sent, before any
decoding). Otherwise the request goes to the wrapped transport, and the look costs a few dictionary
lookups.

What the bridge does not change: the headers (the token among them) are those httpx built for the
request's server; the `requests.Session` adds nothing of its own (no default headers, no cookies, no
proxies or credentials from the environment or `.netrc`); the client's timeouts are passed on;
redirects are returned, not followed. A failure of `requests` becomes the httpx failure of the same
meaning, so the runtime turns it into the same typed error as a real one. A request the mock has no
answer for is a `NoMockMatchedError` (an `httpx.ConnectError`): not retried, since the mock would
answer the same again. The async transport sends through `requests` on a worker thread, so a mock's
callback or a passthrough to a real server does not hold up the event loop.
A transport the caller passed to the client is never wrapped.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import AsyncIterator, Iterator
from http.cookiejar import DefaultCookiePolicy
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import requests

CHUNK_SIZE = 64 * 1024

# Headers about the connection rather than the request: requests and urllib3 set their own.
_CONNECTION_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


def requests_mock_active() -> bool:
    """Whether a mock of `requests` (`responses` or `requests-mock`) currently replaces how it sends.

    Neither mock package is imported here: a program that has not imported one cannot have it active.
    """
    return _responses_active() or _requests_mock_active()


def _responses_active() -> bool:
    if "responses" not in sys.modules:
        return False
    adapters = sys.modules.get("requests.adapters")
    return adapters is not None and _defined_in(adapters.HTTPAdapter.__dict__.get("send"), "responses")


def _requests_mock_active() -> bool:
    if "requests_mock" not in sys.modules:
        return False
    sessions = sys.modules.get("requests.sessions")
    return sessions is not None and _defined_in(sessions.Session.__dict__.get("send"), "requests_mock")


def _defined_in(function: object, package: str) -> bool:
    module = getattr(function, "__module__", None)
    return isinstance(module, str) and (module == package or module.startswith(f"{package}."))


class NoMockMatchedError(httpx.ConnectError):
    """An active mock of `requests` has no answer for the request (no registration matches it)."""


class MockRegistrations:
    """The registrations of the active `responses` mock, taken before a request is sent.

    `responses` raises a `requests` ConnectionError for a request none of its registrations
    matches, as it may for a registered failure. What tells them apart is where the error is
    recorded: every exchange goes to the mock's call list, a registered failure also to its
    registration's own. A registration used up by the exchange leaves the mock's list, hence the
    list taken before sending.
    """

    def __init__(self) -> None:
        self.responses_active = _responses_active()
        self.mock = active_responses_mock() if self.responses_active else None
        self.registrations: list[Any] = [] if self.mock is None else list(self.mock.registered())

    def unmatched(self, error: BaseException) -> bool:
        """Whether a mock of `requests` raised `error` because none of its registrations matches."""
        requests_mock_errors = sys.modules.get("requests_mock.exceptions")
        if requests_mock_errors is not None and isinstance(error, requests_mock_errors.NoMockAddress):
            return True  # requests-mock's own exception type says so
        if not self.responses_active:
            return False
        if self.mock is None:
            return _worded_as_unmatched_by_responses(error)
        if not any(call.response is error for call in reversed(list(self.mock.calls))):
            return False
        registrations = [*self.registrations, *self.mock.registered()]
        return not any(
            call.response is error for registration in registrations for call in registration.calls
        )


def active_responses_mock() -> Any:
    """The `responses.RequestsMock` whose patch `requests` sends through now, or None.

    Its patch of `HTTPAdapter.send` is a function closed over the mock that installed it (which is
    the default `responses.mock` under `@responses.activate`).
    """
    responses = sys.modules.get("responses")
    adapters = sys.modules.get("requests.adapters")
    if responses is None or adapters is None:
        return None
    send = adapters.HTTPAdapter.__dict__.get("send")
    for cell in getattr(send, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # a cell not filled yet
            continue
        if isinstance(value, responses.RequestsMock):
            return value
    return None


UNMATCHED_BY_RESPONSES = "Connection refused by Responses"
"""How `responses` begins the error it raises for a request no registration matches."""


def _worded_as_unmatched_by_responses(error: BaseException) -> bool:
    """For a `responses` whose mock cannot be found from its patch: the words of its error, which
    it raises as a plain `requests` ConnectionError (a registered failure rarely is worded so)."""
    import requests

    return type(error) is requests.ConnectionError and str(error).startswith(UNMATCHED_BY_RESPONSES)


class RequestsMockTransport(httpx.BaseTransport):
    """The client's network transport, or `requests` while a mock of `requests` is active."""

    def __init__(self, network: httpx.BaseTransport) -> None:
        self.network = network

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not requests_mock_active():
            return self.network.handle_request(request)
        return send_through_requests(request, request.read())

    def close(self) -> None:
        self.network.close()


class AsyncRequestsMockTransport(httpx.AsyncBaseTransport):
    """The async form: `requests` is called on a worker thread, off the event loop."""

    def __init__(self, network: httpx.AsyncBaseTransport) -> None:
        self.network = network

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not requests_mock_active():
            return await self.network.handle_async_request(request)
        body = await request.aread()
        return await _ThreadedExchange(request, body).run()

    async def aclose(self) -> None:
        await self.network.aclose()


class _ThreadedExchange:
    """One request sent through `requests` on a worker thread.

    A cancelled caller stops waiting at once; the thread cannot be stopped, so it runs on until
    `requests` returns (a mock's answer, or the timeouts bound it) and then closes the answer nobody
    will read.
    """

    def __init__(self, request: httpx.Request, body: bytes) -> None:
        self._request = request
        self._body = body
        self._lock = threading.Lock()
        self._abandoned = False
        self._answer: httpx.Response | None = None

    async def run(self) -> httpx.Response:
        import asyncio

        try:
            return await asyncio.to_thread(self._send)
        except BaseException:
            self._abandon()
            raise

    def _send(self) -> httpx.Response:
        answer = send_through_requests(self._request, self._body)
        with self._lock:
            self._answer = answer
            if self._abandoned:
                answer.close()
        return answer

    def _abandon(self) -> None:
        # Also when the thread had finished but its answer never reached the caller.
        with self._lock:
            self._abandoned = True
            if self._answer is not None:
                self._answer.close()


def send_through_requests(request: httpx.Request, body: bytes) -> httpx.Response:
    """Send an httpx request with `requests`, and return the answer as an httpx response."""
    import requests

    registrations = MockRegistrations()
    session = _bare_session()
    try:
        answer = session.request(
            request.method,
            str(request.url),
            headers=_request_headers(request),
            data=body,
            timeout=_timeouts(request),
            allow_redirects=False,
            stream=True,
        )
    except BaseException as error:
        session.close()
        if registrations.unmatched(error):
            raise NoMockMatchedError(str(error), request=request) from error
        if isinstance(error, requests.RequestException):
            raise _transport_error(error, request) from error
        raise
    headers, stream = _response_parts(request, answer, session)
    return httpx.Response(
        answer.status_code,
        headers=headers,
        stream=stream,
        request=request,
        extensions={"reason_phrase": (answer.reason or "").encode("latin-1", "replace")},
    )


def _bare_session() -> requests.Session:
    """A `requests.Session` that adds nothing to a request: no default headers, no cookies (neither
    kept from an answer nor sent), no proxies, certificates or `.netrc` credentials from the
    environment. One per request, so nothing is shared between requests or threads."""
    import requests
    from requests.structures import CaseInsensitiveDict

    session = requests.Session()
    session.trust_env = False
    session.headers = CaseInsensitiveDict()
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return session


def _request_headers(request: httpx.Request) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in request.headers.multi_items():
        if name.lower() in _CONNECTION_HEADERS:
            continue
        # requests takes one value per name; repeated ones are joined as HTTP allows.
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _timeouts(request: httpx.Request) -> tuple[float | None, float | None]:
    timeout = request.extensions.get("timeout", {})
    return timeout.get("connect"), timeout.get("read")


def _transport_error(error: Exception, request: httpx.Request) -> httpx.TransportError:
    import requests

    message = str(error)
    if isinstance(error, requests.ConnectTimeout):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(error, requests.Timeout):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(error, requests.ConnectionError):
        return httpx.ConnectError(message, request=request)
    return httpx.TransportError(message, request=request)


def _response_parts(
    request: httpx.Request, answer: requests.Response, session: requests.Session
) -> tuple[list[tuple[str, str]], _RequestsBody]:
    """The answer's headers, every value of a repeated one kept, and its body as received."""
    raw = answer.raw
    # urllib3's header dict yields each value of a repeated header on its own.
    each_value = getattr(getattr(raw, "headers", None), "iteritems", None)
    if each_value is not None and hasattr(raw, "stream"):
        headers = [(str(name), str(value)) for name, value in each_value()]
        chunks = raw.stream(CHUNK_SIZE, decode_content=False)
    else:
        # Not a urllib3 answer: only its decoded body is known, so it is passed on as not encoded.
        headers = [
            (name, value)
            for name, value in answer.headers.items()
            if name.lower() not in {"content-encoding", "content-length"}
        ]
        chunks = answer.iter_content(CHUNK_SIZE)
    return headers, _RequestsBody(request, chunks, answer, session)


class _RequestsBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """The body of a `requests` answer, read as httpx reads a body; closing it ends the answer."""

    def __init__(
        self,
        request: httpx.Request,
        chunks: Iterator[bytes],
        answer: requests.Response,
        session: requests.Session,
    ) -> None:
        self._request = request
        self._chunks = chunks
        self._answer = answer
        self._session = session

    def __iter__(self) -> Iterator[bytes]:
        import requests

        try:
            yield from self._chunks
        except (requests.RequestException, _urllib3_errors()) as error:
            raise httpx.ReadError(str(error), request=self._request) from error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        import asyncio

        # Each chunk is read on a worker thread: a passthrough reads from a real server.
        chunks = iter(self)
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            yield chunk

    def close(self) -> None:
        self._answer.close()
        self._session.close()

    async def aclose(self) -> None:
        self.close()


def _urllib3_errors() -> type[Exception]:
    from urllib3.exceptions import HTTPError

    return HTTPError
