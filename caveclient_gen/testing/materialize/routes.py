"""The materialization service (MaterializationEngine 5.26.4): versions, tables, queries, views.

API v2 and v3 live side by side under ``/materialize/api``. Every route needs ``view`` on the
datastack (the two workflow triggers need ``edit``); anything a route aborts with comes back as
HTTP 500 with the original status inside ``message``, except the few answers the routes return
with a status (bare JSON strings with 404). Query results are Arrow IPC streams labelled
``data.arrow`` or JSON records. The data comes from the deployment's shared annotation tables,
seen at each version's timestamp (or any moment, for live queries) with root ids from the
segmentation at that moment.

Queries are computed on worker threads, as the real service answers concurrent queries with
several workers. Quirk kept from the real server: the v2 query routes run the query and then
fail with a 500 (``'ipc_compress'``), because their argument parser lacks an argument the shared
response builder reads.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from ..annotation.body_schemas import Schema, forced_json, load_body
from ..auth.guard import AuthGuard, Caller
from ..server.restx_errors import AbortError, answer_errors_like_restx
from ..server.wire import flask_error_page, flask_json, restx_json
from ..world.deployment import Deployment
from .neuroglancer import NeuroglancerDocuments, TooLargeError, properties_json, unique_string_values
from .queries import MaterializeQueries, QueryAnswer, shares_group_with
from .query_response import json_document_response, query_response
from .requests import (
    ANNOTATION_ID_LIST_SCHEMA,
    COMPLEX_QUERY_SCHEMA,
    LIVE_QUERY_SCHEMA,
    SIMPLE_QUERY_SCHEMA,
    QueryArguments,
    optional_boolean,
    query_arguments,
)
from .scans import QueryRateLimiter, rate_limited

PREFIX = "/materialize"
SERVER_VERSION = "5.26.4"
API_VERSIONS = [2, 3]
_UNSIGNED = re.compile(r"\d+")
_SIGNED = re.compile(r"-?\d+")

Endpoint = Callable[[Request], Awaitable[Response]]


def _with_version(endpoint: Endpoint, *, signed: bool) -> Endpoint:
    """Flask's ``int`` converters: a version that is not a number matches no route at all."""
    pattern = _SIGNED if signed else _UNSIGNED

    async def routed(request: Request) -> Response:
        if not pattern.fullmatch(request.path_params["version"]):
            return flask_error_page(404)
        return await endpoint(request)

    return routed


def _version(request: Request) -> int:
    return int(request.path_params["version"])


def _answer(request: Request, answer: QueryAnswer, args: QueryArguments) -> Response:
    return query_response(
        request,
        answer.frame,
        warnings=answer.warnings,
        desired_resolution=answer.desired_resolution,
        column_names=answer.column_names,
        return_pyarrow=args.return_pyarrow,
        arrow_format=args.arrow_format,
        ipc_compress=args.ipc_compress,
    )


def _v2_arguments(request: Request) -> QueryArguments:
    """The v2 parser: only five arguments; the rest keep their defaults."""
    parsed = query_arguments(request)
    return QueryArguments(
        return_pyarrow=parsed.return_pyarrow,
        arrow_format=parsed.arrow_format,
        split_positions=parsed.split_positions,
        count=parsed.count,
        random_sample=parsed.random_sample,
    )


