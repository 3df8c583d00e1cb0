"""The JSON state service (NeuroglancerJsonServer 0.7.2): Neuroglancer states and segment properties.

Every route needs a valid token; uploads under a chosen id need the superadmin. Any failure (an
unknown id, a body that is not JSON, an id already taken) ends in the server's bare HTML 500,
because its error handlers return a value Flask cannot send.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from ..auth.guard import AuthGuard, Caller
from ..server.wire import JSON_MEDIA_TYPE, flask_error_page, flask_json, flask_text
from ..world.deployment import Deployment, utc_now
from .store import PROPERTY_COLUMNS, STATE_COLUMNS, StateStoreError

PREFIX = "/nglstate"
SERVER_VERSION = "0.7.2"
_FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def create_router(deployment: Deployment, guard: AuthGuard) -> Router:
    store = deployment.states
    requires_auth = guard.requires_auth()
    requires_superadmin = guard.requires_superadmin()

    async def upload(
        request: Request, caller: Caller, columns: Sequence[str], entity_id: int | None = None
    ) -> Response:
        document = await _raw_body(request)
        try:
            json.loads(document)
        except ValueError:
            return flask_error_page(500)
        date = utc_now()
        if entity_id is not None:
            try:
                date = datetime.fromtimestamp(float(request.query_params["timestamp"]), UTC)
            except KeyError:
                pass
            except ValueError:
                return flask_error_page(500)
        try:
            new_id = store.add(
                document, columns=columns, user_id=str(caller.user_id), date=date, entity_id=entity_id
            )
        except StateStoreError:
            return flask_error_page(500)
        # The server builds the answer from its own URL: everything before the last segment.
        url_base = str(request.url).strip("/").rsplit("/", 1)[0]
        return flask_json(f"{url_base}/{new_id}")

    def download(request: Request, columns: Sequence[str]) -> Response:
        """Send a document, honouring the server's odd use of Accept-Encoding.

        "deflate" anywhere in Accept-Encoding makes it send the stored zlib bytes as they are;
        "gzip" anywhere makes it label the body ``Content-Encoding: deflate``. A client must send
        both words or neither to get a body that matches its label.
        """
        accept_encoding = request.headers.get("accept-encoding", "")
        try:
            body = store.get(
                int(request.path_params["json_id"]),
                columns=columns,
                decompress="deflate" not in accept_encoding,
            )
        except (ValueError, StateStoreError):
            return flask_error_page(500)
        headers = {"Vary": "Accept-Encoding"}
        if "gzip" in accept_encoding:
            headers["Content-Encoding"] = "deflate"
        return Response(body, headers=headers, media_type=JSON_MEDIA_TYPE)

    def download_raw(request: Request, columns: Sequence[str]) -> Response:
        try:
            stored = store.get(int(request.path_params["json_id"]), columns=columns, decompress=False)
        except (ValueError, StateStoreError):
            return flask_error_page(500)
        return flask_text(stored)

    async def upload_under_path_id(request: Request, caller: Caller, columns: Sequence[str]) -> Response:
        try:
            entity_id = int(request.path_params["json_id"])
        except ValueError:
            return flask_error_page(500)
        return await upload(request, caller, columns, entity_id)

    @requires_auth
    async def index(request: Request, caller: Caller) -> Response:
        return flask_text(f"NeuroglancerJsonServer - v{SERVER_VERSION}")

    @requires_auth
    async def version(request: Request, caller: Caller) -> Response:
        return flask_json(SERVER_VERSION)

    @requires_auth
    async def table_info(request: Request, caller: Caller) -> Response:
        return flask_text(f"User: {caller.user_id} - project localcave - table localcave")

    @requires_auth
    async def get_state(request: Request, caller: Caller) -> Response:
        return download(request, STATE_COLUMNS)

    @requires_auth
    async def get_state_raw(request: Request, caller: Caller) -> Response:
        return download_raw(request, STATE_COLUMNS)

    @requires_auth
    async def post_state(request: Request, caller: Caller) -> Response:
        return await upload(request, caller, STATE_COLUMNS)

    @requires_superadmin
    async def post_state_with_id(request: Request, caller: Caller) -> Response:
        return await upload_under_path_id(request, caller, STATE_COLUMNS)

    @requires_auth
    async def get_properties(request: Request, caller: Caller) -> Response:
        return download(request, PROPERTY_COLUMNS)

    @requires_auth
    async def get_properties_raw(request: Request, caller: Caller) -> Response:
        return download_raw(request, PROPERTY_COLUMNS)

    @requires_auth
    async def post_properties(request: Request, caller: Caller) -> Response:
        return await upload(request, caller, PROPERTY_COLUMNS)

    @requires_superadmin
    async def post_properties_with_id(request: Request, caller: Caller) -> Response:
        return await upload_under_path_id(request, caller, PROPERTY_COLUMNS)

    read_and_write = ["GET", "POST"]
    v1 = "/api/v1"
    return Router(
        [
            Route(f"{v1}/", index),
            Route(f"{v1}/index", index),
            Route(f"{v1}/version", version),
            Route(f"{v1}/table_info", table_info),
            Route(f"{v1}/post", post_state, methods=read_and_write),
            Route(f"{v1}/post/{{json_id}}", post_state_with_id, methods=read_and_write),
            Route(f"{v1}/raw/{{json_id}}", get_state_raw),
            Route(f"{v1}/property/post", post_properties, methods=["POST"]),
            Route(f"{v1}/property/post/{{json_id}}", post_properties_with_id, methods=read_and_write),
            Route(f"{v1}/property/raw/{{json_id}}", get_properties_raw),
            Route(f"{v1}/property/{{json_id}}/info", get_properties),
            Route(f"{v1}/{{json_id}}", get_state),
            # The legacy unversioned API, still served beside v1.
            Route("/", index),
            Route("/index", index),
            Route("/post", post_state, methods=read_and_write),
            Route("/raw/{json_id}", get_state_raw),
            Route("/{json_id}", get_state),
        ],
        redirect_slashes=False,
    )


async def _raw_body(request: Request) -> bytes:
    """``request.data`` of Flask: the body, except that form bodies are consumed as forms."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in _FORM_MEDIA_TYPES:
        return b""
    return await request.body()
