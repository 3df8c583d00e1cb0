"""How the PyChunkedGraph and L2 cache Flask apps talk: their JSON, errors, parameters and gzip.

- JSON: sorted keys, compact, numpy arrays as lists; with ``int64_as_str`` only *numpy* 64-bit
  integers become strings (plain Python ints stay numbers), exactly as the servers' encoder does.
- Errors: ``{timestamp, duration, code, message}``; deliberate API errors (:class:`PcgApiError`)
  read ``"[<code>]: <text>"``, any other exception answers 500 with a ``traceback`` list too.
- Requests with ``Content-Encoding: gzip`` are decompressed; 2xx responses are gzipped when
  ``Accept-Encoding`` mentions gzip.
- Query parameters: timestamps are epoch seconds, booleans ``true/false/1/0`` (anything else falls
  back to the default, like Flask's ``type=`` conversion), bounds ``x0-x1_y0-y1_z0-z1``.
"""

from __future__ import annotations

import functools
import gzip
import json
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from ..auth.guard import Caller
from .wire import FLASK_DEFAULT_MEDIA_TYPE, JSON_MEDIA_TYPE

Endpoint = Callable[[Request], Awaitable[Response]]
# The servers gzip at level 9, which takes tens of seconds on 80 MB id arrays; level 1 gives the
# same stream format (and, for id arrays, about the same size) in a fraction of the time.
FAST_GZIP_LEVEL = 1
CallerEndpoint = Callable[[Request, Caller], Awaitable[Response]]


class PcgApiError(Exception):
    """PyChunkedGraph's ChunkedGraphAPIError: a deliberate rejection with an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return f"[{self.status}]: {self.message}"


def bad_request(message: str) -> PcgApiError:
    return PcgApiError(400, message)


class _PcgEncoder(json.JSONEncoder):
    """The servers' CustomJsonEncoder: numpy values to Python, optionally 64-bit ints to strings."""

    def __init__(self, *, int64_as_str: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.int64_as_str = int64_as_str

    def default(self, o: object) -> object:
        if isinstance(o, np.ndarray):
            if self.int64_as_str and o.dtype.type in (np.int64, np.uint64):
                return o.astype(str).tolist()
            return o.tolist()
        if isinstance(o, np.generic):
            if self.int64_as_str and isinstance(o, np.int64 | np.uint64):
                return str(o)
            return o.item()
        if isinstance(o, datetime):
            return str(o)
        return super().default(o)


def pcg_dumps(data: object, *, int64_as_str: bool = False) -> str:
    return json.dumps(
        data, cls=_PcgEncoder, int64_as_str=int64_as_str, sort_keys=True, separators=(",", ":")
    )


def pcg_json(
    data: object,
    *,
    int64_as_str: bool = False,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return Response(
        pcg_dumps(data, int64_as_str=int64_as_str) + "\n", status, headers, media_type=JSON_MEDIA_TYPE
    )


def raw_bytes(body: bytes, status: int = 200) -> Response:
    """Bytes returned from a Flask view: labelled ``text/html; charset=utf-8`` whatever they are."""
    return Response(body, status, media_type=FLASK_DEFAULT_MEDIA_TYPE)


def uint64_bytes(ids: npt.ArrayLike) -> Response:
    return raw_bytes(np.ascontiguousarray(ids, dtype="<u8").tobytes())


@dataclass
class PcgRequest:
    """What a handler needs of the request: its arguments, body and caller."""

    args: QueryParams
    body: bytes
    caller: Caller
    path_params: Mapping[str, str]
    base_url: str = ""
    """Scheme, host and port the request reached (no trailing slash)."""

    def json(self) -> Any:
        return json.loads(self.body)

    def timestamp(self, name: str, default: float | None) -> datetime:
        """PyChunkedGraph's ``_parse_timestamp``: epoch seconds (UTC) to an aware datetime."""
        value: object = self.args.get(name, default)
        if value is None:
            raise bad_request(f"Timestamp parameter {name} is mandatory")
        try:
            return datetime.fromtimestamp(float(value), UTC)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError, OSError) as error:
            raise bad_request(f"Timestamp parameter {name} is not a valid unix timestamp") from error

    def optional_timestamp(self, name: str) -> datetime | None:
        return None if name not in self.args else self.timestamp(name, None)

    def boolean(self, name: str, default: bool) -> bool:
        """``request.args.get(name, default, type=toboolean)``: unparsable values give the default."""
        value = self.args.get(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        return default

    def loose_boolean(self, name: str, default: bool) -> bool:
        """The edit routes' ``str2bool``: yes/true/t/1 are true, anything else false."""
        value = self.args.get(name)
        return default if value is None else value.lower() in ("yes", "true", "t", "1")

    def integer(self, name: str, default: int) -> int:
        """``request.args.get(name, default, type=int)``."""
        try:
            return int(self.args.get(name, default))
        except ValueError:
            return default

    def bounds(self) -> npt.NDArray[np.int64] | None:
        """The ``bounds`` box as a (2, 3) array [min, max] in voxels, or None."""
        if "bounds" not in self.args:
            return None
        text = self.args["bounds"]
        return np.array([part.split("-") for part in text.split("_")], dtype=np.int64).T


Handler = Callable[[PcgRequest], Response]


def pcg_endpoint(handler: Handler) -> CallerEndpoint:
    """Run a handler like a PyChunkedGraph view: gunzip its body, turn exceptions into error JSON.

    Handlers are synchronous (numpy work) and run in the thread pool.
    """

    @functools.wraps(handler)
    async def endpoint(request: Request, caller: Caller) -> Response:
        started = datetime.now(UTC).replace(tzinfo=None)
        clock = time.perf_counter()
        try:
            body = await request.body()
            if "gzip" in request.headers.get("content-encoding", "").lower():
                body = gzip.decompress(body)
            parsed = PcgRequest(
                request.query_params,
                body,
                caller,
                request.path_params,
                str(request.base_url).rstrip("/"),
            )
            return await run_in_threadpool(handler, parsed)
        except PcgApiError as error:
            return pcg_error(started, clock, error.status, str(error))
        except Exception as error:  # the servers answer every failure with JSON
            lines = traceback.format_exception(error)
            return pcg_error(started, clock, 500, str(error), lines)

    return endpoint


def pcg_error(
    started: datetime, clock: float, status: int, message: str, lines: list[str] | None = None
) -> Response:
    body: dict[str, Any] = {
        "timestamp": str(started),
        "duration": (time.perf_counter() - clock) * 1000,
        "code": status,
        "message": message,
    }
    if lines is not None:
        body["traceback"] = lines
    return pcg_json(body, status=status)


def gzip_when_accepted(endpoint: Endpoint) -> Endpoint:
    """The servers' ``after_request``: gzip 2xx bodies when the client accepts gzip."""

    @functools.wraps(endpoint)
    async def compressing(request: Request) -> Response:
        response = await endpoint(request)
        accepted = "gzip" in request.headers.get("accept-encoding", "").lower()
        if (
            not accepted
            or not 200 <= response.status_code < 300
            or "content-encoding" in response.headers
        ):
            return response
        response.body = gzip.compress(response.body, compresslevel=FAST_GZIP_LEVEL)
        response.headers["Content-Encoding"] = "gzip"
        response.headers["Vary"] = "Accept-Encoding"
        response.headers["Content-Length"] = str(len(response.body))
        return response

    return compressing
