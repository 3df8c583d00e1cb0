"""Structure lookups of the chunkedgraph: roots, children, leaves, covers, graphs, contacts, paths.

Each function follows the PyChunkedGraph routine its route calls, including its failure modes
(e.g. ids that have no parent at a time, or an unpacking that only works for two partners).
Supervoxels are passed around as dense indices where noted, ids elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import numpy.typing as npt

from ..l2cache.features import level2_features
from ..server.pcg_wire import bad_request
from .segmentation.graph import SegmentationGraph
from .segmentation.graph_algorithms import components_from_pairs, shortest_path
from .segmentation.state import NodeRecord

UInt64Array = npt.NDArray[np.uint64]
IntArray = npt.NDArray[np.int64]
Bounds = npt.NDArray[np.int64]

_LOOKUP_STEPS = (4, 8, 14, 28)
"""Search radii of the supervoxel lookup, in units of the mean voxel size."""


class ChunkedGraphError(Exception):
    """PyChunkedGraph's base error (not an API error: the routes answer it as an unhandled 500)."""


def _layer(graph: SegmentationGraph, node: int) -> int:
    return graph.layout.layer(node)


def climb(graph: SegmentationGraph, node: int, epoch: int, stop_layer: int) -> int | None:
    """The first ancestor of ``node`` at or above ``stop_layer`` at ``epoch``; None if it has none."""
    current = node
    while _layer(graph, current) < stop_layer:
        parent = graph.parent_at(current, epoch)
        if parent is None:
            return None
        current = parent
    return current


def get_root(graph: SegmentationGraph, node: int, timestamp: datetime, stop_layer: int | None) -> int:
    stop = stop_layer or graph.n_layers
    if _layer(graph, node) == stop:
        return node
    epoch = graph.epoch_at(timestamp)
    found = climb(graph, node, epoch, stop) if epoch >= 0 else None
    if found is None:
        raise ChunkedGraphError(f"Cannot find root id {node}, {stop_layer}, {timestamp}")
    return found


def get_roots(
    graph: SegmentationGraph,
    ids: UInt64Array,
    timestamp: datetime,
    stop_layer: int | None,
    *,
    fail_to_zero: bool = True,
    assert_roots: bool = False,
) -> UInt64Array:
    """Ancestors at ``stop_layer`` (the root layer by default) of many nodes, vectorised."""
    stop = stop_layer or graph.n_layers
    assert stop <= graph.n_layers
    epoch = graph.epoch_at(timestamp)
    layers = graph.layout.layers(ids)
    result = ids.copy()
    pending = (layers < stop) & (ids != 0)
    resolved = np.zeros(len(ids), dtype=bool)
    if epoch >= 0 and pending.any():
        supervoxels = pending & (layers == 1)
        if supervoxels.any():
            if stop == graph.n_layers:
                found = graph.roots_at_epoch(ids[supervoxels], epoch)
            else:
                found = _climb_many(graph, graph.level2_ids_at(ids[supervoxels], epoch), epoch, stop)
            result[supervoxels] = found
            resolved[supervoxels] = found != 0
        others = pending & (layers > 1)
        if others.any():
            found = _climb_many(graph, ids[others], epoch, stop)
            result[others] = found
            resolved[others] = found != 0
    if pending.any() and not resolved[pending].any():
        # The server returns the ids untouched when none of them has a parent at that time.
        return ids.copy()
    missing = pending & ~resolved
    if missing.any():
        if not fail_to_zero:
            raise KeyError()
        result[missing] = 0
    if assert_roots and stop == graph.n_layers:
        assert not np.any(graph.layout.layers(result) < graph.n_layers), "roots not found for some IDs"
    return result


def _climb_many(graph: SegmentationGraph, nodes: UInt64Array, epoch: int, stop: int) -> UInt64Array:
    unique, inverse = np.unique(nodes, return_inverse=True)
    found = [0 if node == 0 else climb(graph, int(node), epoch, stop) or 0 for node in unique.tolist()]
    return np.array(found, dtype=np.uint64)[inverse]


