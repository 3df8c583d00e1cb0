"""Connections and credentials of one client: one pool, a token that only CAVE servers see.

Nothing here touches the network or the disk until the first request: the transport (whose TLS
context loads certificates) and the token lookup are created on first use. Every CAVE server address
of the client gets its own httpx client object over the one shared transport, so all sub-clients reuse
the same connections. Only addresses registered as CAVE servers receive the token; anything else
(a neuroglancer host, a storage bucket) goes through a client that has none.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx

from .. import _defaults
from .._version import __version__
from .failures import mark_received
from .progress import ProgressSwitch, watch_download
from .redact import redact_url
from .requests_mocks import AsyncRequestsMockTransport, RequestsMockTransport
from .retry import RetryPolicy
from .status import error_from_response

logger = logging.getLogger("caveclient_gen")

USER_AGENT = f"caveclient_gen/{__version__} httpx/{httpx.__version__}"


def default_timeout() -> httpx.Timeout:
    return httpx.Timeout(
        connect=_defaults.CONNECT_TIMEOUT,
        read=_defaults.READ_TIMEOUT,
        write=_defaults.WRITE_TIMEOUT,
        pool=_defaults.POOL_TIMEOUT,
    )


def origin(url: str) -> str:
    """scheme://host[:port] of a URL, lower-cased, default ports dropped."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is None or (scheme, port) in {("https", 443), ("http", 80)}:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _python_booleans(params: Any) -> Any:
    """Query booleans spelled `True`/`False`, as caveclient (through requests) sends them.

    httpx would send `true`/`false`. Every CAVE server reads booleans case-insensitively, so the
    server's answer is the same; the spelling matters to tests that match caveclient's URLs exactly.
    """
    if not isinstance(params, dict):
        return params
    return {key: str(value) if isinstance(value, bool) else value for key, value in params.items()}


class _CAVEHTTPClient(httpx.Client):
    def build_request(self, method: str, url: Any, **options: Any) -> httpx.Request:
        options["params"] = _python_booleans(options.get("params"))
        return super().build_request(method, url, **options)


class _AsyncCAVEHTTPClient(httpx.AsyncClient):
    def build_request(self, method: str, url: Any, **options: Any) -> httpx.Request:
        options["params"] = _python_booleans(options.get("params"))
        return super().build_request(method, url, **options)


@dataclass(frozen=True)
class HTTPSettings:
    """How requests are made; every field has its default in `_defaults`."""

    timeout: httpx.Timeout = field(default_factory=default_timeout)
    pool_maxsize: int = _defaults.POOL_MAXSIZE
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    bulk_concurrency: int = _defaults.BULK_CONCURRENCY
    transport: httpx.BaseTransport | None = None
    """A transport to use instead of the network (tests use httpx.MockTransport)."""
    async_transport: httpx.AsyncBaseTransport | None = None
    progress: ProgressSwitch = field(default_factory=ProgressSwitch)
    """Whether long operations show progress bars (`caveclient_gen._http.progress`)."""

    def __post_init__(self) -> None:
        if self.pool_maxsize < 1:
            raise ValueError(f"pool_maxsize must be at least 1, not {self.pool_maxsize}")
        if None in (self.timeout.connect, self.timeout.read, self.timeout.write, self.timeout.pool):
            raise ValueError("every timeout must be finite: a request must never hang forever")

    def __deepcopy__(self, memo: dict[int, Any]) -> HTTPSettings:
        # The settings are immutable; a transport given by the caller is shared, never copied.
        return self


class GeneratedClient(Protocol):
    """The `Client` class every generated package defines."""

    def set_httpx_client(self, client: httpx.Client) -> Any: ...

    def set_async_httpx_client(self, client: httpx.AsyncClient) -> Any: ...


C = TypeVar("C", bound=GeneratedClient)


