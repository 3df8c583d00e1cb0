"""The L2 cache (PCGL2Cache 1.3.1): precomputed features of chunkedgraph level-2 nodes.

Plain Flask: the banner at ``/l2cache/``; under ``/l2cache/api/v1`` the attribute metadata and
table mapping (no token) and the attributes of level-2 ids (``view`` on the ``pychunkedgraph``
table). Errors there are the chunkedgraph's JSON with a traceback. With the dependencies of
today, 1.3.1 answers every ``attributes`` request with Flask's HTML 500 page (a server bug);
``LocalCAVE(idealised=["l2_attributes"])`` answers the features instead. Level-2 nodes of the seeded
history are cached; nodes made by later edits are computed when first asked for (the asking
request answers ``{}`` for them, as the real cache does while its workers run).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from ..auth.guard import AuthGuard, Caller
from ..chunkedgraph.segmentation.graph import SegmentationGraph
from ..server.pcg_wire import Endpoint, PcgRequest, gzip_when_accepted, pcg_endpoint, pcg_json
from ..server.wire import flask_error_page, flask_text
from ..world.deployment import Deployment
from ..world.fidelity import Fidelity
from .features import level2_features

PREFIX = "/l2cache"
SERVER_VERSION = "1.3.1"
NAMESPACE = "pychunkedgraph"
# Attribute name -> numpy storage type, as the cache's registry reports them.
ATTRIBUTE_TYPES = {
    "size_nm3": np.uint32,
    "area_nm2": np.uint32,
    "max_dt_nm": np.uint16,
    "mean_dt_nm": np.float16,
    "rep_coord_nm": np.uint16,
    "chunk_intersect_count": np.uint16,
    "pca": np.float16,
    "pca_val": np.float32,
}


class L2CacheContents:
    """Which level-2 nodes the cache holds: the seeded history's, plus those computed since."""

    def __init__(self, deployment: Deployment) -> None:
        self._graph = deployment.component(SegmentationGraph)
        self._seeded_epoch = self._graph.seeded_epoch
        self._computed: set[int] = set()
        self._lock = threading.Lock()

    def holds(self, l2_id: int) -> bool:
        record = self._graph.node(l2_id)
        if record is None or record.layer != 2:
            return False
        with self._lock:
            return record.created_epoch <= self._seeded_epoch or l2_id in self._computed

    def compute(self, l2_ids: list[int]) -> None:
        """Queue ids for computation; the simulated workers finish at once."""
        with self._lock:
            self._computed.update(l2_ids)


def _attributes(graph: SegmentationGraph, l2_id: int, names: list[str]) -> dict[str, Any]:
    features = level2_features(graph, l2_id)
    assert features is not None
    voxel_volume = float(np.prod(graph.base_resolution))
    values: dict[str, Any] = {
        "size_nm3": features.size_voxels * voxel_volume,
        "area_nm2": features.area_nm2,
        "max_dt_nm": features.max_dt_nm,
        "mean_dt_nm": features.mean_dt_nm,
        "rep_coord_nm": features.rep_coord_nm,
        "chunk_intersect_count": features.chunk_intersect_count,
        "pca": features.pca,
        "pca_val": features.pca_val,
    }
    return {name: values[name] for name in names}


def create_router(deployment: Deployment, guard: AuthGuard) -> Router:
    def contents() -> L2CacheContents:
        return deployment.component(L2CacheContents)

    def graph_of(table_id: str) -> SegmentationGraph:
        graph = deployment.component(SegmentationGraph)
        assert table_id == graph.table_id, f"Dataset {table_id} does not have an L2 Cache."
        return graph

    def attributes(request: PcgRequest) -> Response:
        if Fidelity.of(deployment).faithful("l2_attributes"):
            # PCGL2Cache 1.3.1 calls len() on a scalar, then its error handler fails too
            # (traceback.format_exception(etype=...)): Flask's own error page.
            return flask_error_page(500)
        l2_ids = np.unique(np.array(request.json()["l2_ids"], dtype=np.uint64)).tolist()
        names = list(ATTRIBUTE_TYPES)
        if "attribute_names" in request.args:
            requested = [name.strip() for name in request.args["attribute_names"].split(",")]
            for name in requested:
                ATTRIBUTE_TYPES[name]  # an unknown name fails the request (KeyError), as on the server
            names = requested
        graph = graph_of(request.path_params["table_id"])
        cache = contents()
        answer: dict[int, dict[str, Any]] = {}
        missing = []
        for l2_id in l2_ids:
            if cache.holds(l2_id):
                answer[l2_id] = _attributes(graph, l2_id, names)
            else:
                answer[l2_id] = {}
                missing.append(l2_id)
        if request.boolean("update_cache", True) and l2_ids:
            cache.compute([l2 for l2 in missing if graph.node(l2) is not None])
        return pcg_json(answer, int64_as_str=request.boolean("int64_as_str", False))

    def attribute_metadata(request: PcgRequest) -> Response:
        return pcg_json({name: str(kind) for name, kind in ATTRIBUTE_TYPES.items()})

    def table_mapping(request: PcgRequest) -> Response:
        table = deployment.component(SegmentationGraph).table_id
        cv_path = f"graphene://{deployment.base_url}/segmentation/table/{table}"
        return pcg_json({table: {"cv_path": cv_path, "l2cache_id": f"l2cache_{table}_v1"}})

    def open_to_all(handler: Callable[[PcgRequest], Response]) -> Endpoint:
        endpoint = pcg_endpoint(handler)

        async def anonymous(request: Request) -> Response:
            return await endpoint(request, Caller({"id": 0}, None))

        return gzip_when_accepted(anonymous)

    async def banner(request: Request) -> Response:
        return flask_text(f"PCGL2Cache v{SERVER_VERSION}")

    async def guarded_banner(request: Request, caller: Caller) -> Response:
        return flask_text(f"PCGL2Cache v{SERVER_VERSION}")

    api_banner = gzip_when_accepted(guard.requires_auth()(guarded_banner))
    protect = guard.requires_permission("view", namespace=NAMESPACE, table_param="table_id")
    return Router(
        [
            Route("/", banner),
            Route("/index", banner),
            Route("/api/v1/", api_banner),
            Route("/api/v1/index", api_banner),
            Route("/api/v1/attribute_metadata", open_to_all(attribute_metadata)),
            Route("/api/v1/table_mapping", open_to_all(table_mapping)),
            Route(
                "/api/v1/table/{table_id}/attributes",
                gzip_when_accepted(protect(pcg_endpoint(attributes))),
                methods=["POST"],
            ),
        ],
        redirect_slashes=False,
    )
