"""The POST of a materialization query, with the Accept-Encoding that gets Arrow compressed once.

The server compresses Arrow buffers *inside* the IPC stream when `Accept-Encoding` names zstd or lz4,
and gzips the whole body when it names gzip. The session's default (`gzip, deflate`) would therefore
get an uncompressed stream wrapped in gzip; Arrow queries ask for `zstd` only, JSON ones for `gzip`.

The body's filter dictionaries are handed to the generated models as-is (they were checked in
`_query_filters`): re-parsing a million ids value by value through the models would cost more than
the query itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeVar

from caveclient_gen_api.materialize.api.queries import join_query_v3, live_live_query, query_table_v3
from caveclient_gen_api.materialize.api.views import query_view
from caveclient_gen_api.materialize.client import Client as MaterializeAPI
from caveclient_gen_api.materialize.models.complex_query_schema import ComplexQuerySchema
from caveclient_gen_api.materialize.models.simple_query_schema import SimpleQuerySchema
from caveclient_gen_api.materialize.models.v2_query_schema import V2QuerySchema

from .._http.plan import Request, read

QueryRoute = Literal["table", "join", "view", "live"]
Body = TypeVar("Body", SimpleQuerySchema, ComplexQuerySchema, V2QuerySchema)
ARROW_ENCODING = "zstd"
JSON_ENCODING = "gzip"


def query_request(
    api: MaterializeAPI,
    route: QueryRoute,
    *,
    datastack: str,
    version: int | None,
    name: str,
    body: dict[str, Any],
    params: dict[str, Any],
    arrow: bool,
) -> Request[Any]:
    """A read-only (retryable) query request of one of the four query routes."""
    if route in ("table", "join", "view") and version is None:
        raise ValueError(f"a {route} query needs a version")
    arguments: dict[str, Any] = dict(
        params,
        return_pyarrow=arrow,
        arrow_format=arrow,
        direct_sql_pandas=True,
        accept_encoding=ARROW_ENCODING if arrow else JSON_ENCODING,
    )
    if route == "table":
        assert version is not None
        simple = _with_fields(SimpleQuerySchema(), body)
        return read(
            query_table_v3.sync_detailed,
            query_table_v3.asyncio_detailed,
            datastack,
            version,
            name,
            client=api,
            body=simple,
            **arguments,
        )
    if route == "view":
        assert version is not None
        simple = _with_fields(SimpleQuerySchema(), body)
        return read(
            query_view.sync_detailed,
            query_view.asyncio_detailed,
            datastack,
            version,
            name,
            client=api,
            body=simple,
            **arguments,
        )
    if route == "join":
        assert version is not None
        rest = {key: value for key, value in body.items() if key != "tables"}
        complex_query = _with_fields(ComplexQuerySchema(tables=body["tables"]), rest)
        return read(
            join_query_v3.sync_detailed,
            join_query_v3.asyncio_detailed,
            datastack,
            version,
            client=api,
            body=complex_query,
            **arguments,
        )
    rest = {key: value for key, value in body.items() if key not in ("table", "timestamp")}
    timestamp = body["timestamp"]
    assert isinstance(timestamp, datetime)
    live = _with_fields(V2QuerySchema(table=body["table"], timestamp=timestamp), rest)
    return read(
        live_live_query.sync_detailed,
        live_live_query.asyncio_detailed,
        datastack,
        client=api,
        body=live,
        **arguments,
    )


def _with_fields(model: Body, fields: dict[str, Any]) -> Body:
    model.additional_properties = dict(fields)
    return model