class Session:
    """The connections of one client, sync or async."""

    def __init__(
        self,
        settings: HTTPSettings,
        token: Callable[[], str | None],
        mode: Literal["sync", "async"] = "sync",
    ) -> None:
        self.settings = settings
        self.mode = mode
        self._token = token
        self._cave_origins: set[str] = set()
        self._lock = threading.Lock()
        self._transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None
        self._clients: dict[tuple[str, bool], httpx.Client | httpx.AsyncClient] = {}
        self._generated: dict[tuple[type[Any], str], Any] = {}
        self._closed = False

    def __getstate__(self) -> dict[str, Any]:
        """Copies (deepcopy, pickle) keep the settings and servers, never the connections: a copy
        opens its own on first use (even a copy of a closed client)."""
        state = self.__dict__.copy()
        for name in ("_lock", "_transport", "_clients", "_generated", "_closed"):
            del state[name]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._transport = None
        self._clients = {}
        self._generated = {}
        self._closed = False  # a copy of a closed client is a new, open one

    # ------------------------------------------------------------ servers and clients

    def add_cave_server(self, address: str) -> None:
        """Declare an address as a CAVE server of this client: requests to it carry the token."""
        self._cave_origins.add(origin(address))

    def is_cave_server(self, address: str) -> bool:
        return origin(address) in self._cave_origins

    def api(self, client_class: type[C], server: str) -> C:
        """The generated client of one service for one CAVE server, over the shared pool."""
        key = (client_class, server)
        existing = self._generated.get(key)
        if existing is not None:
            return existing  # type: ignore[no-any-return]
        if not self.is_cave_server(server):
            raise ValueError(f"{server} is not a CAVE server of this client")
        # Under the lock: a token change (reset_connections) between choosing the httpx client and
        # storing the generated one would otherwise keep the old token's client in use.
        with self._lock:
            existing = self._generated.get(key)
            if existing is not None:
                return existing  # type: ignore[no-any-return]
            generated = client_class(base_url=server.rstrip("/"))  # type: ignore[call-arg]
            http = self._client_locked(server, trusted=True)
            if self.mode == "sync":
                assert isinstance(http, httpx.Client)
                generated.set_httpx_client(http)
            else:
                assert isinstance(http, httpx.AsyncClient)
                generated.set_async_httpx_client(http)
            self._generated[key] = generated
            return generated

    def external(self) -> ExternalHTTP:
        """Plain HTTP to hosts that are not CAVE servers: never carries the token."""
        return ExternalHTTP(self)

    def http_client(self, base_url: str) -> httpx.Client:
        client = self._client_for(base_url)
        assert isinstance(client, httpx.Client)
        return client

    def async_http_client(self, base_url: str) -> httpx.AsyncClient:
        client = self._client_for(base_url)
        assert isinstance(client, httpx.AsyncClient)
        return client

    def _untrusted_client(self) -> httpx.Client | httpx.AsyncClient:
        return self._client_for("", trusted=False)

    def _client_for(
        self, base_url: str, trusted: bool | None = None
    ) -> httpx.Client | httpx.AsyncClient:
        if trusted is None:
            trusted = self.is_cave_server(base_url)
        with self._lock:
            return self._client_locked(base_url, trusted)

    def _client_locked(self, base_url: str, trusted: bool) -> httpx.Client | httpx.AsyncClient:
        key = (base_url.rstrip("/"), trusted)
        if self._closed:
            raise RuntimeError("this client has been closed")
        client = self._clients.get(key)
        if client is None:
            client = self._new_client(key[0], trusted)
            self._clients[key] = client
        return client

    def _new_client(self, base_url: str, trusted: bool) -> httpx.Client | httpx.AsyncClient:
        token = self._token() if trusted else None
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        else:
            # Marks the request as programmatic, so CAVE servers answer 401 rather than a redirect.
            headers["X-Requested-With"] = "caveclient_gen"
        options: dict[str, Any] = {
            "base_url": base_url,
            "headers": headers,
            "timeout": self.settings.timeout,
            "follow_redirects": False,
        }
        if self.mode == "sync":
            return _CAVEHTTPClient(
                transport=self._sync_transport(),
                event_hooks={"request": [_log_request], "response": [self._check_sync]},
                **options,
            )
        return _AsyncCAVEHTTPClient(
            transport=self._async_transport(),
            event_hooks={"request": [_alog_request], "response": [self._check_async]},
            **options,
        )

    def _limits(self) -> httpx.Limits:
        size = self.settings.pool_maxsize
        return httpx.Limits(max_connections=size, max_keepalive_connections=size)

    def _sync_transport(self) -> httpx.BaseTransport:
        if self._transport is None:
            # HTTP/2 is used where a server offers it (TLS ALPN); plain http:// stays HTTP/1.1.
            # A test's mock of `requests` (`responses`, `requests-mock`) answers in place of the
            # network (`requests_mocks`); a transport the caller gave is used as it is.
            self._transport = self.settings.transport or RequestsMockTransport(
                httpx.HTTPTransport(limits=self._limits(), http2=True)
            )
        assert isinstance(self._transport, httpx.BaseTransport)
        return self._transport

    def _async_transport(self) -> httpx.AsyncBaseTransport:
        if self._transport is None:
            self._transport = self.settings.async_transport or AsyncRequestsMockTransport(
                httpx.AsyncHTTPTransport(limits=self._limits(), http2=True)
            )
        assert isinstance(self._transport, httpx.AsyncBaseTransport)
        return self._transport

    # ------------------------------------------------------------ response checks

    def _check_sync(self, response: httpx.Response) -> None:
        mark_received()
        _log_response(response)
        if response.is_error or response.is_redirect:
            response.read()
            raise error_from_response(response, self._token_if_known())
        watch_download(response, self.settings.progress, asynchronous=False)

    async def _check_async(self, response: httpx.Response) -> None:
        mark_received()
        _log_response(response)
        if response.is_error or response.is_redirect:
            await response.aread()
            raise error_from_response(response, self._token_if_known())
        watch_download(response, self.settings.progress, asynchronous=True)

    def _token_if_known(self) -> str | None:
        try:
            return self._token()
        except Exception:  # a broken token file must not hide the server's error
            return None

    def reset_connections(self) -> None:
        """Forget the per-server clients (for example after a token change); the pool stays."""
        with self._lock:
            self._clients.clear()
            self._generated.clear()

    def forget_closed_loop_connections(self) -> None:
        """Start over with new connections: the event loop that owned the old ones has closed, so
        they can be neither used nor closed (their sockets go with them)."""
        with self._lock:
            self._clients.clear()
            self._generated.clear()
            if self.settings.async_transport is None:
                self._transport = None

    # ------------------------------------------------------------ lifetime

    def close(self) -> None:
        with self._lock:
            self._closed = True
            clients = list(self._clients.values())
            self._clients.clear()
            self._generated.clear()
            transport, self._transport = self._transport, None
        for client in clients:
            if isinstance(client, httpx.Client):
                client.close()
        if isinstance(transport, httpx.BaseTransport):
            transport.close()

    async def aclose(self) -> None:
        with self._lock:
            self._closed = True
            clients = list(self._clients.values())
            self._clients.clear()
            self._generated.clear()
            transport, self._transport = self._transport, None
        for client in clients:
            if isinstance(client, httpx.AsyncClient):
                await client.aclose()
        if isinstance(transport, httpx.AsyncBaseTransport):
            await transport.aclose()


