"""The info service (AnnotationFrameworkInfoService 4.3.3): aligned volumes and datastacks.

A flask-restx app: resources render with flask-restx's JSON encoder and answer unknown names with
its 404 "did you mean" hint. Listings are filtered by the caller's view permission (ignoring Terms
of Service); single records need view permission on the resource's dataset, so a name the auth
service cannot map is refused by the auth layer (400 ``invalid_table_id``) before any 404.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from ..auth.guard import AuthGuard, Caller
from ..server.wire import flask_json, restx_json, restx_not_found
from ..world.deployment import AlignedVolume, Datastack, Deployment, ImageSource

PREFIX = "/info"
SERVER_VERSION = "4.3.3"
API_VERSIONS = [2]
# Every URL rule of the real Flask app, in registration order: flask-restx's 404 hint picks from them.
FLASK_RULES = (
    "/info/static/<path:filename>",
    "/info/api/versions",
    "/info/",
    "/info/version",
    "/info/datastack/<datastackname>",
    "/info/api/",
    "/info/api/swagger.json",
    "/info/api/doc",
    "/info/api/v2/ngl_info",
    "/info/api/v2/datastack/<datastack>/image_sources",
    "/info/api/v2/aligned_volume",
    "/info/api/v2/aligned_volume/id/<int:id>",
    "/info/api/v2/aligned_volume/<string:aligned_volume_name>",
    "/info/api/v2/aligned_volume/<string:aligned_volume_name>/datastacks",
    "/info/api/v2/datastacks",
    "/info/api/v2/datastack/<string:datastack>",
    "/info/api/v2/datastack/full/<string:datastack>",
    "/swaggerui/<path:filename>",
    "/info/admin/",
    "/info/admin/static/<path:filename>",
    "/info/health",
    "/info/site-map",
)


def aligned_volume_record(volume: AlignedVolume) -> dict[str, Any]:
    return {
        "id": volume.id,
        "name": volume.name,
        "display_name": volume.display_name,
        "description": volume.description,
        "image_source": volume.image_source,
    }


def full_datastack_record(datastack: Datastack, volume: dict[str, Any]) -> dict[str, Any]:
    """The ``datastack/full`` record: the datastack with its aligned volume nested."""
    x, y, z = datastack.viewer_resolution or (None, None, None)
    return {
        "aligned_volume": volume,
        "segmentation_source": datastack.segmentation_source,
        "skeleton_source": datastack.skeleton_source,
        "analysis_database": datastack.analysis_database,
        "viewer_site": datastack.viewer_site,
        "synapse_table": datastack.synapse_table,
        "soma_table": datastack.soma_table,
        "local_server": datastack.local_server,
        "description": datastack.description,
        "viewer_resolution_x": x,
        "viewer_resolution_y": y,
        "viewer_resolution_z": z,
        "proofreading_status_table": datastack.proofreading_status_table,
        "cell_identification_table": datastack.cell_identification_table,
        "proofreading_review_table": datastack.proofreading_review_table,
    }


def short_datastack_record(datastack: Datastack, aligned_volume_id: int) -> dict[str, Any]:
    """The flat ``datastack/{name}`` row, its aligned volume given as a relative link."""
    x, y, z = datastack.viewer_resolution or (None, None, None)
    return {
        "aligned_volume": f"/info/api/v2/aligned_volume/id/{aligned_volume_id}",
        "id": datastack.id,
        "name": datastack.name,
        "display_name": datastack.display_name,
        "viewer_layer_name": datastack.viewer_layer_name,
        "segmentation_source": datastack.segmentation_source,
        "skeleton_source": datastack.skeleton_source,
        "analysis_database": datastack.analysis_database,
        "viewer_site": datastack.viewer_site,
        "synapse_table": datastack.synapse_table,
        "soma_table": datastack.soma_table,
        "proofreading_status_table": datastack.proofreading_status_table,
        "cell_identification_table": datastack.cell_identification_table,
        "proofreading_review_table": datastack.proofreading_review_table,
        "local_server": datastack.local_server,
        "description": datastack.description,
        "viewer_resolution_x": x,
        "viewer_resolution_y": y,
        "viewer_resolution_z": z,
        "base_link_id": datastack.base_link_id,
    }


def image_source_record(source: ImageSource) -> dict[str, Any]:
    return {
        "id": source.id,
        "name": source.name,
        "viewer_layer_name": source.viewer_layer_name,
        "image_source": source.image_source,
        "description": source.description,
    }


def create_router(deployment: Deployment, guard: AuthGuard) -> Router:
    def not_found(request: Request) -> Response:
        return restx_not_found(request.url.path, FLASK_RULES)

    def datastacks_in_order() -> list[Datastack]:
        return sorted(deployment.datastacks.values(), key=lambda d: d.id)

    def mirrors_of(aligned_volume: str) -> list[ImageSource]:
        return [s for s in deployment.image_sources if s.aligned_volume == aligned_volume]

    async def version(request: Request) -> Response:
        return flask_json(SERVER_VERSION)

    async def api_versions(request: Request) -> Response:
        # The real route's auth decorator sits outside Flask's registration, so it never runs.
        return flask_json(API_VERSIONS)

    async def health(request: Request) -> Response:
        return flask_json("healthy")

    @guard.requires_auth()
    async def list_datastacks(request: Request, caller: Caller) -> Response:
        return restx_json(
            [
                d.name
                for d in datastacks_in_order()
                if guard.user_has_permission(caller, "view", d.name, "datastack", ignore_tos=True)
            ]
        )

    @guard.requires_permission("view", namespace="datastack", table_param="datastack")
    async def full_datastack(request: Request, caller: Caller) -> Response:
        datastack = deployment.datastacks.get(request.path_params["datastack"])
        if datastack is None:
            return not_found(request)
        volume = aligned_volume_record(deployment.aligned_volumes[datastack.aligned_volume])
        mirror_name = request.query_params.get("image_source_name")
        if mirror_name:
            mirror = next(
                (m for m in mirrors_of(datastack.aligned_volume) if m.name == mirror_name), None
            )
            if mirror is None:
                return not_found(request)
            volume["image_source"] = mirror.image_source
        return restx_json(full_datastack_record(datastack, volume))

    @guard.requires_permission("view", namespace="datastack", table_param="datastack", ignore_tos=True)
    async def one_datastack(request: Request, caller: Caller) -> Response:
        datastack = deployment.datastacks.get(request.path_params["datastack"])
        if datastack is None:
            return not_found(request)
        volume = deployment.aligned_volumes[datastack.aligned_volume]
        return restx_json(short_datastack_record(datastack, volume.id))

    @guard.requires_permission("view", namespace="datastack", table_param="datastack")
    async def image_sources(request: Request, caller: Caller) -> Response:
        datastack = deployment.datastacks.get(request.path_params["datastack"])
        if datastack is None:
            return not_found(request)
        return restx_json([image_source_record(s) for s in mirrors_of(datastack.aligned_volume)])

    @guard.requires_auth()
    async def list_aligned_volumes(request: Request, caller: Caller) -> Response:
        return restx_json(
            [
                volume.name
                for volume in sorted(deployment.aligned_volumes.values(), key=lambda v: v.id)
                if guard.user_has_permission(
                    caller, "view", volume.name, "aligned_volume", ignore_tos=True
                )
            ]
        )

    async def aligned_volume_by_id(request: Request) -> Response:
        volume_id = request.path_params["id"]
        for volume in deployment.aligned_volumes.values():
            if volume.id == volume_id:
                return restx_json(aligned_volume_record(volume))
        return not_found(request)

    @guard.requires_permission("view", namespace="aligned_volume", table_param="aligned_volume_name")
    async def aligned_volume_by_name(request: Request, caller: Caller) -> Response:
        volume = deployment.aligned_volumes.get(request.path_params["aligned_volume_name"])
        if volume is None:
            return not_found(request)
        return restx_json(aligned_volume_record(volume))

    @guard.requires_auth()
    async def datastacks_of_aligned_volume(request: Request, caller: Caller) -> Response:
        volume = deployment.aligned_volumes.get(request.path_params["aligned_volume_name"])
        if volume is None:
            return not_found(request)
        return restx_json(
            [
                d.name
                for d in datastacks_in_order()
                if d.aligned_volume == volume.name
                and guard.user_has_permission(caller, "view", d.name, "datastack", ignore_tos=True)
            ]
        )

    @guard.requires_auth()
    async def ngl_info(request: Request, caller: Caller) -> Response:
        answer: dict[str, Any] = {}
        for volume in sorted(deployment.aligned_volumes.values(), key=lambda v: v.id):
            if not guard.user_has_permission(
                caller, "view", volume.name, "aligned_volume", ignore_tos=True
            ):
                continue
            visible = [
                d
                for d in datastacks_in_order()
                if d.aligned_volume == volume.name
                and guard.user_has_permission(caller, "view", d.name, "datastack", ignore_tos=True)
            ]
            answer[volume.display_name or volume.name] = {
                "image_layers": _image_layers(volume, mirrors_of(volume.name)),
                "segmentation_layers": [_segmentation_layer(d) for d in visible],
                "description": volume.description,
            }
        return restx_json(answer)

    api = "/api/v2"
    return Router(
        [
            Route("/version", version),
            Route("/health", health),
            Route("/api/versions", api_versions),
            Route(f"{api}/ngl_info", ngl_info),
            Route(f"{api}/datastacks", list_datastacks),
            Route(f"{api}/datastack/full/{{datastack}}", full_datastack),
            Route(f"{api}/datastack/{{datastack}}/image_sources", image_sources),
            Route(f"{api}/datastack/{{datastack}}", one_datastack),
            Route(f"{api}/aligned_volume", list_aligned_volumes),
            Route(f"{api}/aligned_volume/id/{{id:int}}", aligned_volume_by_id),
            Route(f"{api}/aligned_volume/{{aligned_volume_name}}", aligned_volume_by_name),
            Route(
                f"{api}/aligned_volume/{{aligned_volume_name}}/datastacks",
                datastacks_of_aligned_volume,
            ),
        ],
        redirect_slashes=False,
    )


def _image_layers(volume: AlignedVolume, mirrors: list[ImageSource]) -> list[dict[str, Any]]:
    if not mirrors:
        return [
            {
                "image_source": volume.image_source,
                "ngl_image_name": "img",
                "name": volume.name,
                "description": volume.description,
            }
        ]
    return [
        {
            "image_source": mirror.image_source,
            "ngl_image_name": mirror.name,
            "name": mirror.name,
            "description": mirror.description,
        }
        for mirror in mirrors
    ]


def _segmentation_layer(datastack: Datastack) -> dict[str, Any]:
    # Neuroglancer needs "middleauth+" to attach the token; only https sources get it.
    layer: dict[str, Any] = {
        "name": datastack.name,
        "description": datastack.description,
        "segmentation_source": (datastack.segmentation_source or "").replace(
            "graphene://https://", "graphene://middleauth+https://"
        ),
    }
    if datastack.base_link_id is not None:
        layer["initial_state_id"] = datastack.base_link_id
    if datastack.skeleton_source is not None:
        layer["skeleton_source"] = datastack.skeleton_source.replace(
            "precomputed://https://", "precomputed://middleauth+https://"
        )
    return layer