def create_router(deployment: Deployment, guard: AuthGuard) -> Router:
    def queries() -> MaterializeQueries:
        return deployment.component(MaterializeQueries)

    def documents() -> NeuroglancerDocuments:
        return NeuroglancerDocuments(queries())

    view = guard.requires_permission("view", namespace="datastack", table_param="datastack_name")
    edit = guard.requires_permission("edit", namespace="datastack", table_param="datastack_name")
    errors = answer_errors_like_restx(service="materializationengine", module="blueprints/client/api2")
    limited = rate_limited(lambda: deployment.component(QueryRateLimiter))

    async def versioned_query(request: Request, schema: Schema) -> tuple[str, int, dict[str, Any]]:
        """The datastack and version of a query of one version (checked first), and its body."""
        datastack, version = request.path_params["datastack_name"], _version(request)
        queries().validate_datastack(datastack, version)
        return datastack, version, load_body(await forced_json(request), schema)

    # -- service probes --------------------------------------------------------------------

    async def server_version(request: Request) -> Response:
        return flask_json(SERVER_VERSION)

    async def api_versions(request: Request) -> Response:
        return flask_json(API_VERSIONS)

    # -- versions --------------------------------------------------------------------------

    def version_numbers(datastack: str, include_expired: bool) -> list[int]:
        versions = queries().data.timeline.versions(datastack)
        return [v.version for v in versions if v.valid or include_expired]

    @view
    @errors
    async def versions_v2(request: Request, caller: Caller) -> Response:
        return restx_json(version_numbers(request.path_params["datastack_name"], False))

    @view
    @errors
    async def versions_v3(request: Request, caller: Caller) -> Response:
        expired = optional_boolean(request, "expired", False)
        return restx_json(version_numbers(request.path_params["datastack_name"], expired))

    @view
    @errors
    async def version_metadata(request: Request, caller: Caller) -> Response:
        found = queries().data.timeline.version(request.path_params["datastack_name"], _version(request))
        if found is None:
            return restx_json("No version found", 404)
        return restx_json(found.record())

    def all_version_metadata(datastack: str, include_expired: bool) -> Response:
        versions = queries().data.timeline.versions(datastack)
        records = [v.record() for v in versions if v.valid or include_expired]
        if not records:
            return restx_json("No valid versions found", 404)
        return restx_json(records)

    @view
    @errors
    async def versions_metadata_v2(request: Request, caller: Caller) -> Response:
        return all_version_metadata(request.path_params["datastack_name"], False)

    @view
    @errors
    async def versions_metadata_v3(request: Request, caller: Caller) -> Response:
        expired = optional_boolean(request, "expired", False)
        return all_version_metadata(request.path_params["datastack_name"], expired)

    # -- tables ----------------------------------------------------------------------------

    @view
    @errors
    async def tables_v2(request: Request, caller: Caller) -> Response:
        datastack, version = request.path_params["datastack_name"], _version(request)
        data = queries().data
        found = data.timeline.version(datastack, version)
        if found is None:
            raise AbortError(404, f"version {version} does not exist for {datastack} ")
        return restx_json([table.name for table in data.version_tables(datastack, found)])

    @view
    @errors
    async def tables_v3(request: Request, caller: Caller) -> Response:
        # Outside our spec (the client uses the v2 route); answers null with 404 when empty.
        datastack, version = request.path_params["datastack_name"], _version(request)
        data = queries().data
        found = data.timeline.version(datastack, version)
        names = [] if found is None else [t.name for t in data.version_tables(datastack, found)]
        return restx_json(names) if names else restx_json(None, 404)

    @view
    @errors
    async def table_count(request: Request, caller: Caller) -> Response:
        datastack, version = request.path_params["datastack_name"], _version(request)
        table_name = request.path_params["table_name"]
        handler = queries()
        handler.validate_datastack(datastack, version)
        found = handler.validate_tables(datastack, version, [table_name])
        handler.version_database(datastack, found)
        table = handler.data.store.get(handler.data.aligned_volume(datastack), table_name)
        return restx_json(handler.data.row_count(table, found.time_stamp))

    def table_metadata(
        datastack: str, version_number: int, table_name: str, *, v2: bool
    ) -> dict[str, Any] | None:
        data = queries().data
        version = data.timeline.version(datastack, version_number)
        table = None if version is None else data.version_table(datastack, version, table_name)
        if version is None or table is None:
            return None
        record = {
            "id": table.metadata.id,
            "aligned_volume": data.aligned_volume(datastack),
            "schema": table.metadata.schema_type,
            "table_name": table.name,
            "valid": True,
            "created": table.metadata.created,
        }
        merged = table.merged_metadata()
        merged.pop("id")
        merged.pop("deleted")
        if not v2:
            annotation_table = merged.pop("annotation_table", None)
            if annotation_table:
                merged["table_name"] = annotation_table
        record.update(merged)
        return _jsonable(record)

    @view
    @errors
    async def table_metadata_v2(request: Request, caller: Caller) -> Response:
        datastack, version = request.path_params["datastack_name"], _version(request)
        table_name = request.path_params["table_name"]
        queries().validate_tables(datastack, version, [table_name])
        record = table_metadata(datastack, version, table_name, v2=True)
        assert record is not None
        headers = {}
        if record.get("notice_text") is not None:
            headers["Warning"] = f"Table Owner Notice on {table_name}: {record['notice_text']}"
        return restx_json(record, headers=headers)

    @view
    @errors
    async def table_metadata_v3(request: Request, caller: Caller) -> Response:
        datastack, version = request.path_params["datastack_name"], _version(request)
        table_name = request.path_params["table_name"]
        queries().validate_datastack(datastack, version)
        record = table_metadata(datastack, version, table_name, v2=False)
        if record is None:
            return restx_json(
                f"No table named '{table_name}' found for version '{version}' in datastack "
                f"'{datastack}'",
                404,
            )
        return restx_json(record)

    @view
    @errors
    async def tables_metadata(request: Request, caller: Caller) -> Response:
        datastack, version = request.path_params["datastack_name"], _version(request)
        handler = queries()
        handler.validate_datastack(datastack, version)
        found = handler.data.timeline.version(datastack, version)
        tables = [] if found is None else handler.data.version_tables(datastack, found)
        records = [table_metadata(datastack, version, table.name, v2=False) for table in tables]
        if not records:
            return restx_json([], 404)
        return restx_json(records)

    @view
    @errors
    async def unique_strings(request: Request, caller: Caller) -> Response:
        datastack = request.path_params["datastack_name"]
        table_name = request.path_params["table_name"]
        data = queries().data
        table = data.store.find(data.aligned_volume(datastack), table_name)
        if table is None:
            raise KeyError(f"No table named '{table_name}' exists.")
        return restx_json(unique_string_values(table))

    # -- queries ---------------------------------------------------------------------------

    @view
    @limited
    @errors
    async def query_table_v2(request: Request, caller: Caller) -> Response:
        datastack, version, body = await versioned_query(request, SIMPLE_QUERY_SCHEMA)
        args = _v2_arguments(request)
        queries().simple_query(
            datastack,
            version,
            request.path_params["table_name"],
            args,
            body,
            caller,
            convert_positions=False,
        )
        raise KeyError("ipc_compress")

    @view
    @limited
    @errors
    async def query_table_v3(request: Request, caller: Caller) -> Response:
        datastack, version, body = await versioned_query(request, SIMPLE_QUERY_SCHEMA)
        args = query_arguments(request)
        answer = await run_in_threadpool(
            queries().simple_query,
            datastack,
            version,
            request.path_params["table_name"],
            args,
            body,
            caller,
            convert_positions=True,
        )
        return await run_in_threadpool(_answer, request, answer, args)

    @view
    @limited
    @errors
    async def join_query_v2(request: Request, caller: Caller) -> Response:
        datastack, version, body = await versioned_query(request, COMPLEX_QUERY_SCHEMA)
        queries().join_query(
            datastack, version, _v2_arguments(request), body, caller, convert_positions=False
        )
        raise KeyError("ipc_compress")

    @view
    @limited
    @errors
    async def join_query_v3(request: Request, caller: Caller) -> Response:
        datastack, version, body = await versioned_query(request, COMPLEX_QUERY_SCHEMA)
        args = query_arguments(request)
        answer = await run_in_threadpool(
            queries().join_query, datastack, version, args, body, caller, convert_positions=True
        )
        return await run_in_threadpool(_answer, request, answer, args)

    @view
    @limited
    @errors
    async def live_live_query(request: Request, caller: Caller) -> Response:
        datastack = request.path_params["datastack_name"]
        handler = queries()
        handler.validate_live_datastack(datastack)
        body = load_body(await forced_json(request), LIVE_QUERY_SCHEMA)
        args = query_arguments(request)
        answer = await run_in_threadpool(handler.live_query, datastack, args, body, caller)
        return await run_in_threadpool(_answer, request, answer, args)

    # -- views -----------------------------------------------------------------------------

    def view_database(datastack: str, version: int) -> None:
        handler = queries()
        handler.validate_datastack(datastack, version)
        if version != 0:
            found = handler.data.timeline.version(datastack, version)
            handler.version_database(datastack, found if found is not None else version)

    @view
    @errors
    async def views(request: Request, caller: Caller) -> Response:
        datastack, version = request.path_params["datastack_name"], _version(request)
        view_database(datastack, version)
        listed = {}
        for record in queries().data.views(datastack):
            fields = record.record()
            listed[fields.pop("table_name")] = fields
        return restx_json(listed)

    @view
    @errors
    async def view_metadata(request: Request, caller: Caller) -> Response:
        datastack, version = request.path_params["datastack_name"], _version(request)
        queries().validate_datastack(datastack, version)
        record = queries().data.view(datastack, request.path_params["view_name"])
        if record is None:
            raise LookupError("No row was found when one was required")
        return restx_json(record.record())

    @view
    @limited
    @errors
    async def view_query(request: Request, caller: Caller) -> Response:
        datastack, version, body = await versioned_query(request, SIMPLE_QUERY_SCHEMA)
        args = query_arguments(request)
        answer = await run_in_threadpool(
            queries().view_query, datastack, version, request.path_params["view_name"], args, body
        )
        return await run_in_threadpool(_answer, request, answer, args)

    def view_schema_of(datastack: str, version: int, view_name: str) -> dict[str, Any]:
        view_database(datastack, version)
        record = queries().data.view(datastack, view_name)
        if record is None:
            raise LookupError(view_name)
        return _view_schema()

    @view
    @errors
    async def view_schema(request: Request, caller: Caller) -> Response:
        datastack, version = request.path_params["datastack_name"], _version(request)
        return restx_json(view_schema_of(datastack, version, request.path_params["view_name"]))

    @view
    @errors
    async def view_schemas(request: Request, caller: Caller) -> Response:
        datastack, version = request.path_params["datastack_name"], _version(request)
        view_database(datastack, version)
        records = queries().data.views(datastack)
        if not records:
            return restx_json({}, 404)
        return restx_json({record.table_name: _view_schema() for record in records})

    # -- neuroglancer ----------------------------------------------------------------------

    @view
    @errors
    async def precomputed_info(request: Request, caller: Caller) -> Response:
        document = documents().precomputed_info(
            request.path_params["datastack_name"], request.path_params["table_name"], caller
        )
        return restx_json(document)

    def label_arguments(request: Request) -> tuple[str | None, list[str] | None]:
        label_format = request.query_params.get("label_format")
        raw_columns = request.query_params.get("label_columns")
        return label_format, None if raw_columns is None else raw_columns.split(",")

    @view
    @errors
    async def segment_properties_versioned(request: Request, caller: Caller) -> Response:
        label_format, label_columns = label_arguments(request)
        try:
            document = documents().versioned_segment_properties(
                request.path_params["datastack_name"],
                _version(request),
                request.path_params["table_name"],
                caller,
                label_format,
                label_columns,
            )
        except TooLargeError:
            return restx_json("Table too large to return info", 400)
        return json_document_response(request, properties_json(document))

    @view
    @errors
    async def segment_properties_live(request: Request, caller: Caller) -> Response:
        label_format, label_columns = label_arguments(request)
        document = documents().live_segment_properties(
            request.path_params["datastack_name"],
            request.path_params["table_name"],
            caller,
            label_format,
            label_columns,
        )
        return json_document_response(request, properties_json(document))

    # -- workflows -------------------------------------------------------------------------

    @edit
    @errors
    async def ingest_annotations(request: Request, caller: Caller) -> Response:
        datastack = request.path_params["datastack_name"]
        data = queries().data
        table = data.store.find(data.aligned_volume(datastack), request.path_params["table_name"])
        if table is None:
            raise TypeError("'NoneType' object is not subscriptable")
        metadata = table.metadata
        # The workflow's write check only refuses non-owners of GROUP tables.
        if metadata.user_id != str(caller.user_id) and metadata.write_permission == "GROUP":
            if not shares_group_with(deployment, caller, metadata.user_id):
                raise AbortError(
                    401,
                    "Unauthorized: You cannot write because you do not share a common group "
                    "with the creator of this table.",
                )
            raise AbortError(401, "Unauthorized: The table can only be written to by owner")
        return restx_json(200)

    @edit
    @errors
    async def lookup_supervoxels(request: Request, caller: Caller) -> Response:
        datastack = request.path_params["datastack_name"]
        if datastack not in deployment.datastacks:
            raise AbortError(404, f"datastack {datastack} not configured for materialization")
        load_body(await forced_json(request), ANNOTATION_ID_LIST_SCHEMA)
        # Supervoxels are looked up as annotations are written, so nothing is left to do.
        return restx_json(200)

    v2 = "/api/v2/datastack/{datastack_name}"
    v3 = "/api/v3/datastack/{datastack_name}"
    version_v2 = v2 + "/version/{version}"
    version_v3 = v3 + "/version/{version}"
    post = ["POST"]

    def v2_route(path: str, endpoint: Endpoint, methods: list[str] | None = None) -> Route:
        return Route(path, _with_version(endpoint, signed=False), methods=methods)

    def v3_route(path: str, endpoint: Endpoint, methods: list[str] | None = None) -> Route:
        return Route(path, _with_version(endpoint, signed=True), methods=methods)

    return Router(
        [
            Route("/version", server_version),
            Route("/api/versions", api_versions),
            Route(f"{v2}/versions", versions_v2),
            Route(f"{v3}/versions", versions_v3),
            v2_route(version_v2, version_metadata),
            v3_route(version_v3, version_metadata),
            Route(f"{v2}/metadata", versions_metadata_v2),
            Route(f"{v3}/metadata", versions_metadata_v3),
            v2_route(f"{version_v2}/tables", tables_v2),
            v2_route(f"{version_v2}/table/{{table_name}}/count", table_count),
            v3_route(f"{version_v3}/tables", tables_v3),
            v3_route(f"{version_v3}/table/{{table_name}}/count", table_count),
            v2_route(f"{version_v2}/table/{{table_name}}/metadata", table_metadata_v2),
            v3_route(f"{version_v3}/table/{{table_name}}/metadata", table_metadata_v3),
            v3_route(f"{version_v3}/tables/metadata", tables_metadata),
            Route(f"{v3}/table/{{table_name}}/unique_string_values", unique_strings),
            v2_route(f"{version_v2}/table/{{table_name}}/query", query_table_v2, post),
            v3_route(f"{version_v3}/table/{{table_name}}/query", query_table_v3, post),
            v2_route(f"{version_v2}/query", join_query_v2, post),
            v3_route(f"{version_v3}/query", join_query_v3, post),
            Route(f"{v3}/query", live_live_query, methods=post),
            v3_route(f"{version_v3}/views", views),
            v3_route(f"{version_v3}/views/schemas", view_schemas),
            v3_route(f"{version_v3}/views/{{view_name}}/metadata", view_metadata),
            v3_route(f"{version_v3}/views/{{view_name}}/query", view_query, post),
            v3_route(f"{version_v3}/views/{{view_name}}/schema", view_schema),
            Route(f"{v3}/table/{{table_name}}/precomputed/info", precomputed_info),
            v3_route(f"{version_v3}/table/{{table_name}}/info", segment_properties_versioned),
            Route(f"{v3}/table/{{table_name}}/info", segment_properties_live),
            Route(
                "/api/v2/materialize/run/ingest_annotations/datastack/{datastack_name}/{table_name}",
                ingest_annotations,
                methods=post,
            ),
            Route(
                "/api/v2/materialize/run/lookup_svid/datastack/{datastack_name}/{table_name}",
                lookup_supervoxels,
                methods=post,
            ),
        ],
        redirect_slashes=False,
    )


def _view_schema() -> dict[str, Any]:
    from ..annotation.columns import ColumnKind
    from .data import view_columns

    kinds = {
        ColumnKind.BIGINT: {"type": "integer"},
        ColumnKind.INTEGER: {"type": "integer"},
        ColumnKind.DOUBLE: {"type": "float"},
        ColumnKind.FLOAT: {"type": "float"},
        ColumnKind.STRING: {"type": "string"},
        ColumnKind.BOOLEAN: {"type": "boolean"},
        ColumnKind.POSITION: {"type": "SpatialPoint"},
        ColumnKind.DATETIME: {"type": "string", "format": "date-time"},
    }
    return {column.name: dict(kinds[column.kind]) for column in view_columns()}


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    from datetime import datetime

    return {
        key: value.isoformat() if isinstance(value, datetime) else value for key, value in record.items()
    }
