"""Query answers of the materialization service turned into DataFrames.

The server answers a query with an Arrow IPC stream (media type `data.arrow`, buffers compressed inside
the stream with zstd or lz4) or, when asked, with JSON records. Arrow is decoded straight from the
response bytes: no JSON detour, no intermediate copies beyond the decompression itself. Then:

* dtypes are those the stream's pandas metadata asks for (nullable Int64/boolean/Float32/string), as
  caveclient's `read_pandas` gives them; ids stay exact (uint64 columns never become Int64, integer
  columns with missing values never floats); timestamps become timezone-aware UTC;
* positions arrive split in `<column>_x/_y/_z` columns. Unless split positions are asked for, each
  triple becomes one column at the end of the frame (as caveclient places it) whose cells are int64
  (float64 when converted) rows of a single (N, 3) array, assembled with numpy;
* the `Warning` headers (one per warning) become `CAVEServerWarning`s; `dataframe_resolution` tells the
  resolution positions were converted to; `column_names` (a Python repr) maps table columns to result
  columns.
"""

from __future__ import annotations

import ast
import json
import logging
import math
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._http.redact import redact_text
from ..errors import CAVEServerWarning, UnexpectedResponseError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd
    import pyarrow as pa

logger = logging.getLogger("caveclient_gen")

ARROW_MEDIA_TYPES = frozenset({"data.arrow", "application/vnd.apache.arrow.stream"})
ARROW_STREAM_START = b"\xff\xff\xff\xff"
"""An Arrow IPC stream starts with the continuation marker."""
AXES = ("x", "y", "z")

RecordList = list[dict[str, Any]]


# ---------------------------------------------------------------- headers


@dataclass(frozen=True)
class QueryHeaders:
    """What the headers of a query answer say about its body."""

    warnings: tuple[str, ...]
    dataframe_resolution: list[float] | None
    """The resolution (nm) positions were converted to by the server, if it converted them."""
    column_names: str | None
    """The server's `column_names` header verbatim: a Python repr of table -> {column: result column}."""


def query_headers(headers: Any) -> QueryHeaders:
    """Read the headers of a query answer (an httpx.Headers, or any mapping of header values)."""
    return QueryHeaders(
        warnings=tuple(header_values(headers, "warning")),
        dataframe_resolution=parse_resolution(header_values(headers, "dataframe_resolution")),
        column_names=next(iter(header_values(headers, "column_names")), None),
    )


def header_values(headers: Any, name: str) -> list[str]:
    """Every value of a repeated header, one entry per header line."""
    if hasattr(headers, "get_list"):
        return [str(value) for value in headers.get_list(name)]
    if isinstance(headers, Mapping):
        for key, value in headers.items():
            if str(key).lower() == name:
                return [str(value)]
    return []


def parse_resolution(values: Sequence[str]) -> list[float] | None:
    """`dataframe_resolution` comes as three header lines, or as one line folded with ", "."""
    parts = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if not parts:
        return None
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        logger.debug("ignoring unreadable dataframe_resolution header %r", values)
        return None
    return numbers if len(numbers) == 3 else None


def parse_column_names(text: str | None) -> dict[str, dict[str, str]]:
    """The `column_names` header as table -> {table column -> result column} ({} if unreadable)."""
    if not text:
        return {}
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return {}
    if not isinstance(value, dict):
        return {}
    return {
        str(table): {str(k): str(v) for k, v in columns.items()}
        for table, columns in value.items()
        if isinstance(columns, dict)
    }


def raise_server_warnings(messages: Sequence[str], log_warning: bool = True) -> None:
    """Raise each server warning as a CAVEServerWarning (with `log_warning=False`, log them at DEBUG).

    The warning is attributed to the caller's own line (the first frame outside caveclient_gen), so
    Python's once-per-location filter shows it for each line of user code that gets one.
    """
    for text in messages:
        message = redact_text(text)
        if log_warning:
            warnings.warn(message, CAVEServerWarning, stacklevel=_caller_stacklevel())
        else:
            logger.debug("server warning (silenced): %s", message)


