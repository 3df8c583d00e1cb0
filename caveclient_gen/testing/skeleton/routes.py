"""The skeleton service (SkeletonService 0.23.11): skeletons of root ids, singly and in bulk.

A flask-restx app: resources answer flask-restx JSON (``{"message"}`` errors, 404 with a "did you
mean" hint for paths that match no route), some routes their own ``{"Error": ...}`` bodies. Every
v1 route needs ``view`` on the datastack; the two version routes answer anyone. Skeletons come
from :class:`SkeletonStore` (built from the deployment's segmentation).
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from ..auth.guard import AuthGuard, Caller
from ..server.wire import flask_json, restx_internal_error, restx_json, restx_not_found
from ..world.deployment import Deployment
from . import formats
from .payloads import (
    BULK_FORMATS,
    OCTET_STREAM,
    SINGLE_FORMATS,
    SKELETON_HEADERS,
    bulk_payload,
    cache_file_name,
    render,
)
from .store import SkeletonStore

PREFIX = "/skeletoncache"
SERVER_VERSION = "0.23.11"
MAX_BULK_SYNCHRONOUS_SKELETONS = 10
MAX_BULK_CACHED_SKELETONS = 500
SKELETON_WORKERS = 15
SECONDS_PER_SKELETON = 60
CACHE_BUCKET = "localcave-skeletons"
TOKEN_LIFETIME = timedelta(minutes=60)
_V1 = "/api/v1/{datastack_name}"
_SIGNED_INT = re.compile(r"-?[0-9]+")
_UNSIGNED_INT = re.compile(r"[0-9]+")
_UNSUPPORTED_MEDIA_TYPE = (
    "Did not attempt to load JSON data because the request Content-Type was not 'application/json'."
)
_V1_RULES = (
    "/skeletons",
    "/<string:datastack_name>/precomputed",
    "/<string:datastack_name>/precomputed/info",
    "/<string:datastack_name>/precomputed/skeleton/info",
    "/<string:datastack_name>/precomputed/skeleton/<int(signed=True):skvn>/info",
    "/<string:datastack_name>/bulk/skeleton/info",
    "/<string:datastack_name>/precomputed/skeleton/get_refusal_list",
    "/<string:datastack_name>/precomputed/skeleton/query_cache/<string:root_id_prefixes>/<int:limit>",
    "/<string:datastack_name>/precomputed/skeleton/query_cache/<int(signed=True):skvn>/<string:root_id_prefixes>/<int:limit>",
    "/<string:datastack_name>/precomputed/skeleton/exists/<string:root_ids>",
    "/<string:datastack_name>/precomputed/skeleton/exists/<int(signed=True):skvn>/<string:root_ids>",
    "/<string:datastack_name>/precomputed/skeleton/exists",
    "/<string:datastack_name>/precomputed/meshwork/<int:rid>",
    "/<string:datastack_name>/precomputed/skeleton/<int:rid>",
    "/<string:datastack_name>/precomputed/skeleton/<int(signed=True):skvn>/<int:rid>",
    "/<string:datastack_name>/precomputed/skeleton/<int(signed=True):skvn>/<int:rid>/<string:output_format>",
    "/<string:datastack_name>/bulk/get_skeletons/<string:output_format>/<bool:gms>/<string:rids>",
    "/<string:datastack_name>/bulk/get_skeletons/<int(signed=True):skvn>/<string:output_format>/<bool:gms>/<string:rids>",
    "/<string:datastack_name>/async/get_skeleton/<int:rid>",
    "/<string:datastack_name>/async/get_skeleton/<int(signed=True):skvn>/<int:rid>",
    "/<string:datastack_name>/async/get_skeleton/<int(signed=True):skvn>/<int:rid>/<string:output_format>",
    "/<string:datastack_name>/bulk/gen_meshworks",
    "/<string:datastack_name>/bulk/gen_skeletons/<string:rids>",
    "/<string:datastack_name>/bulk/gen_skeletons/<int(signed=True):skvn>/<string:rids>",
    "/<string:datastack_name>/bulk/gen_skeletons",
    "/<string:datastack_name>/bulk/get_cached_skeletons/<int(signed=True):skvn>/<string:output_format>",
    "/<string:datastack_name>/bulk/get_skeleton_token/<int(signed=True):skvn>",
)
# The real app's URL rules in registration order (flask-restx names close ones in its 404s).
FLASK_RULES = (
    "/skeletoncache/static/<path:filename>",
    "/skeletoncache/api/version",
    "/skeletoncache/api/versions",
    "/skeletoncache/api/",
    "/skeletoncache/api/swagger.json",
    "/skeletoncache/api/doc",
    *(f"/skeletoncache/api/v1{rule}" for rule in _V1_RULES),
    "/swaggerui/<path:filename>",
    "/skeletoncache/health",
    "/skeletoncache/site-map",
)

Handler = Callable[[Request, Caller], Awaitable[Response]]


class _NotRoutedError(Exception):
    """A path parameter does not fit its converter: werkzeug would not have matched the route."""


class _HttpError(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _int_param(request: Request, name: str, *, signed: bool) -> int:
    text = request.path_params[name]
    if not (_SIGNED_INT if signed else _UNSIGNED_INT).fullmatch(text):
        raise _NotRoutedError(name)
    return int(text)


async def _json_body(request: Request) -> Any:
    """Flask's ``request.json``: 415 unless the body is declared JSON, 400 when it does not parse."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise _HttpError(restx_json({"message": _UNSUPPORTED_MEDIA_TYPE}, 415))
    try:
        return json.loads(await request.body())
    except ValueError as error:
        raise _HttpError(
            restx_json({"message": f"Failed to decode JSON object: {error}"}, 400)
        ) from error