def children(graph: SegmentationGraph, node: int) -> npt.NDArray[np.generic]:
    if _layer(graph, node) <= 1:
        return np.array([])
    record = graph.node(node)
    return np.array([], dtype=np.uint64) if record is None else record.children


def bounds_chunks(graph: SegmentationGraph, bounds: Bounds | None) -> tuple[IntArray, IntArray] | None:
    """Level-2 chunk range [low, high) covered by a voxel bounding box."""
    if bounds is None:
        return None
    geometry = graph.geometry
    offset, size = np.array(geometry.voxel_offset), np.array(geometry.chunk_size)
    low = np.floor((bounds[0] - offset) / size).astype(np.int64)
    high = np.ceil((bounds[1] - offset) / size).astype(np.int64)
    return low, high


def _in_chunks(graph: SegmentationGraph, node: int, chunks: tuple[IntArray, IntArray] | None) -> bool:
    layer = _layer(graph, node)
    if chunks is None or layer >= graph.n_layers:
        return True
    scale = 1 << max(layer - 2, 0)
    low = np.array(graph.layout.chunk_coordinates(node)) * scale
    return bool(np.all(low < chunks[1]) and np.all(low + scale > chunks[0]))


def descendants(
    graph: SegmentationGraph, node: int, stop_layer: int, bounds: Bounds | None = None
) -> UInt64Array:
    """Descendants at ``stop_layer`` (or lower, where layers are skipped), within ``bounds``.

    Bounds work at chunk granularity: a node is kept when its chunk overlaps the box.
    """
    if _layer(graph, node) <= stop_layer:
        return np.array([node], dtype=np.uint64)
    chunks = bounds_chunks(graph, bounds)
    found: list[int] = []
    pending = [node]
    while pending:
        record = graph.node(pending.pop())
        if record is None or not _in_chunks(graph, record.id, chunks):
            continue
        for child in reversed(record.children.tolist()):
            child_layer = _layer(graph, child)
            if child_layer > stop_layer:
                pending.append(child)
            elif child_layer == 1 or _in_chunks(graph, child, chunks):
                found.append(child)
    return np.array(found[::-1], dtype=np.uint64)


def minimal_covering_nodes(
    graph: SegmentationGraph, ids: UInt64Array, timestamp: datetime
) -> UInt64Array:
    layers = graph.layout.layers(ids).tolist()
    queue: dict[int, set[int]] = {}
    for node, layer in zip(ids.tolist(), layers, strict=True):
        queue.setdefault(layer, set()).add(node)
    min_layer = min(layers)
    covered = {int(leaf) for node in ids.tolist() for leaf in descendants(graph, node, min_layer)}
    chosen: dict[int, set[int]] = {}
    for layer in range(min_layer, graph.n_layers):
        current = sorted(queue.get(layer, ()))
        if not current:
            continue
        parents = get_roots(
            graph, np.array(current, dtype=np.uint64), timestamp, layer + 1, fail_to_zero=False
        )
        for parent in np.unique(parents).tolist():
            leaves = descendants(graph, parent, min_layer).tolist()
            if all(leaf in covered for leaf in leaves):
                queue.setdefault(_layer(graph, parent), set()).add(parent)
                continue
            for child in children(graph, parent).tolist():
                if child in queue.get(_layer(graph, child), ()):
                    chosen.setdefault(_layer(graph, child), set()).add(child)
        queue[layer] = set()
    if not chosen:
        raise ValueError("need at least one array to concatenate")
    return np.array([node for nodes in chosen.values() for node in sorted(nodes)], dtype=np.uint64)


def is_latest_roots(
    graph: SegmentationGraph, ids: UInt64Array, timestamp: datetime
) -> npt.NDArray[np.bool_]:
    """Existing at ``timestamp`` and not superseded by then (any existing non-root node counts)."""
    epoch = graph.epoch_at(timestamp)
    return np.array([_is_latest(graph.node(node), epoch) for node in ids.tolist()], dtype=bool)


def _is_latest(record: NodeRecord | None, epoch: int) -> bool:
    if record is None or record.created_epoch > epoch:
        return False
    superseded = _superseded_at(record)
    return superseded is None or superseded > epoch


