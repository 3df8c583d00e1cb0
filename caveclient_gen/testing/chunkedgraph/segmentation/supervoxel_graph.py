"""The supervoxel graph: edges between touching supervoxels, with affinities, areas and on/off state.

Segments are the connected components of the *active* edges. Proofreading edits switch edges on
(merges, possibly adding an edge between supervoxels that do not touch) and off (splits).
Supervoxels are numbered densely (0 ... n - 1) here; ids are the caller's business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from .graph_algorithms import components_from_pairs, minimum_cut


class SupervoxelGraph:
    def __init__(self, n_supervoxels: int) -> None:
        self._ends: list[tuple[int, int]] = []
        self._affinity: list[float] = []
        self._area: list[int] = []
        self._active: list[bool] = []
        self._edge_of: dict[tuple[int, int], int] = {}
        self._incident: list[list[int]] = [[] for _ in range(n_supervoxels)]

    @property
    def n_edges(self) -> int:
        return len(self._ends)

    def add_edge(self, a: int, b: int, affinity: float, area: int, *, active: bool = False) -> int:
        """The edge between ``a`` and ``b``, created (inactive unless ``active``) if it is new."""
        key = (a, b) if a < b else (b, a)
        existing = self._edge_of.get(key)
        if existing is not None:
            return existing
        edge = len(self._ends)
        self._ends.append(key)
        self._affinity.append(affinity)
        self._area.append(area)
        self._active.append(active)
        self._edge_of[key] = edge
        self._incident[a].append(edge)
        self._incident[b].append(edge)
        return edge

    def edge_between(self, a: int, b: int) -> int | None:
        return self._edge_of.get((a, b) if a < b else (b, a))

    def ends(self, edge: int) -> tuple[int, int]:
        return self._ends[edge]

    def affinity(self, edge: int) -> float:
        return self._affinity[edge]

    def area(self, edge: int) -> int:
        return self._area[edge]

    def is_active(self, edge: int) -> bool:
        return self._active[edge]

    def set_active(self, edges: Iterable[int], active: bool) -> None:
        for edge in edges:
            self._active[edge] = active

    def incident_edges(self, supervoxel: int) -> Sequence[int]:
        return self._incident[supervoxel]

    def neighbours(self, supervoxel: int, *, active_only: bool = True) -> Iterator[int]:
        for edge in self._incident[supervoxel]:
            if active_only and not self._active[edge]:
                continue
            a, b = self._ends[edge]
            yield b if a == supervoxel else a

    def components(self, supervoxels: Iterable[int]) -> list[list[int]]:
        """Connected components (by active edges) of the given supervoxels, each sorted."""
        members = list(supervoxels)
        return components_from_pairs(members, self.active_pairs_among(members))

    def active_pairs_among(self, supervoxels: Iterable[int]) -> list[tuple[int, int]]:
        """Ends of the active edges with both ends in ``supervoxels``, each edge once."""
        members = set(supervoxels)
        ends, active, incident = self._ends, self._active, self._incident
        pairs = []
        for supervoxel in members:
            for edge in incident[supervoxel]:
                if active[edge]:
                    a, b = ends[edge]
                    if a == supervoxel and b in members:
                        pairs.append((a, b))
        return pairs

    def edges_among(self, supervoxels: Iterable[int], *, active_only: bool = True) -> list[int]:
        """Edges with both ends in ``supervoxels``, each once, in increasing order."""
        members = set(supervoxels)
        found = set()
        for supervoxel in members:
            for edge in self._incident[supervoxel]:
                if active_only and not self._active[edge]:
                    continue
                a, b = self._ends[edge]
                if a in members and b in members:
                    found.add(edge)
        return sorted(found)

    def minimum_cut(
        self,
        supervoxels: Iterable[int],
        sources: Sequence[int],
        sinks: Sequence[int],
        *,
        weight: Callable[[int], float] | None = None,
    ) -> tuple[set[int], list[int]]:
        """Cheapest set of active edges (by affinity, times `weight(edge)`) separating sources from
        sinks.

        Returns the source side and the cut edges, in increasing order.
        """
        edges = self.edges_among(supervoxels)
        capacities = {
            self._ends[edge]: self._affinity[edge] * (weight(edge) if weight else 1.0) for edge in edges
        }
        source_side, cut = minimum_cut(capacities, sources, sinks)
        return source_side, sorted(self._edge_of[pair] for pair in cut)
