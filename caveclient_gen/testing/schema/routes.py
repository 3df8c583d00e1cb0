"""The schema service (EMAnnotationSchemas 5.26.3): annotation schema definitions, no auth at all."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from ..auth.guard import AuthGuard
from ..server.wire import (
    JSON_MEDIA_TYPE,
    flask_json,
    flask_redirect,
    restx_internal_error,
    restx_json,
    restx_not_found,
)
from ..world.deployment import Deployment
from .definitions import SCHEMA_PACKAGE_VERSION, schema_document, schema_type_names, types_all_json

PREFIX = "/schema"
API_VERSIONS = [2]
FLASK_RULES = (
    "/schema/static/<path:filename>",
    "/schema/versions",
    "/schema/",
    "/schema/api/",
    "/schema/api/swagger.json",
    "/schema/api/doc",
    "/schema/api/v2/type",
    "/schema/api/v2/type/<string:annotation_type>",
    "/schema/api/v2/types",
    "/schema/api/v2/types_all",
    "/swaggerui/<path:filename>",
    "/schema/views/",
    "/schema/views/version",
    "/schema/views/type/<annotation_type>/flatview",
    "/schema/views/type/<annotation_type>/view",
)


class _ArgumentParserCrashError(Exception):
    """The request makes the server's argument parser fail, which flask-restx answers with 500."""


def create_router(deployment: Deployment, guard: AuthGuard) -> Router:
    async def api_versions(request: Request) -> Response:
        return flask_json(API_VERSIONS)

    async def index(request: Request) -> Response:
        return flask_redirect("/schema/views")

    async def version(request: Request) -> Response:
        return flask_json(SCHEMA_PACKAGE_VERSION)

    async def type_names(request: Request) -> Response:
        return restx_json(schema_type_names())

    async def one_type(request: Request) -> Response:
        document = schema_document(request.path_params["annotation_type"])
        if document is None:
            return restx_not_found(request.url.path, FLASK_RULES)
        return restx_json(document)

    async def several_types(request: Request) -> Response:
        try:
            names = await _requested_schema_names(request)
        except _ArgumentParserCrashError:
            return restx_internal_error()
        documents: dict[str, Any] = {}
        for name in names:
            document = schema_document(name)
            if document is None:
                return restx_not_found(request.url.path, FLASK_RULES)
            documents[name] = document
        return restx_json(documents)

    async def all_types(request: Request) -> Response:
        return Response(types_all_json() + "\n", media_type=JSON_MEDIA_TYPE)

    api = "/api/v2"
    return Router(
        [
            Route("/versions", api_versions),
            Route("/", index),
            Route("/views/version", version),
            Route(f"{api}/type", type_names),
            Route(f"{api}/type/{{annotation_type}}", one_type),
            Route(f"{api}/types", several_types, methods=["POST"]),
            Route(f"{api}/types_all", all_types),
        ],
        redirect_slashes=False,
    )


async def _requested_schema_names(request: Request) -> list[str]:
    """``schema_names`` as the server's request parser reads it: JSON body, then query string.

    The parser merges a JSON body labelled as JSON into the query arguments; a body that is not
    an object (such as a plain list of names) cannot be merged and crashes the parser, and so does
    a request without ``schema_names`` at all.
    """
    raw_value: Any = None
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json":
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if body is not None:
            if not isinstance(body, dict):
                raise _ArgumentParserCrashError
            raw_value = body.get("schema_names")
    if raw_value is None:
        raw_value = request.query_params.get("schema_names")
    if not isinstance(raw_value, str):
        raise _ArgumentParserCrashError
    return raw_value.split(",")
