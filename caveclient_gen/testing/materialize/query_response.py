"""Query answers of the materialization service, byte for byte as its response builder makes them.

* Arrow: one IPC *stream* holding one record batch made from the DataFrame (with its ``pandas``
  metadata), labelled with the literal media type ``data.arrow``; its buffers are compressed
  inside the stream with LZ4_FRAME when ``Accept-Encoding`` names ``lz4``, else ZSTD when it
  names ``zstd`` (unless ``ipc_compress`` is off).
* JSON: ``DataFrame.to_json(orient="records")`` as ``application/json``.
* Headers: one ``Warning`` line per warning (newlines made spaces), three ``dataframe_resolution``
  lines, and ``column_names`` as the Python ``repr`` of a dict.
* The whole body is gzipped (``Content-Encoding: gzip``) only when ``Accept-Encoding`` contains
  ``gzip``, as the service's after-request step does for 2xx answers.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from starlette.requests import Request
from starlette.responses import Response

ARROW_MEDIA_TYPE = "data.arrow"
JSON_MEDIA_TYPE = "application/json"
ARROW_FORMAT_NOTICE = (
    "Response is in pyarrow IPC format. If you encounter a parsing error, please upgrade "
    "CAVEClient to >=5.9.0 with: pip install --upgrade caveclient. To suppress this warning, "
    "pass arrow_format=True in your query parameters."
)
_GZIP_LEVEL = 6

Header = tuple[bytes, bytes]


def _header(name: str, value: object) -> Header:
    return name.lower().encode("latin-1"), str(value).encode("latin-1")


def _warning_lines(warnings: Iterable[str]) -> list[Header]:
    return [_header("Warning", text.replace("\n", " ")) for text in warnings]


def ipc_codec(accept_encoding: str, ipc_compress: bool) -> str | None:
    """The in-stream codec the server picks from ``Accept-Encoding`` (case-sensitive, like it)."""
    if not ipc_compress:
        return None
    if "lz4" in accept_encoding:
        return "lz4"
    if "zstd" in accept_encoding:
        return "zstd"
    return None


def arrow_stream(frame: pd.DataFrame, codec: str | None) -> bytes:
    import pyarrow as pa

    batch = pa.RecordBatch.from_pandas(frame)
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=codec)
    with pa.ipc.new_stream(sink, batch.schema, options=options) as writer:
        writer.write_batch(batch)
    body: bytes = sink.getvalue().to_pybytes()
    return body


def gzip_if_accepted(request: Request, body: bytes, headers: list[Header]) -> bytes:
    """Gzip a successful body when the client accepts gzip, fixing up the headers in place."""
    if "gzip" not in request.headers.get("accept-encoding", "").lower():
        return body
    compressed = gzip.compress(body, compresslevel=_GZIP_LEVEL)
    headers[:] = [
        _header("Content-Length", len(compressed)) if name == b"content-length" else (name, value)
        for name, value in headers
    ]
    headers.extend([_header("Content-Encoding", "gzip"), _header("Vary", "Accept-Encoding")])
    return compressed


def _raw_response(body: bytes, headers: list[Header], status: int = 200) -> Response:
    response = Response(body, status)
    response.raw_headers = headers
    return response


def query_response(
    request: Request,
    frame: pd.DataFrame,
    *,
    warnings: Sequence[str],
    desired_resolution: Sequence[float] | None,
    column_names: Mapping[str, Any],
    return_pyarrow: bool,
    arrow_format: bool,
    ipc_compress: bool,
) -> Response:
    """The answer of a simple, join, view or live query."""
    metadata_headers = _warning_lines(warnings)
    if desired_resolution is not None:
        metadata_headers.extend(
            _header("dataframe_resolution", float(value)) for value in desired_resolution
        )
    metadata_headers.append(_header("column_names", repr(dict(column_names))))
    accept_encoding = request.headers.get("accept-encoding", "")
    if return_pyarrow:
        if not arrow_format:
            # The compatibility notice replaces every other warning; it takes the warnings'
            # place in the header map, or comes last when there were none.
            others = [header for header in metadata_headers if header[0] != b"warning"]
            notice = _warning_lines([ARROW_FORMAT_NOTICE])
            metadata_headers = [*notice, *others] if warnings else [*others, *notice]
        body = arrow_stream(frame, ipc_codec(accept_encoding, ipc_compress))
        headers = [
            _header("Content-Type", ARROW_MEDIA_TYPE),
            _header("Content-Length", len(body)),
            _header("Cache-Control", "no-cache"),
            *metadata_headers,
        ]
    else:
        body = _epoch_milliseconds(frame).to_json(orient="records").encode()
        headers = [
            *metadata_headers,
            _header("Content-Type", JSON_MEDIA_TYPE),
            _header("Content-Length", len(body)),
        ]
    body = gzip_if_accepted(request, body, headers)
    return _raw_response(body, headers)


def _epoch_milliseconds(frame: pd.DataFrame) -> pd.DataFrame:
    """Datetimes as the server's pandas writes them in JSON: epoch milliseconds.

    Converted up front because this pandas deprecates its own epoch formatting.
    """
    stamps = [name for name in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[name])]
    if not stamps:
        return frame
    converted = frame.copy()
    for name in stamps:
        values = frame[name]
        missing = values.isna().to_numpy()
        nanoseconds = values.dt.as_unit("ns").to_numpy(dtype="datetime64[ns]").view("int64")
        converted[name] = pd.arrays.IntegerArray(nanoseconds // 1_000_000, missing)
    return converted


def json_document_response(request: Request, text: str) -> Response:
    """A JSON text the service sends through its after-request step (segment properties)."""
    body = text.encode()
    headers = [_header("Content-Type", JSON_MEDIA_TYPE), _header("Content-Length", len(body))]
    body = gzip_if_accepted(request, body, headers)
    return _raw_response(body, headers)
