"""The synthetic segmentation every segmentation-aware LocalCAVE service reads (one per deployment).

A PyChunkedGraph-like graph (see ``segmentation.state``): supervoxels are the cells of a grid
inside each chunk of a minnie65-sized volume, neurons are random-walk blobs of cells, and a
seeded proofreading history (``segmentation.seeded_history``) has changed their root ids many
times between :attr:`SegmentationGraph.created` and the end of 2025. Live edits through the
chunkedgraph service append to that history at wall-clock time.

Public contract (shared with the materialization service; all ids numpy uint64, timestamps
timezone-aware UTC datetimes; naive datetimes are read as UTC):

- ``table_id``, ``n_layers``, ``base_resolution``, ``bounds_voxels``, ``created``, ``edit_times()``
- ``roots_at(supervoxel_ids, timestamp)``, ``supervoxels_at(positions, resolution)``
- ``sample_points(rng, count, roots=None, timestamp=None)``
- ``latest_roots()``, ``roots_alive_at(timestamp)``, ``edited_roots()``

Lookups answer from per-epoch mapping arrays (supervoxel index -> root / level-2 id), built on
demand from the recorded changes and cached, so millions of ids resolve with a few numpy passes.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ...world.default import PCG_TABLE
from .edits import EditLog, SplitPlan
from .ids import NodeIdLayout
from .seeded_history import build_seeded_segmentation
from .state import NodeRecord, Operation, Point, SegmentationState
from .volume import VolumeGeometry, minnie_like_geometry

if TYPE_CHECKING:
    from ...world.deployment import Deployment

UInt64Array = npt.NDArray[np.uint64]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_EPOCH_CACHE_SIZE = 24
_SEGMENT_BITS_L1 = 26


def as_utc(timestamp: datetime) -> datetime:
    return timestamp.replace(tzinfo=UTC) if timestamp.tzinfo is None else timestamp.astimezone(UTC)


def _epoch_ms(timestamp: datetime) -> int:
    """Milliseconds since 1970, rounded down (the chunkedgraph's time resolution)."""
    return math.floor(as_utc(timestamp).timestamp() * 1000 + 1e-6)


class SegmentationGraph:
    """The deployment's segmentation; build with ``deployment.component(SegmentationGraph)``."""

    table_id: str = PCG_TABLE

    def __init__(self, deployment: Deployment) -> None:
        stream = deployment.stream("segmentation")
        rng = np.random.default_rng(stream.getrandbits(64))
        geometry = minnie_like_geometry()
        n_layers = math.ceil(math.log2(int(geometry.chunk_counts.max()))) + 2
        self.geometry: VolumeGeometry = geometry
        self.layout = NodeIdLayout(n_layers)
        seeded = build_seeded_segmentation(rng, geometry, self.layout)
        self._seeded = seeded
        self.state: SegmentationState = seeded.state
        self.edits: EditLog = seeded.edits
        self.supervoxel_ids: UInt64Array = seeded.state.supervoxel_ids
        self.sv_cells: IntArray = seeded.sv_cells
        self.cell_to_sv: IntArray = seeded.cell_to_sv
        """Per cell of the populated block: its supervoxel index, -1 for background."""
        self.refused_roots = seeded.refused_roots
        self._lock = threading.RLock()
        self._epoch_arrays: OrderedDict[int, tuple[UInt64Array, UInt64Array]] = OrderedDict()
        self._changes: tuple[IntArray, IntArray, UInt64Array, UInt64Array] | None = None
        self.seeded_epoch = self.edits.current_epoch
        """The last epoch of the seeded history; later epochs are live edits."""
        self._build_supervoxel_lookup()

    # -- the contract -------------------------------------------------------------------------

    @property
    def n_layers(self) -> int:
        return self.layout.n_layers

    @property
    def base_resolution(self) -> tuple[float, float, float]:
        return self.geometry.resolution

    @property
    def bounds_voxels(self) -> IntArray:
        return self.geometry.bounds_voxels

    @property
    def created(self) -> datetime:
        return self.edits.epoch_times[0]

    def edit_times(self) -> list[datetime]:
        with self._lock:
            return list(self.edits.epoch_times[1:])

    def roots_at(self, supervoxel_ids: npt.ArrayLike, timestamp: datetime) -> UInt64Array:
        """Root id of each supervoxel at ``timestamp``; 0 for 0 and for ids that are not supervoxels."""
        epoch = self.epoch_at(timestamp)
        if epoch < 0:
            raise ValueError(f"{timestamp} is before the segmentation was created ({self.created})")
        roots = self._arrays_at(epoch)[0]
        return roots[self.supervoxel_index(supervoxel_ids)]

    def supervoxels_at(self, positions: npt.ArrayLike, resolution: npt.ArrayLike) -> UInt64Array:
        """The supervoxel containing each point (positions in units of ``resolution`` nm); 0 outside."""
        points = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        voxels = points * np.asarray(resolution, dtype=np.float64) / np.asarray(self.base_resolution)
        cells = self.geometry.cells_at_voxels(voxels)
        supervoxels = np.where(cells >= 0, self._seeded.cell_to_sv[np.maximum(cells, 0)], -1)
        return self._ids_with_zero[supervoxels]

    def sample_points(
        self,
        rng: np.random.Generator,
        count: int,
        *,
        roots: npt.ArrayLike | None = None,
        timestamp: datetime | None = None,
    ) -> tuple[FloatArray, UInt64Array]:
        """``count`` points (nm) inside segments, with their supervoxels; inside ``roots`` if given.

        Points sit on whole voxels away from cell borders, so rounding them to any coarser
        integer grid keeps them in the same supervoxel.
        """
        if roots is None:
            candidates = np.arange(len(self.supervoxel_ids))
        else:
            epoch = self.current_epoch if timestamp is None else self.epoch_at(timestamp)
            if epoch < 0:
                raise ValueError(f"{timestamp} is before the segmentation was created ({self.created})")
            wanted = np.asarray(roots, dtype=np.uint64)
            candidates = np.flatnonzero(np.isin(self._arrays_at(epoch)[0][:-1], wanted))
        if len(candidates) == 0:
            raise ValueError("none of the given roots has supervoxels at that time")
        chosen = candidates[rng.integers(len(candidates), size=count)]
        size = self.geometry.cell_size
        corners = self.geometry.cell_corner_voxels(self.sv_cells[chosen])
        voxels = corners + rng.integers(1, size - 1, size=(count, 3))
        return voxels * np.asarray(self.base_resolution), self.supervoxel_ids[chosen]

    def latest_roots(self) -> UInt64Array:
        with self._lock:
            return np.array(sorted(self.state.root_members), dtype=np.uint64)

    def roots_alive_at(self, timestamp: datetime) -> UInt64Array:
        epoch = self.epoch_at(timestamp)
        if epoch < 0:
            return np.array([], dtype=np.uint64)
        return np.unique(self._arrays_at(epoch)[0][:-1])

    def edited_roots(self) -> UInt64Array:
        with self._lock:
            edited = [node for node in self.state.nodes.values() if node.created_by is not None]
            return np.array(
                sorted(node.id for node in edited if node.layer == self.n_layers), dtype=np.uint64
            )

    # -- beyond the contract: history and structure ---------------------------------------------

    @property
    def current_epoch(self) -> int:
        return self.edits.current_epoch

    def epoch_at(self, timestamp: datetime) -> int:
        """Index of the state in force at ``timestamp`` (-1 before the segmentation existed)."""
        wanted = _epoch_ms(timestamp)
        with self._lock:
            times = [_epoch_ms(t) for t in self.edits.epoch_times]
        return int(np.searchsorted(np.array(times, dtype=np.int64), wanted, side="right")) - 1

    def epoch_time(self, epoch: int) -> datetime:
        return self.edits.epoch_times[epoch]

    def heavily_edited_root(self) -> int:
        """The current root of the neuron with dozens of edits (benchmarks fetch its lineage)."""
        with self._lock:
            return int(self.state.sv_root[self._seeded.soma_supervoxels[self._seeded.heavy_neuron]])

    def soma_supervoxels(self) -> UInt64Array:
        """The supervoxel at the soma centre of each neuron."""
        return self.supervoxel_ids[self._seeded.soma_supervoxels]

    def node(self, node_id: int) -> NodeRecord | None:
        return self.state.nodes.get(int(node_id))

    def operation(self, operation_id: int) -> Operation | None:
        return self.edits.by_id.get(int(operation_id))

    def operations(self) -> list[Operation]:
        with self._lock:
            return list(self.edits.operations)

    def level2_ids_at(self, supervoxel_ids: npt.ArrayLike, epoch: int) -> UInt64Array:
        return self._arrays_at(epoch)[1][self.supervoxel_index(supervoxel_ids)]

    def roots_at_epoch(self, supervoxel_ids: npt.ArrayLike, epoch: int) -> UInt64Array:
        return self._arrays_at(epoch)[0][self.supervoxel_index(supervoxel_ids)]

    def parent_at(self, node_id: int, epoch: int) -> int | None:
        """Parent of a node (of any layer) at an epoch; None when it had none."""
        node_id = int(node_id)
        if self.layout.layer(node_id) == 1:
            index = int(self.supervoxel_index(np.array([node_id], dtype=np.uint64))[0])
            if index < 0 or epoch < 0:
                return None
            return int(self._arrays_at(epoch)[1][index])
        record = self.state.nodes.get(node_id)
        return None if record is None else record.parent_at(epoch)

    def l2_supervoxel_indices(self, l2_id: int) -> IntArray:
        """Dense supervoxel indices of a level-2 node (empty for unknown ids)."""
        return self.state.l2_members.get(int(l2_id), np.array([], dtype=np.int64))

    def supervoxel_index(self, supervoxel_ids: npt.ArrayLike) -> IntArray:
        """Dense index of each supervoxel id; -1 for anything else (0, other layers, unknown ids).

        Decodes the ids with bit operations (no search), so tens of millions take well under a
        second.
        """
        ids = np.asarray(supervoxel_ids)
        if ids.dtype != np.uint64:
            ids = ids.astype(np.uint64)
        # Ids of layer 1 are below 2**63, so the signed view keeps them and turns others negative.
        values = ids.view(np.int64)
        bits = self.layout.spatial_bits[1]
        coordinate_mask = (1 << bits) - 1
        known = (values >> 56) == 1
        ordinal = np.zeros(values.shape, dtype=np.int64)
        for axis in (2, 1, 0):
            local = ((values >> (_SEGMENT_BITS_L1 + (2 - axis) * bits)) & coordinate_mask) - int(
                self.geometry.block_origin[axis]
            )
            extent = int(self.geometry.block_chunks[axis])
            known &= local.view(np.uint64) < extent
            ordinal *= extent
            ordinal += local
        slot = (values & ((1 << _SEGMENT_BITS_L1) - 1)) - 1
        known &= slot.view(np.uint64) < self.geometry.cells_in_chunk
        ordinal *= self.geometry.cells_in_chunk
        ordinal += slot
        ordinal[~known] = -1
        return self._sv_by_chunk_slot[ordinal]

    # -- live edits -----------------------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """Held while reading state that an edit could change halfway."""
        return self._lock

    def merge(
        self,
        user_id: str,
        timestamp: datetime,
        first: int,
        second: int,
        source: Point,
        sink: Point,
        *,
        box_voxels: Point | None = None,
    ) -> Operation:
        """Merge the objects of two supervoxels (dense indices) at two points (voxels).

        With `box_voxels`, every existing edge between the two objects whose supervoxels both lie
        within that reach of the box around the points is switched on too (the server's
        merge_preprocess); without, only the edge asked for.
        """
        also_join = None
        if box_voxels is not None:
            low = np.minimum(source, sink) - np.asarray(box_voxels)
            high = np.maximum(source, sink) + np.asarray(box_voxels)

            def also_join(first_root: int, second_root: int) -> list[int]:
                return self._edges_between_in_box(first_root, second_root, low, high)

        with self._lock:
            operation = self.edits.merge(
                user_id, timestamp, first, second, [source], [sink], also_join=also_join
            )
            self._changes = None
            return operation

    def _edges_between_in_box(
        self, first_root: int, second_root: int, low: IntArray, high: IntArray
    ) -> list[int]:
        members = self.state.root_members
        first, second = set(members[first_root]), set(members[second_root])
        graph = self.state.graph
        corner = self.geometry.cell_corner_voxels
        found = []
        for sv in first:
            for edge in graph.incident_edges(sv):
                a, b = graph.ends(edge)
                other = b if a == sv else a
                if other not in second or graph.is_active(edge):
                    continue
                ends = corner(self.sv_cells[np.array([sv, other])])
                if np.all((ends >= low) & (ends <= high)):
                    found.append(edge)
        return sorted(found)

    def cross_chunk_twice(self, edge: int) -> float:
        """2 for an edge between supervoxels of different chunks, else 1 (the server's cut weights)."""
        a, b = self.state.graph.ends(edge)
        chunk = self.layout.chunk_coordinates
        ids = self.supervoxel_ids
        return 2.0 if chunk(int(ids[a])) != chunk(int(ids[b])) else 1.0

    def split(
        self,
        user_id: str,
        timestamp: datetime,
        sources: Sequence[int],
        sinks: Sequence[int],
        source_coords: Sequence[Point],
        sink_coords: Sequence[Point],
        *,
        mincut: bool,
        cross_chunk_twice: bool = False,
    ) -> Operation:
        """Split an object between supervoxels (dense indices); `cross_chunk_twice` weighs edges
        across chunk boundaries twice in the min-cut, as the server does."""
        weight = self.cross_chunk_twice if cross_chunk_twice else None
        with self._lock:
            operation = self.edits.split(
                user_id,
                timestamp,
                sources,
                sinks,
                source_coords,
                sink_coords,
                mincut=mincut,
                weight=weight,
            )
            self._changes = None
            return operation

    def plan_split(
        self, sources: Sequence[int], sinks: Sequence[int], *, cross_chunk_twice: bool = False
    ) -> SplitPlan:
        weight = self.cross_chunk_twice if cross_chunk_twice else None
        with self._lock:
            return self.edits.plan_split(sources, sinks, weight=weight)

    def undo(self, user_id: str, timestamp: datetime, operation_id: int) -> Operation | None:
        with self._lock:
            operation = self.edits.undo(user_id, timestamp, operation_id)
            self._changes = None
            return operation

    # -- internals ------------------------------------------------------------------------------

    def _build_supervoxel_lookup(self) -> None:
        """Table from (chunk ordinal in the populated block, slot in the chunk) to supervoxel index."""
        geometry = self.geometry
        cells = np.arange(geometry.n_cells)
        local_chunks = geometry.cell_chunks(cells) - np.array(geometry.block_origin)
        nx, ny, _ = geometry.block_chunks
        ordinal = local_chunks[:, 0] + nx * (local_chunks[:, 1] + ny * local_chunks[:, 2])
        flat = ordinal * geometry.cells_in_chunk + geometry.cell_slots(cells)
        table = np.full(geometry.n_cells + 1, -1, dtype=np.int64)
        table[flat] = self._seeded.cell_to_sv
        self._sv_by_chunk_slot = table
        self._ids_with_zero = np.append(self.supervoxel_ids, np.uint64(0))

    def _arrays_at(self, epoch: int) -> tuple[UInt64Array, UInt64Array]:
        """(root, level-2 id) per supervoxel index at ``epoch``, each with a trailing 0 for index -1."""
        with self._lock:
            cached = self._epoch_arrays.get(epoch)
            if cached is not None:
                self._epoch_arrays.move_to_end(epoch)
                return cached
            changes = self._all_changes()
            epochs, supervoxels, roots, l2s = changes
            end = int(np.searchsorted(epochs, epoch, side="right"))
            latest_first = supervoxels[:end][::-1]
            _, first_seen = np.unique(latest_first, return_index=True)
            source = end - 1 - first_seen
            n = len(self.supervoxel_ids)
            root_array = np.zeros(n + 1, dtype=np.uint64)
            l2_array = np.zeros(n + 1, dtype=np.uint64)
            touched = supervoxels[source]
            root_array[touched] = roots[source]
            l2_array[touched] = l2s[source]
            self._epoch_arrays[epoch] = (root_array, l2_array)
            if len(self._epoch_arrays) > _EPOCH_CACHE_SIZE:
                self._epoch_arrays.popitem(last=False)
            return root_array, l2_array

    def _all_changes(self) -> tuple[IntArray, IntArray, UInt64Array, UInt64Array]:
        """Every recorded reassignment, in epoch order: (epoch, supervoxel, root, level-2 id)."""
        if self._changes is None:
            state = self.state
            sizes = [len(svs) for svs in state.delta_supervoxels]
            self._changes = (
                np.repeat(np.array(state.delta_epochs, dtype=np.int64), sizes),
                np.concatenate(state.delta_supervoxels),
                np.concatenate(state.delta_roots),
                np.concatenate(state.delta_l2s),
            )
        return self._changes
