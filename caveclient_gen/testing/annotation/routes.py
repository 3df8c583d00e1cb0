"""The annotation engine (AnnotationEngine 4.35.0): the annotation tables of an aligned volume.

Every route needs ``view`` (reads) or ``edit`` (writes) on the aligned volume's auth dataset;
table-level read/write permissions (PUBLIC/GROUP/PRIVATE) and ownership are checked on top.
Whatever a route aborts with comes back as HTTP 500 with the original status in ``message``.
Quirks kept: the table-metadata GET answers 201; a created table's name comes back as a
``text/html`` body; updates give rows new ids (the old row is invalidated and points at its
replacement), except in reference tables, which are updated in place.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from ..auth.guard import AuthGuard, Caller
from ..materialize.requests import parse_boolean
from ..server.restx_errors import answer_errors_like_restx, bad_request
from ..server.wire import flask_json, flask_text, restx_json
from ..world.deployment import Deployment
from .body_schemas import forced_json, load_body
from .engine import (
    ANNOTATIONS_SCHEMA,
    CREATE_TABLE_SCHEMA,
    DELETE_ANNOTATIONS_SCHEMA,
    UPDATE_TABLE_SCHEMA,
    AnnotationEngine,
)

PREFIX = "/annotation"
API_VERSIONS = [2]


def _volume(request: Request) -> str:
    return str(request.path_params["aligned_volume_name"])


def _table(request: Request) -> str:
    return str(request.path_params["table_name"])


def _annotation_ids(request: Request) -> list[int] | None:
    """``annotation_ids`` as the engine's parser reads it: one comma-separated value."""
    raw = request.query_params.get("annotation_ids")
    if raw is None:
        return None
    try:
        return [int(item) for item in raw.split(",")]
    except ValueError:
        raise bad_request() from None


async def _body(request: Request) -> object:
    # Flask 1.1 gives no detail when a body is not JSON.
    return await forced_json(request, explain_decode_errors=False)


def create_router(deployment: Deployment, guard: AuthGuard) -> Router:
    def engine() -> AnnotationEngine:
        return deployment.component(AnnotationEngine)

    view = guard.requires_permission(
        "view", namespace="aligned_volume", table_param="aligned_volume_name"
    )
    edit = guard.requires_permission(
        "edit", namespace="aligned_volume", table_param="aligned_volume_name"
    )
    errors = answer_errors_like_restx(service="annotationengine", module="api")

    async def api_versions(request: Request) -> Response:
        return flask_json(API_VERSIONS)

    # -- tables ----------------------------------------------------------------------------

    @view
    @errors
    async def list_tables(request: Request, caller: Caller) -> Response:
        raw = request.query_params.get("filter_valid")
        only_valid = True if raw is None else parse_boolean(raw)
        return restx_json(engine().store.table_names(_volume(request), only_valid=only_valid))

    @edit
    @errors
    async def create_table(request: Request, caller: Caller) -> Response:
        body = load_body(await _body(request), CREATE_TABLE_SCHEMA)
        return flask_text(engine().create_table(_volume(request), body, caller))

    @edit
    @errors
    async def update_table(request: Request, caller: Caller) -> Response:
        body = load_body(await _body(request), UPDATE_TABLE_SCHEMA)
        return restx_json(engine().update_table(_volume(request), body, caller))

    @view
    @errors
    async def table_metadata(request: Request, caller: Caller) -> Response:
        volume, table_name = _volume(request), _table(request)
        metadata = engine().metadata_of(volume, table_name)
        return restx_json(metadata, 201, engine().notice_header(volume, table_name))

    @edit
    @errors
    async def delete_table(request: Request, caller: Caller) -> Response:
        return restx_json(engine().delete_table(_volume(request), _table(request), caller))

    @view
    @errors
    async def count(request: Request, caller: Caller) -> Response:
        return restx_json(engine().count(_volume(request), _table(request), caller))

    # -- annotations -----------------------------------------------------------------------

    @view
    @errors
    async def get_annotations(request: Request, caller: Caller) -> Response:
        volume, table_name = _volume(request), _table(request)
        ids = _annotation_ids(request)
        records = engine().annotations(volume, table_name, ids, caller)
        return restx_json(records, headers=engine().notice_header(volume, table_name))

    @edit
    @errors
    async def post_annotations(request: Request, caller: Caller) -> Response:
        body = load_body(await _body(request), ANNOTATIONS_SCHEMA)
        ids = engine().insert(_volume(request), _table(request), body["annotations"], caller)
        return restx_json(ids)

    @edit
    @errors
    async def update_annotations(request: Request, caller: Caller) -> Response:
        body = load_body(await _body(request), ANNOTATIONS_SCHEMA)
        mapping = engine().update(_volume(request), _table(request), body["annotations"], caller)
        return restx_json(mapping)

    @edit
    @errors
    async def delete_annotations(request: Request, caller: Caller) -> Response:
        body = load_body(await _body(request), DELETE_ANNOTATIONS_SCHEMA)
        table_name = _table(request)
        ids = body["annotation_ids"]
        deleted = engine().delete(_volume(request), table_name, ids, caller)
        if not deleted:
            return restx_json(f"annotation_id {ids} not in table {table_name}", 404)
        return restx_json(deleted)

    base = "/api/v2/aligned_volume/{aligned_volume_name}/table"
    return Router(
        [
            Route("/api/versions", api_versions),
            Route(base, list_tables, methods=["GET"]),
            Route(base, create_table, methods=["POST"]),
            Route(base, update_table, methods=["PUT"]),
            Route(f"{base}/{{table_name}}", table_metadata, methods=["GET"]),
            Route(f"{base}/{{table_name}}", delete_table, methods=["DELETE"]),
            Route(f"{base}/{{table_name}}/count", count),
            Route(f"{base}/{{table_name}}/annotations", get_annotations, methods=["GET"]),
            Route(f"{base}/{{table_name}}/annotations", post_annotations, methods=["POST"]),
            Route(f"{base}/{{table_name}}/annotations", update_annotations, methods=["PUT"]),
            Route(f"{base}/{{table_name}}/annotations", delete_annotations, methods=["DELETE"]),
        ],
        redirect_slashes=False,
    )