def _caller_stacklevel() -> int:
    """The `stacklevel` of the first frame outside caveclient_gen, seen from raise_server_warnings."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame = sys._getframe(2)  # the caller of raise_server_warnings
    level = 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


# ---------------------------------------------------------------- bodies


def is_arrow(content: bytes, content_type: str | None) -> bool:
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type in ARROW_MEDIA_TYPES or content[:4] == ARROW_STREAM_START


def decode_query_body(content: bytes, content_type: str | None) -> pd.DataFrame:
    """The rows of a query answer, Arrow or JSON records, positions still split."""
    if is_arrow(content, content_type):
        return arrow_to_frame(content)
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type.endswith("json") or content[:1] in (b"[", b"{"):
        return records_to_frame(json_records(content))
    raise UnexpectedResponseError(
        f"a query answered with {content_type!r}, neither an Arrow stream nor JSON records"
    )


def arrow_to_frame(content: bytes) -> pd.DataFrame:
    """Decode an Arrow IPC stream from the response bytes (zero-copy where Arrow allows)."""
    import pyarrow as pa

    try:
        with pa.ipc.open_stream(pa.py_buffer(content)) as reader:
            table = reader.read_all()
    except (pa.ArrowInvalid, OSError) as error:
        raise UnexpectedResponseError(
            f"the query answer is not a readable Arrow stream: {error}"
        ) from None
    return arrow_table_to_frame(table)


def arrow_table_to_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as a DataFrame with the dtypes its pandas metadata asks for, as caveclient's.

    The server's stream carries pandas metadata asking for nullable dtypes (Int64, boolean,
    Float32, string); they are honoured, as `pyarrow.ipc.open_stream(...).read_pandas()` does in
    caveclient, so both clients give frames of the same dtypes. Two exceptions keep ids and times
    exact: an unsigned 64-bit column stays uint64 (UInt64 if it has missing values; never Int64,
    which would wrap ids above 2**63), and naive timestamps (the server writes UTC) become
    timezone-aware UTC.
    """
    import pyarrow as pa

    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is None:
            # The server writes naive UTC; declaring the zone is a metadata change, not a copy.
            column = table.column(index)
            table = table.set_column(
                index, field.name, column.cast(pa.timestamp(field.type.unit, "UTC"))
            )
    frame: pd.DataFrame = table.to_pandas(types_mapper=_exact_dtype)
    for index, field in enumerate(table.schema):
        column = frame[field.name]
        if pa.types.is_uint64(field.type) and not column.hasnans:
            frame[field.name] = column.to_numpy(dtype="uint64")
        elif (
            pa.types.is_integer(field.type) or pa.types.is_boolean(field.type)
        ) and column.dtype.kind in "fO":
            # Without metadata, pandas makes integers with missing values floats: never for ids.
            frame[field.name] = table.column(index).to_pandas(types_mapper=_nullable_dtype)
    return frame


def _nullable_dtype(arrow_type: pa.DataType) -> Any:
    """The pandas nullable dtype of an Arrow integer or boolean type (Int64, UInt64, boolean)."""
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    if not pa.types.is_integer(arrow_type):
        return None
    name = str(arrow_type)  # "int64", "uint32", ...
    return pd.api.types.pandas_dtype(name[0].upper() + name[1:] if name[0] == "i" else "UI" + name[2:])


def _exact_dtype(arrow_type: pa.DataType) -> Any:
    """UInt64 for unsigned 64-bit columns whatever the metadata says; None (the default) otherwise."""
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_uint64(arrow_type):
        return pd.UInt64Dtype()
    return None


def json_records(content: bytes) -> RecordList:
    """A JSON list of records (ids stay exact Python ints)."""
    try:
        value = json.loads(content)
    except ValueError as error:
        raise UnexpectedResponseError(f"the query answer is not JSON: {error}") from None
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        raise UnexpectedResponseError("the query answer is not a JSON list of records")
    return value