def _superseded_at(record: NodeRecord) -> int | None:
    """Epoch of the edit that gave a root a newer root (None for current roots and other nodes)."""
    return record.retired_epoch if record.retired_by is not None else None


def root_timestamps(
    graph: SegmentationGraph, ids: UInt64Array, timestamp: datetime, *, latest: bool
) -> list[float]:
    records = [graph.node(node) for node in ids.tolist()]
    if not latest:
        if all(record is None for record in records):
            return []
        times = []
        for node, record in zip(ids.tolist(), records, strict=True):
            if record is None:
                raise KeyError(np.uint64(node))
            times.append(graph.epoch_time(record.created_epoch).timestamp())
        return times
    epoch = graph.epoch_at(timestamp)
    current = is_latest_roots(graph, ids, timestamp).tolist()
    superseded = [
        graph.epoch_time(when).timestamp()
        for record, now in zip(records, current, strict=True)
        if not now
        and record is not None
        and (when := _superseded_at(record)) is not None
        and when <= epoch
    ]
    answer = []
    for now in current:
        # Like the server, an id without a newer root leaves the queue short (IndexError).
        answer.append(timestamp.timestamp() if now else superseded.pop(0))
    return answer


def valid_nodes(
    graph: SegmentationGraph, ids: UInt64Array, start: datetime | None, end: datetime | None
) -> UInt64Array:
    """The ids that have a row written between ``start`` and ``end``."""
    low = -1 if start is None else graph.epoch_at(start)
    high = graph.current_epoch if end is None else graph.epoch_at(end)
    start_exact = start is None or graph.epoch_time(max(low, 0)) >= start
    found = []
    for node in sorted(set(ids.tolist())):
        for epoch in _write_epochs(graph, node):
            # A write at epoch e happened at epoch_time(e): inside the window when low < e <= high,
            # or e == low when that epoch began exactly at ``start``.
            if (low < epoch <= high) or (epoch == low and start_exact):
                found.append(node)
                break
    return np.array(found, dtype=np.uint64)


def _write_epochs(graph: SegmentationGraph, node: int) -> list[int]:
    if _layer(graph, node) == 1:
        return [0] if graph.supervoxel_index(np.array([node], dtype=np.uint64))[0] >= 0 else []
    record = graph.node(node)
    if record is None:
        return []
    epochs = [record.created_epoch, *record.parent_epochs]
    if record.retired_by is not None and record.retired_epoch is not None:
        epochs.append(record.retired_epoch)
    return epochs


def level2_edges(graph: SegmentationGraph, node: int, bounds: Bounds | None) -> UInt64Array:
    """Edges between the level-2 descendants of a node, as recorded when its root was made."""
    record = graph.node(node)
    if record is None or record.layer <= 2:
        return np.zeros((0, 2), dtype=np.uint64)
    level2 = set(descendants(graph, node, 2, bounds).tolist())
    root = (
        climb(graph, node, record.created_epoch, graph.n_layers)
        if record.layer < graph.n_layers
        else node
    )
    edges = graph.state.root_l2_edges.get(root or 0, [])
    kept = [edge for edge in edges if edge[0] in level2 and edge[1] in level2]
    return np.array(kept, dtype=np.uint64).reshape(-1, 2)


def subgraph(
    graph: SegmentationGraph, node: int, bounds: Bounds | None, *, only_internal_edges: bool
) -> tuple[UInt64Array, npt.NDArray[np.float32], UInt64Array]:
    """Supervoxel edges of a node (pairs, affinities, areas)."""
    members = graph.supervoxel_index(descendants(graph, node, 1, bounds))
    members = members[members >= 0]
    inside = set(members.tolist())
    sv_graph = graph.state.graph
    edges = sorted(
        {
            edge
            for sv in inside
            for edge in sv_graph.incident_edges(sv)
            if not only_internal_edges or set(sv_graph.ends(edge)) <= inside
        }
    )
    ids = graph.supervoxel_ids
    pairs = np.array([[ids[a], ids[b]] for a, b in map(sv_graph.ends, edges)], dtype=np.uint64)
    affinities = np.array([sv_graph.affinity(edge) for edge in edges], dtype=np.float32)
    areas = np.array([sv_graph.area(edge) for edge in edges], dtype=np.uint64)
    return pairs.reshape(-1, 2), affinities, areas


