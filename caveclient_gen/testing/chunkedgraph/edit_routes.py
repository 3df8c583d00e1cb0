"""Chunkedgraph routes that edit the graph (merge, split, undo), preview splits and queue remeshing.

Edits happen at the current wall-clock time (to the millisecond, after every earlier edit) and
are logged under the caller's user id. Points arrive in nanometres and name a supervoxel or a
node containing the wanted supervoxel, which is looked up near the point.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from starlette.responses import Response

from ..server.pcg_wire import PcgRequest, bad_request, pcg_json, raw_bytes
from ..world.deployment import Deployment
from ..world.fidelity import MERGE_BOX_VOXELS, Fidelity
from . import queries
from .common import ChunkedGraphContext, edit_time
from .segmentation.edits import EditPreconditionError
from .segmentation.graph import SegmentationGraph
from .segmentation.state import Operation, Point

Handler = Callable[[PcgRequest], Response]


class RemeshQueue:
    """Ids of queued remeshing jobs (uuid4 text, as rq makes them), drawn from the seed."""

    def __init__(self, deployment: Deployment) -> None:
        self._stream = deployment.stream("remesh-task-ids")
        self._lock = threading.Lock()

    def next_task_id(self) -> str:
        with self._lock:
            return str(uuid.UUID(int=self._stream.getrandbits(128), version=4))


def _points(graph: SegmentationGraph, nodes: Sequence[Sequence[float]]) -> tuple[list[int], np.ndarray]:
    """Node ids and positions in voxels of the base resolution (nm divided by the resolution)."""
    resolution = np.asarray(graph.base_resolution)
    ids = [int(node[0]) for node in nodes]
    return ids, np.array([np.array(node[1:], dtype=np.float64) / resolution for node in nodes])


def _logged_points(voxels: np.ndarray) -> list[Point]:
    """Coordinates as the operation log stores them: int64, truncated."""
    return [(int(x), int(y), int(z)) for x, y, z in voxels.astype(np.int64).tolist()]


def _result(operation: Operation | None, request: PcgRequest) -> Response:
    body: dict[str, Any] = {
        "operation_id": None if operation is None else np.uint64(operation.id),
        "new_root_ids": np.array([] if operation is None else operation.new_root_ids, dtype=np.uint64),
    }
    return pcg_json(body, int64_as_str=request.boolean("int64_as_str", False))


def edit_handlers(context: ChunkedGraphContext) -> dict[str, Handler]:
    fidelity = Fidelity.of(context.deployment)

    def merge_box() -> Point | None:
        return MERGE_BOX_VOXELS if fidelity.faithful("merge_requested_edge_only") else None

    def merge(request: PcgRequest) -> Response:
        graph = context.graph(request)
        user = str(request.caller.user_id)
        nodes = request.json()
        chebyshev_distance = request.integer("chebyshev_distance", 3)
        assert len(nodes) == 2
        ids, voxels = _points(graph, nodes)
        first, second = queries.find_supervoxels(graph, ids, voxels, edge_margin=context.edge_margin())
        chunks = [
            np.array(graph.layout.chunk_coordinates(int(graph.supervoxel_ids[sv])))
            for sv in (first, second)
        ]
        if np.any(np.abs(chunks[0] - chunks[1]) > chebyshev_distance):
            raise bad_request(
                "Chebyshev distance between merge points exceeded allowed maximum (3 chunks)."
            )
        source, sink = _logged_points(voxels)
        with graph.lock:
            try:
                operation = graph.merge(
                    user,
                    edit_time(graph),
                    first,
                    second,
                    source,
                    sink,
                    box_voxels=MERGE_BOX_VOXELS
                    if fidelity.faithful("merge_requested_edge_only")
                    else None,
                )
            except EditPreconditionError as error:
                raise bad_request(str(error)) from error
        return _result(operation, request)

    def split_points(
        request: PcgRequest,
    ) -> tuple[SegmentationGraph, list[int], list[int], np.ndarray, np.ndarray]:
        graph = context.graph(request)
        data = request.json()
        sides = [(node, side) for side in ("sources", "sinks") for node in data[side]]
        ids, voxels = _points(graph, [node for node, _ in sides])
        found = queries.find_supervoxels(graph, ids, voxels, edge_margin=context.edge_margin())
        is_source = np.array([side == "sources" for _, side in sides])
        sources = [sv for sv, source in zip(found, is_source.tolist(), strict=True) if source]
        sinks = [sv for sv, source in zip(found, is_source.tolist(), strict=True) if not source]
        return graph, sources, sinks, voxels[is_source], voxels[~is_source]

    def split(request: PcgRequest) -> Response:
        user = str(request.caller.user_id)
        mincut = request.loose_boolean("mincut", True)
        graph, sources, sinks, source_voxels, sink_voxels = split_points(request)
        with graph.lock:
            try:
                operation = graph.split(
                    user,
                    edit_time(graph),
                    sources,
                    sinks,
                    _logged_points(source_voxels),
                    _logged_points(sink_voxels),
                    mincut=mincut,
                    cross_chunk_twice=fidelity.faithful("split_weights_once"),
                )
            except EditPreconditionError as error:
                raise bad_request(str(error)) from error
        return _result(operation, request)

    def split_preview(request: PcgRequest) -> Response:
        graph, sources, sinks, _, _ = split_points(request)
        try:
            plan = graph.plan_split(
                sources, sinks, cross_chunk_twice=fidelity.faithful("split_weights_once")
            )
        except EditPreconditionError as error:
            raise bad_request(str(error)) from error
        body = {
            "supervoxel_connected_components": [
                graph.supervoxel_ids[np.array(component, dtype=np.int64)]
                for component in plan.components
            ],
            "illegal_split": plan.illegal,
        }
        return pcg_json(body, int64_as_str=request.boolean("int64_as_str", False))

    def undo(request: PcgRequest) -> Response:
        graph = context.graph(request)
        user = str(request.caller.user_id)
        operation_id = int(np.uint64(request.json()["operation_id"]))
        with graph.lock:
            try:
                operation = graph.undo(user, edit_time(graph), operation_id)
            except EditPreconditionError as error:
                raise bad_request(str(error)) from error
        return _result(operation, request)

    def remesh(request: PcgRequest) -> Response:
        context.graph(request)
        new_lvl2_ids = request.json()["new_lvl2_ids"]
        if request.loose_boolean("use_redis", False):
            task_id = context.deployment.component(RemeshQueue).next_task_id()
            body = {"status": "success", "data": {"task_id": task_id}}
            return pcg_json(body, status=202)
        np.array(new_lvl2_ids, dtype=np.uint64)
        return raw_bytes(b"", 202)

    return {
        "merge": merge,
        "split": split,
        "split_preview": split_preview,
        "undo": undo,
        "remesh": remesh,
    }
