"""A synchronous httpx transport that answers requests by calling an ASGI app in process."""

from __future__ import annotations

import asyncio

import httpx
from starlette.types import ASGIApp


class InProcessTransport(httpx.BaseTransport):
    """Lets a plain ``httpx.Client`` talk to ``LocalCAVE.app`` without a socket or a server.

    ``httpx.ASGITransport`` only serves ``httpx.AsyncClient``; this runs it on a short-lived
    event loop per request, so it must not be used from inside a running event loop. Bodies are
    passed on undecoded, so ``Content-Encoding`` is handled by the client as over the wire.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._asgi = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return asyncio.run(self._handle(request))

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        response = await self._asgi.handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        body = b"".join([chunk async for chunk in response.stream])
        await response.aclose()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(body),
            extensions=response.extensions,
        )