def contact_sites(
    graph: SegmentationGraph, root: int, timestamp: datetime, bounds: Bounds | None, *, partners: bool
) -> dict[int, list[int]]:
    """Contact areas with neighbouring segments, grouped by partner (or by running index)."""
    members = graph.supervoxel_index(descendants(graph, root, 1, bounds))
    inside = set(members[members >= 0].tolist())
    sv_graph = graph.state.graph
    areas: dict[int, int] = {}
    for sv in sorted(inside):
        for edge in sv_graph.incident_edges(sv):
            if sv_graph.is_active(edge):
                continue  # the server looks at the edges that do not connect (to other segments)
            a, b = sv_graph.ends(edge)
            other = b if a == sv else a
            if other not in inside:
                areas[other] = areas.get(other, 0) + sv_graph.area(edge)
    touching = sorted(areas)
    nearby = {n for sv in touching for n in sv_graph.neighbours(sv)} | set(touching)
    pairs = [(sv, n) for sv in touching for n in sv_graph.neighbours(sv)]
    epoch = graph.epoch_at(timestamp)
    by_partner: dict[int, list[int]] = {}
    for component in components_from_pairs(nearby, pairs):
        contact = [sv for sv in component if sv in areas]
        if not contact:
            continue
        key = (
            int(graph.roots_at_epoch(graph.supervoxel_ids[contact[:1]], epoch)[0])
            if partners
            else len(by_partner)
        )
        by_partner.setdefault(key, []).append(sum(areas[sv] for sv in contact))
    return by_partner


def find_supervoxels(
    graph: SegmentationGraph,
    node_ids: Sequence[int],
    coordinates: npt.ArrayLike,
    *,
    edge_margin: int | None = None,
) -> list[int]:
    """PyChunkedGraph's supervoxel lookup: for each point (voxels), a supervoxel of its node near it.

    Returns dense supervoxel indices; a point with no such supervoxel nearby answers 400. With
    `edge_margin`, a point that close to the volume's edge (or outside it) fails like the server's
    lookup, which cuts a box of that reach out of the volume (a ValueError: 500).
    """
    points = np.array(coordinates).astype(np.int64)
    if points.ndim != 2:
        raise bad_request(
            f"Could not determine supervoxel ID for coordinates {points} - Validation stage."
        )
    if edge_margin is not None:
        _check_lookup_box(graph, points, edge_margin)
    resolution = np.asarray(graph.base_resolution)
    epoch = graph.current_epoch
    found = []
    for node, point in zip(node_ids, points, strict=True):
        supervoxel = _supervoxel_near(graph, int(node), point, epoch, resolution)
        if supervoxel is None:
            raise bad_request(
                f"Could not determine supervoxel ID for coordinates {points} - Lookup stage."
            )
        found.append(supervoxel)
    return found


def _check_lookup_box(graph: SegmentationGraph, points: IntArray, margin: int) -> None:
    bounds = graph.geometry.bounds_voxels
    for point in points:
        for axis in range(3):
            low, high = int(point[axis]) - margin, int(point[axis]) + margin
            first, last = int(bounds[axis, 0]), int(bounds[axis, 1])
            for value in (low, high):
                if not first <= value <= last:
                    raise ValueError(
                        f"Value {value} cannot be outside of inclusive range {first} to {last}"
                    )


