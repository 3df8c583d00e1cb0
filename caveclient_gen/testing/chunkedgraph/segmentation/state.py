"""The chunkedgraph's nodes over time: supervoxels, level-2 nodes, higher layers and roots.

Time is counted in *epochs*: epoch 0 is the segmentation as ingested, epoch k the state after the
k-th successful edit. Every node keeps the epoch it was created in, its children (fixed for life,
as in PyChunkedGraph) and the history of its parent pointer. An edit rebuilds the segments it
touches: level-2 nodes are the connected pieces of a segment inside one chunk, higher-layer nodes
group the nodes of a segment that are connected inside a chunk of that layer (a node with nothing
to group with skips the layer), and the root holds what is left. Nodes whose content did not
change keep their ids; everything else gets a new id, and every touched segment a new root id.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np
import numpy.typing as npt

from .graph_algorithms import components_from_pairs
from .ids import NodeIdLayout
from .supervoxel_graph import SupervoxelGraph

UInt64Array = npt.NDArray[np.uint64]
IntArray = npt.NDArray[np.int64]
OperationKind = Literal["merge", "split", "undo", "redo"]
Point = tuple[int, int, int]

# PyChunkedGraph hands out root segment ids from 256 counters; these values give roots that read
# like minnie65's (864691135...).
ROOT_SEGMENT_BASE = 6_600_000_000
ROOT_COUNTERS = 256


@dataclass
class NodeRecord:
    id: int
    layer: int
    children: UInt64Array
    created_epoch: int
    parent_epochs: list[int] = field(default_factory=list)
    parent_ids: list[int] = field(default_factory=list)
    retired_epoch: int | None = None
    """Roots: the epoch of the edit that superseded them. Other nodes: when they left the graph."""
    # Lineage, for roots only.
    created_by: int | None = None
    retired_by: int | None = None
    former_roots: tuple[int, ...] = ()
    new_roots: tuple[int, ...] = ()

    def parent_at(self, epoch: int) -> int | None:
        position = bisect.bisect_right(self.parent_epochs, epoch)
        return self.parent_ids[position - 1] if position else None

    def set_parent(self, epoch: int, parent: int) -> None:
        if self.parent_ids and self.parent_ids[-1] == parent:
            return
        self.parent_epochs.append(epoch)
        self.parent_ids.append(parent)

    def alive_at(self, epoch: int) -> bool:
        return self.created_epoch <= epoch and (self.retired_epoch is None or epoch < self.retired_epoch)


@dataclass(frozen=True)
class Operation:
    """One logged edit, with what PyChunkedGraph stores in its operation log."""

    id: int
    epoch: int
    timestamp: datetime
    user_id: str
    kind: OperationKind
    new_root_ids: tuple[int, ...]
    old_root_ids: tuple[int, ...]
    new_l2_ids: tuple[int, ...]
    added_edges: tuple[tuple[int, int], ...] = ()
    removed_edges: tuple[tuple[int, int], ...] = ()
    source_ids: tuple[int, ...] = ()
    sink_ids: tuple[int, ...] = ()
    source_coords: tuple[Point, ...] | None = None
    sink_coords: tuple[Point, ...] | None = None
    bb_offset: Point | None = None
    target_operation_id: int | None = None
    """The operation an undo undid or a redo redid."""
    edge_indices: tuple[int, ...] = ()
    """The supervoxel-graph edges switched by the edit (on for merges, off for splits)."""

    @property
    def is_merge(self) -> bool:
        """PyChunkedGraph's test: the log record carries added edges."""
        return bool(self.added_edges)


@dataclass(frozen=True)
class RebuildResult:
    new_roots: list[int]
    new_l2_ids: list[int]