def _verbose_level(request: Request, data: Any = None) -> int:
    level = int(data.get("verbose_level", 0)) if isinstance(data, dict) else 0
    if "verbose_level" in request.query_params:
        level = max(int(request.query_params["verbose_level"]), level)
    return level


def create_router(deployment: Deployment, guard: AuthGuard) -> Router:
    requires_view = guard.requires_permission(
        "view", namespace="datastack", table_param="datastack_name"
    )

    def store() -> SkeletonStore:
        return deployment.component(SkeletonStore)

    def resource(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """A flask-restx resource: unmatched parameters are 404s, exceptions 500s."""

        async def run(request: Request, caller: Caller) -> Response:
            try:
                return await handler(request, caller)
            except _NotRoutedError:
                return restx_not_found(request.url.path, FLASK_RULES)
            except _HttpError as error:
                return error.response
            except Exception:  # flask-restx answers any failure with its generic 500
                return restx_internal_error()

        return requires_view(run)

    def root_problem(datastack: str, root_id: int) -> str | None:
        """Why a root id cannot be skeletonized (the messages of the async route), or None."""
        skeletons = store()
        graph = skeletons.graph
        if skeletons.is_refused(datastack, root_id):
            return f"Problematic root id: {root_id} is in the refusal list"
        if graph.layout.layer(root_id) != graph.n_layers:
            return (
                f"Invalid root id: {root_id} (perhaps this is an id corresponding to a different level "
                "of the PCG, e.g., a supervoxel id)"
            )
        if graph.node(root_id) is None:
            return f"Invalid root id: {root_id} (perhaps it doesn't exist; the error is unclear)"
        return None

    def queued_message(datastack: str, root_id: int, skvn: int) -> Response:
        """``output_format`` none: the request is queued (and, here, done at once)."""
        if root_problem(datastack, root_id) is None:
            store().generate(root_id)
        return restx_json(
            f"Message has been dispatched to skeleton: {datastack} {root_id} skvn:{skvn} {CACHE_BUCKET}"
        )

    async def one_skeleton(request: Request, *, asynchronous: bool) -> Response:
        datastack = request.path_params["datastack_name"]
        skvn = _int_param(request, "skvn", signed=True)
        root_id = _int_param(request, "rid", signed=False)
        output_format = request.path_params["output_format"]
        if output_format == "none":
            return queued_message(datastack, root_id, skvn)
        version = formats.resolve_version(skvn)
        problem = root_problem(datastack, root_id)
        if problem is not None:
            # The async route refuses with 400; the plain one answers null.
            return restx_json({"Error": problem}, 400) if asynchronous else restx_json(None)
        if output_format not in SINGLE_FORMATS:
            return restx_json({"Error": ""}, 500)
        skeletons = store()
        was_cached = skeletons.is_cached(root_id)
        await run_in_threadpool(skeletons.generate, root_id)
        if output_format == "h5":
            if was_cached:
                # The cached H5 file is handed to flask-restx, which cannot serialise it.
                return restx_internal_error()
            return restx_json({"Error": "HDF5 skeletons are not available from LocalCAVE"}, 500)
        skeleton = await run_in_threadpool(skeletons.skeleton, root_id)
        return render(request, skeleton, version, output_format, datastack)

    async def get_skeleton(request: Request, caller: Caller) -> Response:
        return await one_skeleton(request, asynchronous=False)

    async def get_skeleton_async(request: Request, caller: Caller) -> Response:
        return await one_skeleton(request, asynchronous=True)

    async def skeleton_info(request: Request, caller: Caller) -> Response:
        return restx_json(formats.precomputed_info(formats.NEUROGLANCER_VERSION))

    async def skeleton_info_versioned(request: Request, caller: Caller) -> Response:
        skvn = _int_param(request, "skvn", signed=True)
        if skvn not in formats.VERSIONS:
            raise ValueError(f"Invalid skeleton version: v{skvn}")
        return restx_json(formats.precomputed_info(skvn))

    async def bulk_skeleton_info(request: Request, caller: Caller) -> Response:
        hint = "Use the bulk skeletons endpoint to get skeletons for multiple root ids at once."
        return restx_json({"bulk skeletons": hint})

    async def refusal_list(request: Request, caller: Caller) -> Response:
        rows = "".join(f"{datastack},{root}\n" for datastack, root in store().refusal_list())
        body = gzip.compress(f"DATASTACK_NAME,ROOT_ID\n{rows}".encode(), mtime=0)
        return Response(body, headers=SKELETON_HEADERS, media_type=OCTET_STREAM)

    async def query_cache(request: Request, caller: Caller) -> Response:
        datastack = request.path_params["datastack_name"]
        skvn = _int_param(request, "skvn", signed=True)
        limit = _int_param(request, "limit", signed=False)
        formats.resolve_version(skvn)
        prefixes = [int(value) for value in request.path_params["root_id_prefixes"].split(",")]
        # Skeletons are cached as the latest version only: other version directories are empty.
        cached = store().cached_roots() if skvn == formats.LATEST_VERSION else []
        names = sorted(cache_file_name(root, datastack, skvn, "h5.gz") for root in cached)
        found = [
            name
            for prefix in prefixes
            for name in names
            if name.startswith(f"skeleton__v{skvn}__rid-{prefix}")
        ]
        return restx_json({"num_found": len(found), "files": found[:limit] if limit else found})

    def exists_answer(root_ids: list[int]) -> Response:
        skeletons = store()
        if len(root_ids) == 1:
            return restx_json(skeletons.is_cached(int(root_ids[0])))
        return restx_json({root: skeletons.is_cached(root) for root in map(int, root_ids)})

    async def exists_get(request: Request, caller: Caller) -> Response:
        formats.resolve_version(_int_param(request, "skvn", signed=True))
        text = request.path_params["root_ids"]
        if len(text) != 1:
            # 0.23.11 hands the raw text to the check instead of a list of ids; it fails on it.
            raise TypeError("root ids arrive as text")
        return exists_answer([int(text)])

    async def exists_post(request: Request, caller: Caller) -> Response:
        data = await _json_body(request)
        _verbose_level(request, data)
        root_ids = data["root_ids"]
        formats.resolve_version(data["skeleton_version"])
        return exists_answer(root_ids if isinstance(root_ids, list) else [root_ids])

    def bulk_format(output_format: str) -> str:
        assert output_format in BULK_FORMATS
        return output_format + "compressed" if output_format in ("json", "swc") else output_format

    async def get_bulk_skeletons(request: Request, caller: Caller) -> Response:
        datastack = request.path_params["datastack_name"]
        skvn = _int_param(request, "skvn", signed=True)
        # The "generate missing" flag is vestigial: the server always queues missing skeletons.
        root_ids = list(map(int, request.path_params["rids"].split(",")))
        version = formats.resolve_version(skvn)
        output_format = bulk_format(request.path_params["output_format"])
        skeletons = store()
        graph = skeletons.graph
        answer: dict[int, str] = {}
        for root_id in root_ids[:MAX_BULK_SYNCHRONOUS_SKELETONS]:
            if skeletons.is_refused(datastack, root_id):
                continue
            if graph.layout.layer(root_id) != graph.n_layers:
                answer[root_id] = "invalid_layer_rid"
            elif graph.node(root_id) is None:
                answer[root_id] = "invalid_rid"
            elif skeletons.is_cached(root_id):
                skeleton = await run_in_threadpool(skeletons.skeleton, root_id)
                answer[root_id] = bulk_payload(skeleton, version, output_format, datastack)
            else:
                await run_in_threadpool(skeletons.generate, root_id)
                answer[root_id] = "async"
        return restx_json(answer)

    def generation_estimate(datastack: str, root_ids: list[int]) -> int:
        skeletons = store()
        graph = skeletons.graph
        queued = 0
        for root_id in root_ids:
            if skeletons.is_cached(root_id) or skeletons.is_refused(datastack, root_id):
                continue
            if graph.layout.layer(root_id) == graph.n_layers:
                queued += 1
                if graph.node(root_id) is not None:
                    skeletons.generate(root_id)
        return math.ceil(queued / SKELETON_WORKERS) * SECONDS_PER_SKELETON

    async def generate_bulk_get(request: Request, caller: Caller) -> Response:
        datastack = request.path_params["datastack_name"]
        formats.resolve_version(_int_param(request, "skvn", signed=True))
        text = request.path_params["rids"]
        if len(text) != 1:
            raise TypeError("root ids arrive as text")  # as exists_get
        if store().is_cached(int(text)):
            return restx_json(0)
        return restx_json(await run_in_threadpool(generation_estimate, datastack, [int(text)]))

    async def generate_bulk(request: Request, caller: Caller) -> Response:
        datastack = request.path_params["datastack_name"]
        data = await _json_body(request)
        _verbose_level(request, data)
        root_ids = [int(root) for root in data["root_ids"]]
        formats.resolve_version(data["skeleton_version"])
        return restx_json(await run_in_threadpool(generation_estimate, datastack, root_ids))

    async def cached_bulk(request: Request, caller: Caller) -> Response:
        datastack = request.path_params["datastack_name"]
        skvn = _int_param(request, "skvn", signed=True)
        data = await _json_body(request)
        root_ids = data["root_ids"]
        if len(root_ids) > MAX_BULK_CACHED_SKELETONS:
            message = (
                f"Too many root IDs requested: {len(root_ids)}. "
                f"Maximum allowed is {MAX_BULK_CACHED_SKELETONS}."
            )
            return restx_json({"Error": message}, 400)
        generate_missing = bool(data.get("generate_missing", False))
        _verbose_level(request, data)
        version = formats.resolve_version(skvn)
        output_format = bulk_format(request.path_params["output_format"])
        skeletons = store()
        answer: dict[int, str] = {}
        for root_id in map(int, root_ids):
            if skeletons.is_refused(datastack, root_id):
                continue
            if skeletons.is_cached(root_id):
                skeleton = await run_in_threadpool(skeletons.skeleton, root_id)
                answer[root_id] = bulk_payload(skeleton, version, output_format, datastack)
            elif generate_missing and root_problem(datastack, root_id) is None:
                await run_in_threadpool(skeletons.generate, root_id)
        return restx_json(answer)

    async def skeleton_token(request: Request, caller: Caller) -> Response:
        datastack = request.path_params["datastack_name"]
        skvn = _int_param(request, "skvn", signed=True)
        data = await _json_body(request) or {}
        _verbose_level(request, data)
        formats.resolve_version(skvn)
        version = formats.LATEST_VERSION
        expiry = (datetime.now(UTC) + TOKEN_LIFETIME).replace(tzinfo=None)
        return restx_json(
            {
                "token": store().new_storage_token(),
                "token_type": "Bearer",
                "expiry": expiry.isoformat(),
                "bucket": CACHE_BUCKET,
                "path_template": f"{datastack}/{version}/"
                + cache_file_name("{rid}", datastack, version, "h5.gz"),
            }
        )

    async def version(request: Request) -> Response:
        return flask_json(SERVER_VERSION)

    async def versions(request: Request) -> Response:
        return flask_json([*formats.VERSION_ALIASES, *formats.VERSIONS])

    async def not_found(request: Request) -> Response:
        return restx_not_found(request.url.path, FLASK_RULES)

    skeleton_path = f"{_V1}/precomputed/skeleton"
    routes = [
        Route("/api/version", version),
        Route("/api/versions", versions),
        Route(f"{skeleton_path}/info", resource(skeleton_info)),
        Route(f"{skeleton_path}/get_refusal_list", resource(refusal_list)),
        Route(f"{skeleton_path}/exists", resource(exists_post), methods=["POST"]),
        Route(
            f"{skeleton_path}/query_cache/{{skvn}}/{{root_id_prefixes}}/{{limit}}", resource(query_cache)
        ),
        Route(f"{skeleton_path}/exists/{{skvn}}/{{root_ids}}", resource(exists_get)),
        Route(f"{skeleton_path}/{{skvn}}/info", resource(skeleton_info_versioned)),
        Route(f"{skeleton_path}/{{skvn}}/{{rid}}/{{output_format}}", resource(get_skeleton)),
        Route(
            f"{_V1}/async/get_skeleton/{{skvn}}/{{rid}}/{{output_format}}", resource(get_skeleton_async)
        ),
        Route(f"{_V1}/bulk/skeleton/info", resource(bulk_skeleton_info)),
        Route(
            f"{_V1}/bulk/get_skeletons/{{skvn}}/{{output_format}}/{{gms}}/{{rids}}",
            resource(get_bulk_skeletons),
        ),
        Route(f"{_V1}/bulk/gen_skeletons/{{skvn}}/{{rids}}", resource(generate_bulk_get)),
        Route(f"{_V1}/bulk/gen_skeletons", resource(generate_bulk), methods=["POST"]),
        Route(
            f"{_V1}/bulk/get_cached_skeletons/{{skvn}}/{{output_format}}",
            resource(cached_bulk),
            methods=["POST"],
        ),
        Route(f"{_V1}/bulk/get_skeleton_token/{{skvn}}", resource(skeleton_token), methods=["POST"]),
        Route("/api/{path:path}", not_found, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]
    return Router(routes, redirect_slashes=False)
