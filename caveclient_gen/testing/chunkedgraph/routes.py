"""The chunkedgraph service (PyChunkedGraph 2.21.1): segmentation lookups, edits and their history.

Plain Flask blueprints on the real server: ``/segmentation`` (versions, the table ``info``),
``/segmentation/api/v1/table/{table_id}/...`` and ``/meshing/api/v1/table/{table_id}/remeshing``.
Every table route needs a permission on the ``pychunkedgraph`` resource named by ``table_id``
(``view``; ``edit`` for edits and remeshing; ``admin_view`` for ``user_operations``); the
version routes need any valid token. The data is the deployment's :class:`SegmentationGraph`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from ..auth.guard import AuthGuard, Caller
from ..server.pcg_wire import Endpoint, PcgRequest, gzip_when_accepted, pcg_endpoint, pcg_json
from ..server.wire import flask_text
from ..world.deployment import Deployment
from .common import API_VERSIONS, SERVER_VERSION, ChunkedGraphContext
from .edit_routes import edit_handlers
from .history_routes import history_handlers
from .lookup_routes import lookup_handlers
from .segmentation.graph import SegmentationGraph

PREFIX = "/segmentation"
MESHING_PREFIX = "/meshing"
NAMESPACE = "pychunkedgraph"
_TABLE = "/api/v1/table/{table_id}"
_MESH_SCALES = 10

Handler = Callable[[PcgRequest], Response]

# (method, path under PREFIX, handler name, permission)
_TABLE_ROUTES: tuple[tuple[str, str, str, str], ...] = (
    ("POST", "/roots_binary", "roots_binary", "view"),
    ("POST", "/roots", "roots", "view"),
    ("GET", "/node/{node_id}/root", "root", "view"),
    ("GET", "/node/{node_id}/children", "children", "view"),
    ("GET", "/node/{node_id}/leaves", "leaves", "view"),
    ("POST", "/node/leaves_many", "leaves_many", "view"),
    ("POST", "/leaves_many", "leaves_many", "view"),
    ("POST", "/minimal_covering_nodes", "minimal_covering_nodes", "view"),
    ("GET", "/node/{node_id}/subgraph", "subgraph", "view"),
    ("GET", "/node/{node_id}/contact_sites", "contact_sites", "view"),
    ("GET", "/node/{node_id}/lvl2_graph", "lvl2_graph", "view"),
    ("POST", "/graph/find_path", "find_path", "view"),
    ("POST", "/is_latest_roots", "is_latest_roots", "view"),
    ("POST", "/root_timestamps", "root_timestamps", "view"),
    ("GET", "/valid_nodes", "valid_nodes", "view"),
    ("GET", "/root/{root_id}/change_log", "change_log", "view"),
    ("GET", "/root/{root_id}/tabular_change_log", "tabular_change_log", "view"),
    ("GET", "/tabular_change_log_many", "tabular_change_log_many", "view"),
    ("GET", "/root/{root_id}/merge_log", "merge_log", "view"),
    ("GET", "/root/{root_id}/lineage_graph", "lineage_graph", "view"),
    ("POST", "/lineage_graph_multiple", "lineage_graph_multiple", "view"),
    ("GET", "/past_id_mapping", "past_id_mapping", "view"),
    ("GET", "/oldest_timestamp", "oldest_timestamp", "view"),
    ("GET", "/operation_details", "operation_details", "view"),
    ("GET", "/delta_roots", "delta_roots", "view"),
    ("GET", "/user_operations", "user_operations", "admin_view"),
    ("POST", "/merge", "merge", "edit"),
    ("POST", "/split", "split", "edit"),
    ("POST", "/graph/split_preview", "split_preview", "view"),
    ("POST", "/undo", "undo", "edit"),
)


def _number(value: float) -> int | float:
    """Whole numbers as JSON integers, as the precomputed info writes resolutions."""
    return int(value) if float(value).is_integer() else value


def table_info(graph: SegmentationGraph, server: str = "") -> dict[str, Any]:
    """The graphene ``info`` of the table: precomputed volume info plus the graph settings.

    A real table's ``data_dir`` is the watershed's bucket (gs://…). LocalCAVE's synthetic
    watershed lives nowhere else, so its ``data_dir`` is a path on LocalCAVE itself (``server``):
    CloudVolume, opening the volume, then asks LocalCAVE (which has no such files: 404, and
    CloudVolume goes on) and never a storage host.
    """
    geometry = graph.geometry
    scales = []
    for mip in range(_MESH_SCALES):
        factor = (2**mip, 2**mip, 1 if mip < 4 else 2 ** (mip - 3))
        resolution = [_number(r * f) for r, f in zip(geometry.resolution, factor, strict=True)]
        scales.append(
            {
                "chunk_sizes": [[256, 256, 32] if mip < 4 else [128, 128, 16]],
                "compressed_segmentation_block_size": [8, 8, 8],
                "encoding": "compressed_segmentation",
                "key": "_".join(str(int(r)) for r in resolution),
                "locked": True,
                "resolution": resolution,
                "size": [-(-s // f) for s, f in zip(geometry.voxel_size, factor, strict=True)],
                "voxel_offset": [o // f for o, f in zip(geometry.voxel_offset, factor, strict=True)],
            }
        )
    return {
        "app": {"supported_api_versions": list(API_VERSIONS)},
        "chunks_start_at_voxel_offset": True,
        "data_dir": (
            f"{server}/segmentation/watershed/{graph.table_id}"
            if server
            else f"gs://localcave-segmentation/{graph.table_id}/ws"
        ),
        "data_type": "uint64",
        "graph": {
            "bounding_box": [2048, 2048, 512],
            "chunk_size": list(geometry.chunk_size),
            "cv_mip": 0,
            "n_bits_for_layer_id": 8,
            "n_layers": graph.n_layers,
            "spatial_bit_masks": {str(layer): bits for layer, bits in graph.layout.spatial_bits.items()},
        },
        "mesh": "graphene_meshes",
        "mesh_dir": "graphene_meshes",
        "mesh_metadata": {"uniform_draco_grid_size": 21.0, "unsharded_mesh_dir": "dynamic"},
        "num_channels": 1,
        "scales": scales,
        "sharded_mesh": True,
        "skeletons": "skeleton",
        "type": "segmentation",
        "verify_mesh": False,
    }


def create_router(deployment: Deployment, guard: AuthGuard) -> Router:
    context = ChunkedGraphContext(deployment)
    handlers = {
        **lookup_handlers(context),
        **history_handlers(context),
        **edit_handlers(context),
    }

    def guarded(permission: str, handler: Handler) -> Endpoint:
        protect = guard.requires_permission(permission, namespace=NAMESPACE, table_param="table_id")
        return gzip_when_accepted(protect(pcg_endpoint(handler)))

    def any_user(handler: Handler) -> Endpoint:
        return gzip_when_accepted(guard.requires_auth()(pcg_endpoint(handler)))

    def info(request: PcgRequest) -> Response:
        return pcg_json(table_info(context.graph(request), request.base_url))

    def version(request: PcgRequest) -> Response:
        return pcg_json(SERVER_VERSION)

    def api_versions(request: PcgRequest) -> Response:
        return pcg_json(API_VERSIONS)

    async def banner(request: Request, caller: Caller) -> Response:
        return flask_text(f"PyChunkedGraph Segmentation v{SERVER_VERSION}")

    index = gzip_when_accepted(guard.requires_auth()(banner))
    routes = [
        Route("/", index),
        Route("/index", index),
        Route("/api/version", any_user(version)),
        Route("/api/versions", any_user(api_versions)),
        Route("/table/{table_id}/info", guarded("view", info)),
        Route("/api/v1/", index),
        Route("/api/v1/index", index),
    ]
    routes += [
        Route(f"{_TABLE}{path}", guarded(permission, handlers[name]), methods=[method])
        for method, path, name, permission in _TABLE_ROUTES
    ]
    return Router(routes, redirect_slashes=False)


def create_meshing_router(deployment: Deployment, guard: AuthGuard) -> Router:
    context = ChunkedGraphContext(deployment)
    remesh = edit_handlers(context)["remesh"]
    protect = guard.requires_permission("edit", namespace=NAMESPACE, table_param="table_id")
    return Router(
        [
            Route(
                f"{_TABLE}/remeshing",
                gzip_when_accepted(protect(pcg_endpoint(remesh))),
                methods=["POST"],
            )
        ],
        redirect_slashes=False,
    )
