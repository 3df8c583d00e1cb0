"""Skeleton service responses for one skeleton in each output format, and bulk payload strings."""

from __future__ import annotations

import binascii
import gzip
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from ..server.pcg_wire import FAST_GZIP_LEVEL
from ..server.wire import flask_json
from . import formats
from .build import Skeleton

OCTET_STREAM = "application/octet-stream"
SINGLE_FORMATS = (
    "none",
    "flatdict",
    "json",
    "jsoncompressed",
    "arrays",
    "arrayscompressed",
    "precomputed",
    "h5",
    "swc",
    "swccompressed",
)
BULK_FORMATS = ("flatdict", "json", "swc", "jsoncompressed", "swccompressed")
# The headers the service puts on every skeleton it sends (``_response_headers``).
SKELETON_HEADERS: Mapping[str, str] = {
    "access-control-allow-credentials": "true",
    "access-control-expose-headers": (
        "Cache-Control, Content-Disposition, Content-Encoding, Content-Length, Content-Type, Date, "
        "ETag, Server, Vary, X-Content-Type-Options, X-Frame-Options, X-Powered-By, X-XSS-Protection"
    ),
    "content-disposition": "attachment",
}


def cache_file_name(root_id: int | str, datastack: str, version: int, suffix: str) -> str:
    return f"skeleton__v{version}__rid-{root_id}__ds-{datastack}__res-1x1x1__cs-True__cr-7500.{suffix}"


def _gzip_if_accepted(request: Request, response: Response) -> Response:
    """The service's ``_after_request``, applied to the uncompressed formats."""
    if (
        "gzip" in request.headers.get("accept-encoding", "").lower()
        and 200 <= response.status_code < 300
    ):
        response.body = gzip.compress(response.body, compresslevel=FAST_GZIP_LEVEL)
        response.headers["Content-Encoding"] = "gzip"
        response.headers["Vary"] = "Accept-Encoding"
        response.headers["Content-Length"] = str(len(response.body))
    return response


def render(
    request: Request, skeleton: Skeleton, version: int, output_format: str, datastack: str
) -> Response:
    """One skeleton in ``output_format`` (any of SINGLE_FORMATS except none and h5)."""
    if output_format == "flatdict":
        body = formats.compress_dict(formats.flat_dict(skeleton, version, datastack))
        return Response(body, headers=SKELETON_HEADERS, media_type=OCTET_STREAM)
    if output_format == "jsoncompressed":
        body = formats.compress_dict(formats.meshparty_json(skeleton, version, datastack))
        return Response(body, headers=SKELETON_HEADERS, media_type=OCTET_STREAM)
    if output_format == "arrayscompressed":
        body = formats.compress_dict(formats.arrays(skeleton, version))
        return Response(body, headers=SKELETON_HEADERS, media_type=OCTET_STREAM)
    if output_format == "swccompressed":
        body = formats.gzip_bytes(formats.swc_text(skeleton).encode())
        return Response(body, headers=SKELETON_HEADERS, media_type=OCTET_STREAM)
    if output_format == "json":
        document = formats.meshparty_json(skeleton, version, datastack)
        return _gzip_if_accepted(request, flask_json(document, headers=SKELETON_HEADERS))
    if output_format == "arrays":
        document = formats.arrays(skeleton, version)
        return _gzip_if_accepted(request, flask_json(document, headers=SKELETON_HEADERS))
    if output_format == "precomputed":
        body = formats.precomputed(skeleton, version)
        return _gzip_if_accepted(
            request, Response(body, headers=SKELETON_HEADERS, media_type=OCTET_STREAM)
        )
    if output_format == "swc":
        name = cache_file_name(skeleton.root_id, datastack, formats.LATEST_VERSION, "swc")
        headers = {"Content-Disposition": f"attachment; filename={name}"}
        response = Response(
            formats.swc_text(skeleton).encode(), headers=headers, media_type=OCTET_STREAM
        )
        return _gzip_if_accepted(request, response)
    raise ValueError(f"Unknown output format: {output_format}")


def bulk_payload(skeleton: Skeleton, version: int, output_format: str, datastack: str) -> str:
    """A bulk answer's value: hex of gzip JSON, or hex of the plain SWC text (not compressed)."""
    if output_format == "flatdict":
        data = formats.compress_dict(formats.flat_dict(skeleton, version, datastack))
    elif output_format == "jsoncompressed":
        data = formats.compress_dict(formats.meshparty_json(skeleton, version, datastack))
    else:
        data = formats.swc_text(skeleton).encode()
    return binascii.hexlify(data).decode("ascii")