class SegmentationState:
    """Nodes, their parent histories and the current assignment of supervoxels; mutated by edits."""

    def __init__(
        self,
        layout: NodeIdLayout,
        graph: SupervoxelGraph,
        supervoxel_ids: UInt64Array,
        supervoxel_chunks: IntArray,
        rng: np.random.Generator,
    ) -> None:
        self.layout = layout
        self.graph = graph
        self.supervoxel_ids = supervoxel_ids
        self._sv_chunk: list[tuple[int, ...]] = list(map(tuple, supervoxel_chunks.tolist()))
        self._rng = rng
        n = len(supervoxel_ids)
        self.sv_root = np.zeros(n, dtype=np.uint64)
        self.sv_l2 = np.zeros(n, dtype=np.uint64)
        self.nodes: dict[int, NodeRecord] = {}
        self.l2_members: dict[int, IntArray] = {}
        self.root_members: dict[int, list[int]] = {}
        self.root_l2_edges: dict[int, list[tuple[int, int]]] = {}
        """Per root (ever): the edges between its level-2 nodes when it was made."""
        self._live_nodes: dict[tuple[int, tuple[int, ...]], int] = {}
        self._root_hierarchy: dict[int, set[int]] = {}
        self._segment_counters: dict[tuple[int, tuple[int, ...]], int] = {}
        self._root_serial = 0
        self._root_segment_base = ROOT_SEGMENT_BASE + int(rng.integers(0, 50_000_000))
        self.delta_epochs: list[int] = []
        self.delta_supervoxels: list[IntArray] = []
        self.delta_roots: list[UInt64Array] = []
        self.delta_l2s: list[UInt64Array] = []

    # -- ids ----------------------------------------------------------------------------------

    def _new_node_id(self, layer: int, chunk: tuple[int, ...]) -> int:
        key = (layer, chunk)
        segment = self._segment_counters.get(key, 0) + 1
        self._segment_counters[key] = segment
        x, y, z = chunk
        return self.layout.node_id(layer, (x, y, z), segment)

    def _new_root_id(self) -> int:
        self._root_serial += 1
        segment = (
            self._root_segment_base
            + self._root_serial * ROOT_COUNTERS
            + int(self._rng.integers(ROOT_COUNTERS))
        )
        return self.layout.node_id(self.layout.n_layers, (0, 0, 0), segment)

    # -- rebuilding segments --------------------------------------------------------------------

    def rebuild(
        self,
        epoch: int,
        old_roots: Sequence[int],
        supervoxels: Iterable[int],
        switched_edges: Sequence[int] | None = None,
        *,
        connected: bool = False,
    ) -> RebuildResult:
        """Recompute the segments of ``supervoxels`` (all members of ``old_roots``) at ``epoch``.

        Level-2 nodes are only recomputed in the chunks of ``switched_edges`` (all when None):
        elsewhere the pieces of the segments inside a chunk are what they were. ``connected`` says
        the supervoxels are known to form one segment (after a merge).
        """
        members = list(supervoxels)
        dirty = None
        if switched_edges is not None:
            dirty = {self._sv_chunk[sv] for edge in switched_edges for sv in self.graph.ends(edge)}
        pairs = self.graph.active_pairs_among(members)
        components = [sorted(members)] if connected else components_from_pairs(members, pairs)
        component_of = {sv: index for index, component in enumerate(components) for sv in component}
        pairs_of: list[list[tuple[int, int]]] = [[] for _ in components]
        if connected:
            pairs_of = [pairs]
        else:
            for a, b in pairs:
                pairs_of[component_of[a]].append((a, b))
        new_roots: list[int] = []
        new_l2_ids: list[int] = []
        kept: set[int] = set()
        for component, component_pairs in zip(components, pairs_of, strict=True):
            root, l2_ids, hierarchy = self._build_segment(epoch, component, component_pairs, dirty)
            new_roots.append(root)
            new_l2_ids.extend(l2_ids)
            kept |= hierarchy
        for old_root in old_roots:
            self.nodes[old_root].retired_epoch = epoch
            for node in self._root_hierarchy.pop(old_root, set()) - kept:
                record = self.nodes[node]
                record.retired_epoch = epoch
                key = (record.layer, tuple(int(c) for c in record.children))
                if self._live_nodes.get(key) == node:
                    del self._live_nodes[key]
            del self.root_members[old_root]
        changed = np.array(sorted(members), dtype=np.int64)
        self.delta_epochs.append(epoch)
        self.delta_supervoxels.append(changed)
        self.delta_roots.append(self.sv_root[changed].copy())
        self.delta_l2s.append(self.sv_l2[changed].copy())
        return RebuildResult(new_roots, sorted(new_l2_ids))

    def _build_segment(
        self,
        epoch: int,
        component: list[int],
        pairs: list[tuple[int, int]],
        dirty: set[tuple[int, ...]] | None,
    ) -> tuple[int, list[int], set[int]]:
        """Nodes of one connected segment; returns its new root, new level-2 ids, hierarchy nodes."""
        root = self._new_root_id()
        chunk_of = self._sv_chunk
        redo = component if dirty is None else [sv for sv in component if chunk_of[sv] in dirty]
        redo_pairs = [
            (a, b)
            for a, b in pairs
            if chunk_of[a] == chunk_of[b] and (dirty is None or chunk_of[a] in dirty)
        ]
        pieces = components_from_pairs(redo, redo_pairs)
        if dirty is not None:
            unchanged: dict[int, list[int]] = {}
            for sv in component:
                if chunk_of[sv] not in dirty:
                    unchanged.setdefault(int(self.sv_l2[sv]), []).append(sv)
            pieces.extend(unchanged.values())
        pieces.sort(key=lambda piece: (chunk_of[piece[0]], piece[0]))

        new_l2: list[int] = []
        l2_of_sv: dict[int, int] = {}
        items: list[tuple[int, int, tuple[int, ...]]] = []  # (node id, layer, chunk at that layer)
        for piece in pieces:
            chunk = chunk_of[piece[0]]
            l2, created = self._node_for(epoch, 2, chunk, piece, children_are_svs=True)
            if created:
                new_l2.append(l2)
                self.l2_members[l2] = np.array(piece, dtype=np.int64)
            for sv in piece:
                l2_of_sv[sv] = l2
            items.append((l2, 2, chunk))

        l2_edges = set()
        for a, b in pairs:
            first, second = l2_of_sv[a], l2_of_sv[b]
            if first != second:
                l2_edges.add((first, second) if first < second else (second, first))

        hierarchy = {item[0] for item in items}
        item_of_l2 = {item[0]: index for index, item in enumerate(items)}
        for layer in range(3, self.layout.n_layers):
            items, item_of_l2, grouped = self._group_layer(epoch, layer, items, item_of_l2, l2_edges)
            hierarchy |= grouped
        root_children = sorted(item[0] for item in items)
        self.nodes[root] = NodeRecord(
            id=root,
            layer=self.layout.n_layers,
            children=np.array(root_children, dtype=np.uint64),
            created_epoch=epoch,
        )
        for child in root_children:
            self.nodes[child].set_parent(epoch, root)
        self._root_hierarchy[root] = hierarchy
        self.root_members[root] = component
        self.root_l2_edges[root] = sorted(l2_edges)
        index = np.array(component, dtype=np.int64)
        self.sv_root[index] = root
        self.sv_l2[index] = [l2_of_sv[sv] for sv in component]
        return root, new_l2, hierarchy

    def _group_layer(
        self,
        epoch: int,
        layer: int,
        items: list[tuple[int, int, tuple[int, ...]]],
        item_of_l2: dict[int, int],
        l2_edges: set[tuple[int, int]],
    ) -> tuple[list[tuple[int, int, tuple[int, ...]]], dict[int, int], set[int]]:
        """Group the current top nodes of a segment that are connected inside a layer chunk."""
        chunk_at_layer = [
            self.layout.parent_chunk(chunk, item_layer, layer) for _, item_layer, chunk in items
        ]
        parent = list(range(len(items)))

        def find(index: int) -> int:
            while parent[index] != index:
                parent[index] = parent[parent[index]]
                index = parent[index]
            return index

        for a, b in l2_edges:
            first, second = item_of_l2[a], item_of_l2[b]
            if chunk_at_layer[first] == chunk_at_layer[second]:
                root_a, root_b = find(first), find(second)
                if root_a != root_b:
                    parent[max(root_a, root_b)] = min(root_a, root_b)

        groups: dict[int, list[int]] = {}
        for index in range(len(items)):
            groups.setdefault(find(index), []).append(index)
        new_items: list[tuple[int, int, tuple[int, ...]]] = []
        new_index_of_old: dict[int, int] = {}
        grouped: set[int] = set()
        for representative in sorted(groups):
            members = groups[representative]
            if len(members) == 1:
                new_items.append(items[members[0]])
            else:
                children = sorted(items[m][0] for m in members)
                node, _ = self._node_for(epoch, layer, chunk_at_layer[representative], children)
                grouped.add(node)
                new_items.append((node, layer, chunk_at_layer[representative]))
            for member in members:
                new_index_of_old[member] = len(new_items) - 1
        new_item_of_l2 = {l2: new_index_of_old[index] for l2, index in item_of_l2.items()}
        return new_items, new_item_of_l2, grouped

    def _node_for(
        self,
        epoch: int,
        layer: int,
        chunk: tuple[int, ...],
        children: Sequence[int],
        *,
        children_are_svs: bool = False,
    ) -> tuple[int, bool]:
        """The live node with exactly these children, or a new one; and whether it is new."""
        child_ids = (
            tuple(int(self.supervoxel_ids[sv]) for sv in children)
            if children_are_svs
            else tuple(children)
        )
        key = (layer, child_ids)
        existing = self._live_nodes.get(key)
        if existing is not None:
            return existing, False
        node = self._new_node_id(layer, chunk)
        self.nodes[node] = NodeRecord(
            id=node, layer=layer, children=np.array(child_ids, dtype=np.uint64), created_epoch=epoch
        )
        if not children_are_svs:
            for child in child_ids:
                self.nodes[child].set_parent(epoch, node)
        self._live_nodes[key] = node
        return node, True
