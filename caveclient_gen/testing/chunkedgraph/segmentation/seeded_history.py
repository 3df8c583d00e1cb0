"""The synthetic segmentation as ingested, and the proofreading history replayed on it.

Neurons are grown as random-walk blobs of cells; every cell of a neuron is a supervoxel. The
ingested segmentation has the errors real ones have: pieces of neurons cut off as separate
segments (fragments) and pairs of touching neurons merged into one segment. The history then
fixes them (merges and min-cut splits by a handful of proofreaders, at seeded dates), with some
mistakes undone, one undo redone, and one "heavily edited" neuron that collects dozens of edits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from .edits import EditLog
from .ids import NodeIdLayout
from .neuron_growth import GrownNeurons, grow_neurons
from .state import SegmentationState
from .supervoxel_graph import SupervoxelGraph
from .volume import VolumeGeometry

IntArray = npt.NDArray[np.int64]
UInt64Array = npt.NDArray[np.uint64]

N_NEURONS = 150
NEURON_CELLS = (90, 300)
HEAVY_NEURON_CELLS = 900
FRAGMENT_PROBABILITY = 0.25
HEAVY_FRAGMENTS = 18
FALSE_MERGE_PAIRS = 8
HEAVY_FALSE_MERGES = 5
MISTAKEN_MERGES = 6
HEAVY_MISTAKEN_MERGES = 3
PROOFREADERS = ("101", "102", "103", "104", "105", "1")
HISTORY_END = datetime(2025, 12, 15, tzinfo=UTC)
_WITHIN_NEURON_AFFINITY = (0.6, 1.0)
_ACROSS_NEURONS_AFFINITY = (0.02, 0.25)

Step = Callable[[], object]


@dataclass(frozen=True)
class SeededSegmentation:
    geometry: VolumeGeometry
    layout: NodeIdLayout
    neurons: GrownNeurons
    cell_to_sv: IntArray
    """Per cell: the supervoxel index, -1 for background."""
    sv_cells: IntArray
    state: SegmentationState
    edits: EditLog
    heavy_neuron: int
    """Index of the neuron with dozens of edits (its soma supervoxel is ``soma_supervoxels[0]``)."""
    soma_supervoxels: IntArray
    refused_roots: tuple[int, ...]
    """Roots the skeleton service refuses (huge false merges, long since split)."""


def build_seeded_segmentation(
    rng: np.random.Generator, geometry: VolumeGeometry, layout: NodeIdLayout
) -> SeededSegmentation:
    sizes = [HEAVY_NEURON_CELLS, *rng.integers(*NEURON_CELLS, size=N_NEURONS - 1).tolist()]
    neurons = grow_neurons(rng, geometry.grid_shape, sizes)
    sv_cells = np.flatnonzero(neurons.owner >= 0).astype(np.int64)
    cell_to_sv = np.full(geometry.n_cells, -1, dtype=np.int64)
    cell_to_sv[sv_cells] = np.arange(len(sv_cells))
    sv_neuron = neurons.owner[sv_cells]
    chunks = geometry.cell_chunks(sv_cells)
    sv_ids = _supervoxel_ids(layout, chunks, geometry.cell_slots(sv_cells))
    graph = _supervoxel_graph(rng, geometry, cell_to_sv, sv_neuron)
    soma_svs = np.array([cell_to_sv[cells[0]] for cells in neurons.cells], dtype=np.int64)

    errors = _IngestErrors(rng, graph, sv_neuron, soma_svs)
    errors.cut_fragments()
    errors.merge_neighbours()

    created = datetime(2023, 3, 14, 9, tzinfo=UTC) + timedelta(
        seconds=int(rng.integers(0, 30 * 86400)), milliseconds=int(rng.integers(0, 1000))
    )
    state = SegmentationState(layout, graph, sv_ids, chunks, rng)
    state.rebuild(0, [], range(len(sv_ids)))
    edits = EditLog(state, created)
    refused = tuple(int(state.sv_root[soma_svs[a]]) for a, _, _ in errors.false_merges[:1])
    history = _History(rng, edits, geometry, sv_cells, errors, created)
    history.replay()
    return SeededSegmentation(
        geometry=geometry,
        layout=layout,
        neurons=neurons,
        cell_to_sv=cell_to_sv,
        sv_cells=sv_cells,
        state=state,
        edits=edits,
        heavy_neuron=0,
        soma_supervoxels=soma_svs,
        refused_roots=refused,
    )


def _supervoxel_ids(layout: NodeIdLayout, chunks: IntArray, slots: IntArray) -> UInt64Array:
    bits = layout.spatial_bits[1]
    shift = 64 - 8 - bits
    ids = np.full(len(slots), 1 << 56, dtype=np.uint64)
    for axis in range(3):
        ids |= chunks[:, axis].astype(np.uint64) << np.uint64(shift - axis * bits)
    return ids | (slots + 1).astype(np.uint64)


def _supervoxel_graph(
    rng: np.random.Generator, geometry: VolumeGeometry, cell_to_sv: IntArray, sv_neuron: IntArray
) -> SupervoxelGraph:
    """Edges between all touching supervoxels; those inside one neuron start active."""
    first_cells, second_cells, axes = geometry.neighbour_pairs()
    first, second = cell_to_sv[first_cells], cell_to_sv[second_cells]
    keep = (first >= 0) & (second >= 0)
    first, second, axes = first[keep], second[keep], axes[keep]
    same_neuron = sv_neuron[first] == sv_neuron[second]
    affinity = np.where(
        same_neuron,
        rng.uniform(*_WITHIN_NEURON_AFFINITY, size=len(first)),
        rng.uniform(*_ACROSS_NEURONS_AFFINITY, size=len(first)),
    ).astype(np.float32)
    size = geometry.cell_size
    face_voxels = np.array([size[1] * size[2], size[0] * size[2], size[0] * size[1]])
    area = (face_voxels[axes] * rng.uniform(0.2, 1.0, size=len(first))).astype(np.int64)
    graph = SupervoxelGraph(len(sv_neuron))
    for a, b, aff, ar, active in zip(
        first.tolist(),
        second.tolist(),
        affinity.tolist(),
        area.tolist(),
        same_neuron.tolist(),
        strict=True,
    ):
        graph.add_edge(a, b, aff, ar, active=active)
    return graph


class _IngestErrors:
    """Fragments cut off neurons and pairs of neurons merged, as the ingested segmentation has them."""

    def __init__(
        self,
        rng: np.random.Generator,
        graph: SupervoxelGraph,
        sv_neuron: IntArray,
        soma_svs: IntArray,
    ) -> None:
        self.rng = rng
        self.graph = graph
        self.sv_neuron = sv_neuron
        self.soma_svs = soma_svs
        self.members = [np.flatnonzero(sv_neuron == n).tolist() for n in range(len(soma_svs))]
        self.fragments: list[tuple[int, list[int], list[int]]] = []
        """(neuron, fragment supervoxels, edges cut around it)."""
        self.false_merges: list[tuple[int, int, list[int]]] = []
        """(neuron, other neuron, edges switched on between them)."""
        self.free_pairs: list[tuple[int, int, list[int]]] = []
        """Touching neurons left alone, for mistaken merges: (neuron, other neuron, edges)."""

    def cut_fragments(self) -> None:
        for neuron in range(len(self.soma_svs)):
            wanted = HEAVY_FRAGMENTS if neuron == 0 else int(self.rng.random() < FRAGMENT_PROBABILITY)
            made, tries = 0, 0
            while made < wanted and tries < 5 * wanted + 5:
                tries += 1
                made += self._cut_one_fragment(neuron, small=neuron == 0)

    def _cut_one_fragment(self, neuron: int, *, small: bool) -> int:
        members = self.members[neuron]
        taken = {sv for n, fragment, _ in self.fragments if n == neuron for sv in fragment}
        soma = int(self.soma_svs[neuron])
        protected = {soma, *self.graph.neighbours(soma)}
        candidates = [sv for sv in members if sv not in taken and sv not in protected]
        if len(candidates) < 20:
            return 0
        start = candidates[int(self.rng.integers(len(candidates)))]
        wanted = int(self.rng.integers(3, 12 if small else 30))
        fragment = [start]
        frontier = [start]
        allowed = set(candidates)
        while frontier and len(fragment) < wanted:
            for neighbour in self.graph.neighbours(frontier.pop(0)):
                if neighbour in allowed and neighbour not in fragment and len(fragment) < wanted:
                    fragment.append(neighbour)
                    frontier.append(neighbour)
        inside = set(fragment)
        cut = sorted(
            edge
            for sv in fragment
            for edge in self.graph.incident_edges(sv)
            if self.graph.is_active(edge) and not set(self.graph.ends(edge)) <= inside
        )
        self.graph.set_active(cut, False)
        rest = [sv for sv in members if sv not in taken and sv not in inside]
        if len(self.graph.components(rest)) != 1 or len(self.graph.components(fragment)) != 1:
            self.graph.set_active(cut, True)
            return 0
        self.fragments.append((neuron, fragment, cut))
        return 1

    def merge_neighbours(self) -> None:
        """Merge pairs of touching neurons; keep other touching pairs for mistaken merges."""
        # Edges touching a fragment are left out: a fragment joins its neuron only by its own merge.
        in_fragments = {sv for _, fragment, _ in self.fragments for sv in fragment}
        touching: dict[tuple[int, int], list[int]] = {}
        for edge in range(self.graph.n_edges):
            a, b = self.graph.ends(edge)
            na, nb = int(self.sv_neuron[a]), int(self.sv_neuron[b])
            if na != nb and a not in in_fragments and b not in in_fragments:
                touching.setdefault((min(na, nb), max(na, nb)), []).append(edge)
        pairs = sorted(touching)
        order = self.rng.permutation(len(pairs))
        used: set[int] = set()
        heavy_partners = 0
        for index in order.tolist():
            first, second = pairs[index]
            if (first in used and first != 0) or second in used:
                continue
            edges = touching[(first, second)]
            if first == 0:
                if heavy_partners >= HEAVY_FALSE_MERGES + HEAVY_MISTAKEN_MERGES + 1:
                    continue
                heavy_partners += 1
                if heavy_partners <= HEAVY_FALSE_MERGES:
                    self._merge_pair(first, second, edges)
                else:
                    self.free_pairs.append((first, second, edges))
            elif len(self.false_merges) < FALSE_MERGE_PAIRS + HEAVY_FALSE_MERGES:
                self._merge_pair(first, second, edges)
            elif len(self.free_pairs) < MISTAKEN_MERGES + HEAVY_MISTAKEN_MERGES + 1:
                self.free_pairs.append((first, second, edges))
            else:
                continue
            used.update((first, second))

    def _merge_pair(self, first: int, second: int, edges: list[int]) -> None:
        chosen = sorted(self.rng.choice(edges, size=min(2, len(edges)), replace=False).tolist())
        self.graph.set_active(chosen, True)
        self.false_merges.append((first, second, chosen))


class _History:
    """Plans the proofreading of the ingest errors at seeded dates and replays it in time order."""

    def __init__(
        self,
        rng: np.random.Generator,
        edits: EditLog,
        geometry: VolumeGeometry,
        sv_cells: IntArray,
        errors: _IngestErrors,
        created: datetime,
    ) -> None:
        self.rng = rng
        self.edits = edits
        self.geometry = geometry
        self.sv_cells = sv_cells
        self.errors = errors
        self.start = created + timedelta(days=20)
        self.chains: list[list[tuple[str, Step]]] = []
        self.last_operation: dict[int, int] = {}

    def _user(self, *, heavy: bool = False) -> str:
        pool = PROOFREADERS if heavy else PROOFREADERS[:4]
        return pool[int(self.rng.integers(len(pool)))]

    def _voxel(self, sv: int) -> tuple[int, int, int]:
        corner = self.geometry.cell_corner_voxels(np.array([self.sv_cells[sv]]))[0]
        x, y, z = corner + self.geometry.cell_size // 2
        return int(x), int(y), int(z)

    def _merge_step(self, first: int, second: int, user: str, chain: int) -> Step:
        def step() -> None:
            operation = self.edits.merge(
                user, self._now, first, second, [self._voxel(first)], [self._voxel(second)]
            )
            self.last_operation[chain] = operation.id

        return step

    def _split_step(self, source: int, sink: int, user: str, chain: int) -> Step:
        def step() -> None:
            operation = self.edits.split(
                user, self._now, [source], [sink], [self._voxel(source)], [self._voxel(sink)]
            )
            self.last_operation[chain] = operation.id

        return step

    def _undo_step(self, user: str, chain: int) -> Step:
        def step() -> None:
            operation = self.edits.undo(user, self._now, self.last_operation[chain])
            assert operation is not None
            self.last_operation[chain] = operation.id

        return step

    def plan(self) -> None:
        errors = self.errors
        graph = errors.graph
        for neuron, fragment, cut in errors.fragments:
            heavy = neuron == 0
            inside = set(fragment)
            edge = cut[int(self.rng.integers(len(cut)))]
            a, b = graph.ends(edge)
            piece, body = (a, b) if a in inside else (b, a)
            chain = len(self.chains)
            self.chains.append(
                [("merge", self._merge_step(piece, body, self._user(heavy=heavy), chain))]
            )
        for index, (first, second, _) in enumerate(errors.false_merges):
            heavy = first == 0
            source, sink = int(errors.soma_svs[first]), int(errors.soma_svs[second])
            chain = len(self.chains)
            steps = [("split", self._split_step(source, sink, self._user(heavy=heavy), chain))]
            if index in (1, len(errors.false_merges) - 1):
                # A split undone by mistake and made again.
                steps += [
                    ("undo", self._undo_step(self._user(heavy=heavy), chain)),
                    ("split", self._split_step(source, sink, self._user(heavy=heavy), chain)),
                ]
            self.chains.append(steps)
        for index, (first, second, edges) in enumerate(errors.free_pairs):
            heavy = first == 0
            edge = edges[int(self.rng.integers(len(edges)))]
            a, b = graph.ends(edge)
            mine, theirs = (a, b) if int(errors.sv_neuron[a]) == first else (b, a)
            chain = len(self.chains)
            steps = [
                ("merge", self._merge_step(mine, theirs, self._user(heavy=heavy), chain)),
                ("undo", self._undo_step(self._user(heavy=heavy), chain)),
            ]
            if (heavy and index == len(errors.free_pairs) - 1) or (index == 0 and not heavy):
                # Undo the undo (a redo), then fix the merge with a split.
                source, sink = int(errors.soma_svs[first]), int(errors.soma_svs[second])
                steps += [
                    ("redo", self._undo_step(self._user(heavy=heavy), chain)),
                    ("split", self._split_step(source, sink, self._user(heavy=heavy), chain)),
                ]
            self.chains.append(steps)

    def replay(self) -> None:
        self.plan()
        span_ms = int((HISTORY_END - self.start) / timedelta(milliseconds=1))
        scheduled: list[tuple[int, int, int]] = []
        for chain_index, chain in enumerate(self.chains):
            offsets = np.sort(self.rng.integers(0, span_ms, size=len(chain)))
            scheduled.extend(
                (int(offset), chain_index, position) for position, offset in enumerate(offsets)
            )
        scheduled.sort()
        previous = -1
        for planned, chain_index, position in scheduled:
            previous = max(planned, previous + 1)
            self._now = self.start + timedelta(milliseconds=previous)
            self.chains[chain_index][position][1]()

    _now: datetime
