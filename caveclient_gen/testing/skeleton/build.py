"""Skeletons built from the level-2 graph, the way pcg_skel builds them for the skeleton service.

One vertex per level-2 node of the root, at the node's representative point (nm), joined by a
breadth-first spanning tree of the level-2 graph from the soma (edges point from child to parent).
Radii come from the nodes' distance-transform maxima; compartments mark the soma (1), one
primary branch as axon (2) and the rest as dendrite (3).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..chunkedgraph.queries import descendants
from ..chunkedgraph.segmentation.graph import SegmentationGraph
from ..l2cache.features import L2Features, level2_features

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
UInt64Array = npt.NDArray[np.uint64]

SOMA, AXON, DENDRITE = 1, 2, 3


@dataclass(frozen=True)
class Skeleton:
    root_id: int
    created: float
    """When the root was made (epoch seconds)."""
    vertices: FloatArray
    """(N, 3) positions in nm; vertex 0 is the root (soma), parents come before their children."""
    parents: IntArray
    """Parent vertex of each vertex; -1 for the root."""
    radius: FloatArray
    compartment: npt.NDArray[np.uint8]
    lvl2_ids: UInt64Array
    """The root's level-2 ids in mesh order (ascending)."""
    mesh_to_skel_map: IntArray
    """For each entry of ``lvl2_ids``, its vertex."""

    @property
    def edges(self) -> IntArray:
        children = np.flatnonzero(self.parents >= 0)
        return np.stack([children, self.parents[children]], axis=1).astype(np.int64)


def build_skeleton(graph: SegmentationGraph, root_id: int) -> Skeleton:
    record = graph.node(root_id)
    if record is None or record.layer != graph.n_layers:
        raise ValueError(f"{root_id} is not a root id of the segmentation")
    level2 = np.sort(descendants(graph, root_id, 2))
    features = [_features(graph, int(l2)) for l2 in level2.tolist()]
    positions = np.array([feature.rep_coord_nm for feature in features])
    neighbours: dict[int, list[int]] = {int(l2): [] for l2 in level2.tolist()}
    for a, b in graph.state.root_l2_edges.get(root_id, []):
        if a in neighbours and b in neighbours:
            neighbours[a].append(b)
            neighbours[b].append(a)

    start = _soma_node(graph, root_id, record.created_epoch, level2, features)
    order, parent_of = [start], {start: -1}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for neighbour in sorted(neighbours[node]):
            if neighbour not in parent_of:
                parent_of[neighbour] = node
                order.append(neighbour)
                queue.append(neighbour)
    vertex_of = {node: index for index, node in enumerate(order)}
    mesh_index = {int(l2): index for index, l2 in enumerate(level2.tolist())}
    parents = np.array([vertex_of.get(parent_of[node], -1) for node in order], dtype=np.int64)
    radius = np.array([float(features[mesh_index[node]].max_dt_nm) for node in order])
    return Skeleton(
        root_id=root_id,
        created=graph.epoch_time(record.created_epoch).timestamp(),
        vertices=positions[[mesh_index[node] for node in order]],
        parents=parents,
        radius=radius,
        compartment=_compartments(parents),
        lvl2_ids=level2.astype(np.uint64),
        mesh_to_skel_map=np.array([vertex_of[int(l2)] for l2 in level2.tolist()], dtype=np.int64),
    )


def _features(graph: SegmentationGraph, l2_id: int) -> L2Features:
    features = level2_features(graph, l2_id)
    if features is None:
        raise ValueError(f"{l2_id} is not a level-2 id of the segmentation")
    return features


def _soma_node(
    graph: SegmentationGraph, root_id: int, epoch: int, level2: UInt64Array, features: list[L2Features]
) -> int:
    """The level-2 node holding a neuron's soma centre, else the biggest one."""
    members = descendants(graph, root_id, 1)
    somas = np.intersect1d(graph.soma_supervoxels(), members)
    if len(somas):
        return int(graph.level2_ids_at(somas[:1], epoch)[0])
    sizes = [int(feature.size_voxels) for feature in features]
    return int(level2[int(np.argmax(sizes))])


def _compartments(parents: IntArray) -> npt.NDArray[np.uint8]:
    """Soma at the root; the root's biggest primary branch is the axon when it has several."""
    n = len(parents)
    compartment = np.full(n, DENDRITE, dtype=np.uint8)
    compartment[0] = SOMA
    branch = np.full(n, -1, dtype=np.int64)
    for vertex in range(1, n):
        branch[vertex] = vertex if parents[vertex] == 0 else branch[parents[vertex]]
    primaries, sizes = np.unique(branch[1:], return_counts=True)
    if len(primaries) >= 2:
        compartment[branch == primaries[int(np.argmax(sizes))]] = AXON
    return compartment
