"""ASGI middleware of the whole deployment: added latency and the services' CORS headers."""

from __future__ import annotations

import asyncio

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..world.deployment import Deployment

_CORS_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"


class LatencyMiddleware:
    """Records every HTTP request and delays it by the deployment's current ``latency`` (seconds)."""

    def __init__(self, app: ASGIApp, deployment: Deployment) -> None:
        self._app = app
        self._deployment = deployment

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self._deployment.request_log.append((scope["method"], scope["path"]))
            delay = self._deployment.latency
            if delay > 0:
                await asyncio.sleep(delay)
        await self._app(scope, receive, send)


class FlaskCorsMiddleware:
    """CORS as the services configure flask-cors: any origin, on every response.

    flask-cors sends its headers even to requests without an Origin header and answers
    preflight requests itself, before any authentication.
    """

    def __init__(self, app: ASGIApp, expose_headers: str = "WWW-Authenticate") -> None:
        self._app = app
        self._expose_headers = expose_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        if (
            scope["method"] == "OPTIONS"
            and "origin" in request_headers
            and "access-control-request-method" in request_headers
        ):
            preflight_headers = {
                "Access-Control-Allow-Origin": "*",
                "Access-Control-Allow-Methods": _CORS_METHODS,
                "Allow": _CORS_METHODS,
            }
            requested_headers = request_headers.get("access-control-request-headers")
            if requested_headers:
                preflight_headers["Access-Control-Allow-Headers"] = requested_headers
            await Response(b"", 200, preflight_headers)(scope, receive, send)
            return

        async def send_with_cors_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Access-Control-Allow-Origin"] = "*"
                headers["Access-Control-Expose-Headers"] = self._expose_headers
            await send(message)

        await self._app(scope, receive, send_with_cors_headers)
