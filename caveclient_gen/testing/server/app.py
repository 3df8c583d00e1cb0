"""The ASGI application: every service router mounted on one host, like a CAVE deployment."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount

from ..auth.guard import AuthGuard
from ..world.deployment import Deployment
from .middleware import FlaskCorsMiddleware, LatencyMiddleware
from .mounts import SERVICE_MOUNTS
from .wire import flask_error_page


async def _flask_style_error(request: Request, exc: Exception) -> Response:
    # Unrouted URLs and wrong methods get Flask's HTML pages, as from the real servers.
    assert isinstance(exc, HTTPException)
    return flask_error_page(exc.status_code, exc.headers)


def build_app(deployment: Deployment) -> Starlette:
    guard = AuthGuard(deployment)
    routes = [
        Mount(service.prefix, app=service.create_router(deployment, guard)) for service in SERVICE_MOUNTS
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(LatencyMiddleware, deployment=deployment),
            Middleware(FlaskCorsMiddleware),
        ],
        exception_handlers={HTTPException: _flask_style_error},
    )
    app.router.redirect_slashes = False
    app.state.deployment = deployment
    app.state.auth_guard = guard
    return app
