"""Reading materialization requests as the server does: the flask-restx argument parser of the
query routes, and the marshmallow schemas of the request bodies.

Every rejection is an :class:`~..server.restx_errors.AbortError` with status 400, which the service
turns into its 500 answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ..annotation.body_schemas import AwareDateTime, Dict, Float, Int, List, Schema, Str
from ..server.restx_errors import bad_request
from .table_queries import FILTER_KEYS


@dataclass(frozen=True)
class QueryArguments:
    """The query-string arguments of the query routes (``query_parser``)."""

    return_pyarrow: bool = True
    arrow_format: bool = False
    split_positions: bool = False
    count: bool = False
    random_sample: int | None = None
    allow_missing_lookups: bool = False
    allow_invalid_root_ids: bool = False
    ipc_compress: bool = True
    direct_sql_pandas: bool = False


def parse_boolean(raw: str) -> bool:
    """flask-restx ``inputs.boolean``: an empty value is false."""
    value = raw.lower()
    if value in ("true", "1", "on"):
        return True
    if value in ("", "false", "0"):
        return False
    raise bad_request()


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise bad_request() from None
    if value < 1:
        raise bad_request()
    return value


def query_arguments(request: Request) -> QueryArguments:
    """Parse the v3 query parser's arguments (the v2 parser reads a subset of them)."""
    values: dict[str, Any] = {}
    params = request.query_params
    for name in (
        "return_pyarrow",
        "arrow_format",
        "split_positions",
        "count",
        "allow_missing_lookups",
        "allow_invalid_root_ids",
        "ipc_compress",
        "direct_sql_pandas",
    ):
        if name in params:
            values[name] = parse_boolean(params[name])
    if "random_sample" in params:
        values["random_sample"] = _positive(params["random_sample"])
    return QueryArguments(**values)


def optional_boolean(request: Request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    return default if raw is None else parse_boolean(raw)


_FILTERS = {name: Dict() for name in FILTER_KEYS}
_RESOLUTION = List(Float(), length=3)

SIMPLE_QUERY_SCHEMA = Schema(
    {
        **_FILTERS,
        "select_columns": List(Str()),
        "offset": Int(),
        "limit": Int(),
        "desired_resolution": _RESOLUTION,
    }
)
COMPLEX_QUERY_SCHEMA = Schema(
    {
        "tables": List(List(Str(), length=2)),
        **_FILTERS,
        "select_columns": List(Str()),
        "select_column_map": Dict(),
        "offset": Int(),
        "limit": Int(),
        "suffixes": List(Str()),
        "suffix_map": Dict(),
        "desired_resolution": _RESOLUTION,
    },
    required=frozenset({"tables"}),
)
LIVE_QUERY_SCHEMA = Schema(
    {
        "table": Str(),
        "timestamp": AwareDateTime(),
        "join_tables": List(List(Str())),
        **_FILTERS,
        "select_columns": Dict(),
        "offset": Int(),
        "limit": Int(),
        "suffixes": Dict(),
        "desired_resolution": _RESOLUTION,
    },
    required=frozenset({"table", "timestamp"}),
)
ANNOTATION_ID_LIST_SCHEMA = Schema({"annotation_ids": List(Int())})
