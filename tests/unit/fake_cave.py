"""An in-process CAVE server for unit tests, used as the handler of an httpx.MockTransport.

`FakeCAVEServer` answers the routes a test registers by (method, path), records every request (under
a lock, since chunked calls arrive from several threads) and answers anything else with a 404 whose
message names the method and path, so an unexpected request shows up in the failure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from caveclient_gen import CAVEclient

Handler = Callable[[httpx.Request], httpx.Response]


def client_served_by(server: FakeCAVEServer, info_cache: dict[str, dict[str, Any]]) -> CAVEclient:
    """A client of datastack "ds" whose requests `server` answers, with the info records given."""
    return CAVEclient(
        "ds",
        server_address="https://global.test",
        auth_token="secret-token",
        info_cache=info_cache,
        transport=httpx.MockTransport(server),
    )


def datastack_info_path(datastack: str) -> str:
    return f"/info/api/v2/datastack/full/{datastack}"


def fresh_copy(response: httpx.Response) -> httpx.Response:
    """A new response with the same status, headers and body (a response can be read only once)."""
    return httpx.Response(response.status_code, headers=response.headers, content=response.content)


class FakeCAVEServer:
    """Routes requests by (method, path); records each request; 404 for anything unregistered."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def route(self, method: str, path: str, answer: Handler | httpx.Response | Any) -> None:
        """Answer with a handler's response, a copy of a fixed response, or any other value as JSON."""
        if isinstance(answer, httpx.Response):
            fixed = answer
            self.routes[(method, path)] = lambda request: fresh_copy(fixed)
        elif callable(answer):
            self.routes[(method, path)] = answer
        else:
            self.routes[(method, path)] = lambda request: httpx.Response(200, json=answer)

    def serve_datastack_info(self, datastack: str, record: Mapping[str, Any]) -> None:
        self.route("GET", datastack_info_path(datastack), record)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self._lock:
            self.requests.append(request)
        handler = self.routes.get((request.method, request.url.path))
        if handler is None:
            message = f"no route {request.method} {request.url.path}"
            return httpx.Response(404, json={"code": 404, "message": message})
        return handler(request)

    def all(self, path: str) -> list[httpx.Request]:
        """The requests to `path`, whatever their method."""
        return [request for request in self.requests if request.url.path == path]

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [request for request in self.all(path) if request.method == method]

    def only(self, method: str, path: str) -> httpx.Request:
        return self._single(self.sent(method, path))

    def only_request_to(self, path: str) -> httpx.Request:
        """The one request to `path`, whatever its method."""
        return self._single(self.all(path))

    def paths(self) -> list[str]:
        return [f"{request.method} {request.url.path}" for request in self.requests]

    def _single(self, matching: list[httpx.Request]) -> httpx.Request:
        assert len(matching) == 1, [f"{request.method} {request.url}" for request in self.requests]
        return matching[0]