def _supervoxel_near(
    graph: SegmentationGraph, node: int, point: IntArray, epoch: int, resolution: npt.NDArray[np.float64]
) -> int | None:
    geometry = graph.geometry
    point_nm = point * resolution
    cell_nm = geometry.cell_size * resolution
    radius = max(_LOOKUP_STEPS) * float(resolution.mean())
    reach = np.ceil(radius / cell_nm).astype(np.int64)
    centre = geometry.cells_at_voxels(point[None, :].astype(np.float64) + 0.5)[0]
    if centre < 0:
        return None
    grid = geometry.grid_coordinates(np.array([centre]))[0]
    offsets = np.stack(
        np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij"), axis=-1
    ).reshape(-1, 3)
    around = grid + offsets
    inside = np.all((around >= 0) & (around < geometry.grid_shape), axis=1)
    cells = geometry.cell_index(around[inside])
    supervoxels = graph.cell_to_sv[cells]
    cells, supervoxels = cells[supervoxels >= 0], supervoxels[supervoxels >= 0]
    if len(supervoxels) == 0:
        return None
    low = geometry.cell_corner_voxels(cells) * resolution
    gap = np.maximum(np.maximum(low - point_nm, point_nm - (low + cell_nm)), 0)
    distance = np.linalg.norm(gap, axis=1)
    layer = _layer(graph, node)
    for step in _LOOKUP_STEPS:
        limit = step * float(resolution.mean())
        for index in np.argsort(distance, kind="stable").tolist():
            if distance[index] > limit:
                break
            sv = int(supervoxels[index])
            sv_id = int(graph.supervoxel_ids[sv])
            owner = sv_id if layer == 1 else climb(graph, sv_id, epoch, layer)
            if owner == node:
                return sv
    return None


def find_path(
    graph: SegmentationGraph,
    nodes: Sequence[Sequence[float]],
    *,
    precision_mode: bool,
    edge_margin: int | None = None,
) -> dict[str, object]:
    """Shortest level-2 path between two points of a root, with coordinates along it."""
    assert len(nodes) == 2
    resolution = np.asarray(graph.base_resolution)
    node_ids = [int(node[0]) for node in nodes]
    coordinates = [np.array(node[1:]) / resolution for node in nodes]
    source, target = find_supervoxels(graph, node_ids, coordinates, edge_margin=edge_margin)
    epoch_now = graph.current_epoch
    source_l2 = graph.parent_at(int(graph.supervoxel_ids[source]), epoch_now)
    target_l2 = graph.parent_at(int(graph.supervoxel_ids[target]), epoch_now)
    root_record = graph.node(node_ids[0])
    if root_record is None or source_l2 is None or target_l2 is None:
        raise KeyError(np.uint64(node_ids[0]))
    shared = _first_shared_parent(graph, source_l2, target_l2, root_record.created_epoch)
    if shared is None:
        raise TypeError("'NoneType' object is not iterable")
    neighbours: dict[int, list[int]] = {}
    for a, b in level2_edges(graph, shared, None).tolist():
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    path = shortest_path(source_l2, target_l2, lambda n: neighbours.get(n, []))
    l2_path = np.array(path or [source_l2], dtype=np.uint64)
    if precision_mode:
        centroids = []
        for l2 in l2_path.tolist():
            features = level2_features(graph, l2)
            centroids.append(features.rep_coord_nm if features is not None else np.zeros(3))
        return {
            "centroids_list": centroids,
            "failed_l2_ids": np.array([], dtype=np.uint64),
            "l2_path": l2_path,
        }
    geometry = graph.geometry
    rough = [
        (
            (np.array(graph.layout.chunk_coordinates(l2)) + 0.5) * geometry.chunk_size
            + geometry.voxel_offset
        )
        * resolution
        for l2 in l2_path.tolist()
    ]
    return {
        "centroids_list": [point.astype(np.float32) for point in rough],
        "failed_l2_ids": [],
        "l2_path": l2_path,
    }


def _first_shared_parent(graph: SegmentationGraph, first: int, second: int, epoch: int) -> int | None:
    seen_first: set[int] = set()
    seen_second: set[int] = set()
    a: int | None = first
    b: int | None = second
    while a is not None or b is not None:
        if a is not None:
            seen_first.add(a)
        if b is not None:
            seen_second.add(b)
        if a in seen_second:
            return a
        if b in seen_first:
            return b
        a = graph.parent_at(a, epoch) if a is not None else None
        b = graph.parent_at(b, epoch) if b is not None else None
    return None
