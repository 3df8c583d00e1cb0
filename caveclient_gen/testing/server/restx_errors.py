"""Errors as the materialization and annotation services send them.

Both services register a catch-all exception handler on their flask-restx namespaces that runs
before flask-restx's own HTTP error handling, so anything a route raises, deliberate ``abort()``
calls included, reaches the client as HTTP 500 with the body ``{"code": 500, "message": ...,
"traceback": [...]}``. For an abort the message is werkzeug's text of the exception,
``"<status> <reason>: <description>"``; for any other exception it is ``str(exception)``.
Routes wrap their work in :func:`answer_errors_like_restx` and raise :class:`AbortError` where the
real route aborts.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec

from starlette.responses import Response

from .wire import restx_json

# werkzeug's names of the statuses these services abort with (Python's HTTPStatus renamed 413).
_WERKZEUG_REASONS = {
    400: ("BadRequest", "Bad Request"),
    401: ("Unauthorized", "Unauthorized"),
    403: ("Forbidden", "Forbidden"),
    404: ("NotFound", "Not Found"),
    406: ("NotAcceptable", "Not Acceptable"),
    409: ("Conflict", "Conflict"),
    410: ("Gone", "Gone"),
    413: ("RequestEntityTooLarge", "Request Entity Too Large"),
    422: ("UnprocessableEntity", "Unprocessable Entity"),
    429: ("TooManyRequests", "Too Many Requests"),
    500: ("InternalServerError", "Internal Server Error"),
}
# werkzeug's description of a 400 raised without one (argument parsers, undecodable bodies).
BAD_REQUEST_DESCRIPTION = "The browser (or proxy) sent a request that this server could not understand."
_SOURCE_FILE = "/app/{service}/{module}.py"

Params = ParamSpec("Params")


class AbortError(Exception):
    """``flask.abort(status, description)`` inside a route."""

    def __init__(self, status: int, description: object) -> None:
        super().__init__(status, description)
        self.status = status
        self.description = description

    def __str__(self) -> str:
        return f"{self.status} {_WERKZEUG_REASONS[self.status][1]}: {self.description}"

    @property
    def werkzeug_class(self) -> str:
        return f"werkzeug.exceptions.{_WERKZEUG_REASONS[self.status][0]}"


def bad_request() -> AbortError:
    """The abort of a request argument the parser rejects (werkzeug's generic description)."""
    return AbortError(400, BAD_REQUEST_DESCRIPTION)


def server_error(error: BaseException, *, service: str, module: str, route: str) -> Response:
    """The 500 the services' catch-all handler sends for ``error``."""
    kind = error.werkzeug_class if isinstance(error, AbortError) else type(error).__name__
    source = _SOURCE_FILE.format(service=service, module=module)
    traceback = [
        "Traceback (most recent call last):\n",
        f'  File "{source}", line 1, in {route}\n',
        f"{kind}: {error}\n",
    ]
    return restx_json({"code": 500, "message": str(error), "traceback": traceback}, 500)


def answer_errors_like_restx(
    *, service: str, module: str
) -> Callable[[Callable[Params, Awaitable[Response]]], Callable[Params, Awaitable[Response]]]:
    """Turn every exception of the decorated endpoint into the services' 500 answer."""

    def decorate(
        endpoint: Callable[Params, Awaitable[Response]],
    ) -> Callable[Params, Awaitable[Response]]:
        @functools.wraps(endpoint)
        async def guarded(*args: Params.args, **kwargs: Params.kwargs) -> Response:
            try:
                return await endpoint(*args, **kwargs)
            except Exception as error:  # the real catch-all handler takes everything too
                return server_error(error, service=service, module=module, route=endpoint.__name__)

        return guarded

    return decorate