def records_to_frame(records: RecordList) -> pd.DataFrame:
    """JSON records as a DataFrame; integer columns stay int64 (uint64 when ids exceed int64)."""
    import pandas as pd

    frame: pd.DataFrame = pd.DataFrame.from_records(records)
    return frame


# ---------------------------------------------------------------- positions


def position_groups(columns: Sequence[str]) -> list[tuple[str, int]]:
    """(base name, index of its `_x` column) of every `<base>_x, <base>_y, <base>_z` run of columns."""
    groups = []
    names = list(columns)
    index = 0
    while index + 2 < len(names):
        first = str(names[index])
        if first.endswith("_x"):
            base = first[:-2]
            if names[index + 1] == f"{base}_y" and names[index + 2] == f"{base}_z":
                groups.append((base, index))
                index += 3
                continue
        index += 1
    return groups


def rescale_positions(
    frame: pd.DataFrame, given: Sequence[float], desired: Sequence[float]
) -> pd.DataFrame:
    """Split position columns converted from `given` to `desired` resolution (nm per unit)."""
    factors = [float(g) / float(d) for g, d in zip(given, desired, strict=True)]
    if all(math.isclose(factor, 1.0) for factor in factors):
        return frame
    result = frame.copy(deep=False)
    for base, _ in position_groups(list(frame.columns)):
        for axis, factor in zip(AXES, factors, strict=True):
            name = f"{base}_{axis}"
            result[name] = frame[name].to_numpy() * factor
    return result


def merge_position_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Each `<base>_x/_y/_z` triple replaced by one `<base>` column of [x, y, z] arrays, as caveclient.

    As caveclient 8.2.1 does, the merged columns go to the end of the frame (in the order their
    triples appeared) and their cells are int64 arrays for integer positions, float64 arrays for
    converted ones. The three columns are stacked once into an (N, 3) array; each cell is a view of
    one of its rows, so `np.vstack(df[base].to_numpy())` gives the same array back. A triple with
    missing values gets cells built one by one, as caveclient builds them. In a frame without rows
    the merged columns are float64, as caveclient's (pandas' dtype for an empty list).
    """
    import numpy as np
    import pandas as pd

    names = list(frame.columns)
    groups = {index: base for base, index in position_groups(names)}
    if not groups:
        return frame
    columns: dict[str, Any] = {}
    merged: dict[str, Any] = {}
    index = 0
    while index < len(names):
        if index in groups:
            triple = [frame[names[index + offset]] for offset in range(3)]
            merged[groups[index]] = (
                _position_cells(triple) if len(frame) else np.empty(0, dtype=np.float64)
            )
            index += 3
        else:
            columns[names[index]] = frame[names[index]]
            index += 1
    columns.update(merged)
    result = pd.DataFrame(columns, index=frame.index, copy=False)
    result.attrs.update(frame.attrs)
    return result


def _position_cells(triple: list[pd.Series[Any]]) -> npt.NDArray[np.object_]:
    """The cells of one merged position column: int64 rows for integers, float64 otherwise."""
    import numpy as np

    if any(column.hasnans for column in triple):
        rows = zip(*(column.tolist() for column in triple), strict=True)
        cells = np.empty(len(triple[0]), dtype=object)
        cells[:] = [np.array(row) for row in rows]
        return cells
    integer = all(column.dtype.kind in "iu" for column in triple)
    dtype = np.int64 if integer else np.float64
    return row_views(np.column_stack([column.to_numpy(dtype=dtype) for column in triple]))


def row_views(array: npt.NDArray[Any]) -> npt.NDArray[np.object_]:
    """An object array whose cells are the rows of a 2-D array (views, not copies)."""
    import numpy as np

    cells = np.empty(len(array), dtype=object)
    cells[:] = list(array)
    return cells


def stack_positions(values: Any) -> npt.NDArray[Any]:
    """An (N, 3) array from a column of [x, y, z] cells (the inverse of merging)."""
    import numpy as np

    cells = list(values)
    if not cells:
        return np.zeros((0, 3))
    return np.vstack(cells)