@dataclass(frozen=True)
class ExternalResponse:
    """A response from a host outside the generated APIs, shaped like the generated ones."""

    status_code: int
    content: bytes
    headers: httpx.Headers
    parsed: None = None


class ExternalHTTP:
    """GETs of absolute URLs through a client that never carries the CAVE token, whatever the host.

    `headers` are the caller's own (for example a storage bucket's token for that bucket).
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, url: str, headers: dict[str, str] | None = None) -> ExternalResponse:
        client = self._session._untrusted_client()
        assert isinstance(client, httpx.Client)
        response = client.get(url, headers=headers)
        return ExternalResponse(response.status_code, response.content, response.headers)

    async def get_async(self, url: str, headers: dict[str, str] | None = None) -> ExternalResponse:
        client = self._session._untrusted_client()
        assert isinstance(client, httpx.AsyncClient)
        response = await client.get(url, headers=headers)
        return ExternalResponse(response.status_code, response.content, response.headers)


def _log_request(request: httpx.Request) -> None:
    request.extensions["caveclient_gen_start"] = time.perf_counter()
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("→ %s %s", request.method, redact_url(str(request.url)))


async def _alog_request(request: httpx.Request) -> None:
    _log_request(request)


def _log_response(response: httpx.Response) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        started = response.request.extensions.get("caveclient_gen_start")
        elapsed = f" in {time.perf_counter() - started:.3f} s" if started else ""
        logger.debug(
            "← %s %s %s%s",
            response.status_code,
            response.request.method,
            redact_url(str(response.request.url)),
            elapsed,
        )
