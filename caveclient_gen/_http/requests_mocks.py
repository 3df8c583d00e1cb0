"""Requests mocked for the `requests` library (the `responses` package) reach this client too.

Test suites written for caveclient mock its HTTP with `responses`, which replaces
`requests.adapters.HTTPAdapter.send` while a test runs. This client speaks httpx, so those mocks
would never see its requests. The transports here wrap the client's own network transport and look,
at each request, whether such a mock is active; when it is, the request is handed to a
`requests.Session` so that the mock answers it, and its answer is handed back to httpx unchanged
(status, every header including repeated ones, the body's bytes as sent, before any decoding).
Otherwise the request goes to the wrapped transport, and the look costs two dictionary lookups.

What the bridge does not change: the headers (the token among them) are those httpx built for the
request's server; the `requests.Session` adds nothing of its own (no default headers, no cookies, no
proxies or credentials from the environment or `.netrc`); the client's timeouts are passed on;
redirects are returned, not followed. A failure of `requests` becomes the httpx failure of the same
meaning (an unmatched URL, which `responses` reports as a refused connection, is an
`httpx.ConnectError`), so the runtime turns it into the same typed error as a real one.
A transport the caller passed to the client is never wrapped.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from http.cookiejar import DefaultCookiePolicy
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    import requests

CHUNK_SIZE = 64 * 1024

# Headers about the connection rather than the request: requests and urllib3 set their own.
_CONNECTION_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


def requests_mock_active() -> bool:
    """Whether a `responses` mock currently replaces how `requests` sends.

    Neither module is imported here: a program that has not imported both cannot have a mock active.
    """
    if "responses" not in sys.modules:
        return False
    adapters = sys.modules.get("requests.adapters")
    if adapters is None:
        return False
    send = adapters.HTTPAdapter.__dict__.get("send")
    # The unpatched method is a function of requests.adapters; a patch is defined elsewhere.
    return getattr(send, "__globals__", None) is not vars(adapters)


class RequestsMockTransport(httpx.BaseTransport):
    """The client's network transport, or `requests` while a `responses` mock is active."""

    def __init__(self, network: httpx.BaseTransport) -> None:
        self.network = network

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not requests_mock_active():
            return self.network.handle_request(request)
        return send_through_requests(request, request.read())

    def close(self) -> None:
        self.network.close()


class AsyncRequestsMockTransport(httpx.AsyncBaseTransport):
    """The async form: a mock answers in-process, so the `requests` call is made directly."""

    def __init__(self, network: httpx.AsyncBaseTransport) -> None:
        self.network = network

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not requests_mock_active():
            return await self.network.handle_async_request(request)
        return send_through_requests(request, await request.aread())

    async def aclose(self) -> None:
        await self.network.aclose()


def send_through_requests(request: httpx.Request, body: bytes) -> httpx.Response:
    """Send an httpx request with `requests`, and return the answer as an httpx response."""
    import requests

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
    except requests.RequestException as error:
        session.close()
        raise _transport_error(error, request) from error
    except BaseException:
        session.close()
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
        for chunk in self:
            yield chunk

    def close(self) -> None:
        self._answer.close()
        self._session.close()

    async def aclose(self) -> None:
        self.close()


def _urllib3_errors() -> type[Exception]:
    from urllib3.exceptions import HTTPError

    return HTTPError
