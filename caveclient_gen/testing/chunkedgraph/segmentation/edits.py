"""Proofreading edits: merge, split (min-cut or direct), undo and redo, logged as operations.

Supervoxels are given as dense indices of the supervoxel graph. Failures raise the exception
classes PyChunkedGraph uses, so the service can answer with the real statuses:
:class:`EditPreconditionError` (the route turns it into 400) and :class:`EditPostconditionError`
(unhandled there, so 500).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from .state import Operation, OperationKind, Point, RebuildResult, SegmentationState

MERGE_EDGE_AFFINITY = 1.0
SPLIT_BOUNDING_BOX_OFFSET: Point = (240, 240, 24)


class EditPreconditionError(Exception):
    """PyChunkedGraph's PreconditionError: the edit does not apply to the graph as it is."""


class EditPostconditionError(Exception):
    """PyChunkedGraph's PostconditionError: the edit could not produce a valid result."""


@dataclass(frozen=True)
class SplitPlan:
    removed_edges: list[int]
    components: list[list[int]]
    """Supervoxel components after the cut: the sources' first, the sinks' second, then the rest."""
    illegal: bool


class EditLog:
    """Applies edits to a :class:`SegmentationState` and keeps the operation log and epoch times."""

    def __init__(self, state: SegmentationState, created: datetime) -> None:
        self.state = state
        self.epoch_times: list[datetime] = [created]
        self.operations: list[Operation] = []
        self.by_id: dict[int, Operation] = {}
        self._next_operation_id = 1

    @property
    def current_epoch(self) -> int:
        return len(self.epoch_times) - 1

    # -- the edits ------------------------------------------------------------------------------

    def merge(
        self,
        user_id: str,
        timestamp: datetime,
        first: int,
        second: int,
        source_coords: Sequence[Point] | None = None,
        sink_coords: Sequence[Point] | None = None,
        *,
        also_join: Callable[[int, int], Sequence[int]] | None = None,
    ) -> Operation:
        """Join the objects of two supervoxels by an edge between them.

        `also_join(first_root, second_root)` names existing edges between the two objects to switch
        on as well (the server's merge_preprocess: every edge between them near the points).
        """
        self._check_time(timestamp)
        state = self.state
        if first == second:
            raise EditPreconditionError("Requested merge contains at least 1 self-loop.")
        roots = [int(state.sv_root[first]), int(state.sv_root[second])]
        if roots[0] == roots[1]:
            raise EditPreconditionError("Supervoxels must belong to different objects.")
        edge = state.graph.add_edge(first, second, MERGE_EDGE_AFFINITY, 0)
        extra = [e for e in (also_join(*roots) if also_join else []) if e != edge]
        edges = (edge, *sorted(set(extra)))
        state.graph.set_active(edges, True)
        draft = _draft(
            "merge",
            user_id,
            timestamp,
            edge_indices=edges,
            added_edges=tuple(self._sv_pair(*state.graph.ends(e)) for e in edges),
            source_coords=_points(source_coords),
            sink_coords=_points(sink_coords),
        )
        return self._commit(draft, roots)

    def plan_split(
        self,
        sources: Sequence[int],
        sinks: Sequence[int],
        *,
        weight: Callable[[int], float] | None = None,
    ) -> SplitPlan:
        """The min-cut of a split, without applying it (also what split previews show).

        `weight(edge)` multiplies an edge's affinity in the cut (the server counts edges across
        chunk boundaries twice).
        """
        state = self.state
        if set(sources) & set(sinks):
            raise EditPreconditionError(
                "Supervoxels exist in both sink and source, try placing the points further apart."
            )
        roots = {int(state.sv_root[sv]) for sv in [*sources, *sinks]}
        if len(roots) > 1:
            raise EditPreconditionError("Supervoxels must belong to the same object.")
        members = state.root_members[roots.pop()]
        if not state.graph.edges_among(members):
            raise EditPreconditionError("No local edges found.")
        _, cut = state.graph.minimum_cut(members, sources, sinks, weight=weight)
        if not cut:
            raise EditPostconditionError("Mincut could not find any edges to remove.")
        state.graph.set_active(cut, False)
        try:
            pieces = state.graph.components(members)
        finally:
            state.graph.set_active(cut, True)
        source_piece = [p for p in pieces if sources[0] in p]
        sink_piece = [p for p in pieces if sinks[0] in p]
        others = [p for p in pieces if sources[0] not in p and sinks[0] not in p]
        ordered = source_piece + sink_piece + others
        illegal = any(not set(sources) <= set(p) for p in source_piece) or any(
            not set(sinks) <= set(p) for p in sink_piece
        )
        return SplitPlan(removed_edges=cut, components=ordered, illegal=illegal)

    def split(
        self,
        user_id: str,
        timestamp: datetime,
        sources: Sequence[int],
        sinks: Sequence[int],
        source_coords: Sequence[Point] | None = None,
        sink_coords: Sequence[Point] | None = None,
        *,
        mincut: bool = True,
        weight: Callable[[int], float] | None = None,
    ) -> Operation:
        self._check_time(timestamp)
        state = self.state
        if mincut:
            cut = self.plan_split(sources, sinks, weight=weight).removed_edges
        else:
            if len(sources) != len(sinks):
                raise EditPreconditionError(
                    "Split operation require the same number of source and sink IDs"
                )
            if any(a == b for a, b in zip(sources, sinks, strict=True)):
                raise EditPreconditionError("Requested split contains at least 1 self-loop.")
            if len({int(state.sv_root[sv]) for sv in [*sources, *sinks]}) > 1:
                raise EditPreconditionError("Supervoxels must belong to the same object.")
            cut = [
                edge
                for a, b in zip(sources, sinks, strict=True)
                if (edge := state.graph.edge_between(a, b)) is not None and state.graph.is_active(edge)
            ]
        root = int(state.sv_root[sources[0]])
        state.graph.set_active(cut, False)
        draft = _draft(
            "split",
            user_id,
            timestamp,
            edge_indices=tuple(cut),
            removed_edges=tuple(self._sv_pair(*state.graph.ends(edge)) for edge in cut),
            source_ids=tuple(int(state.supervoxel_ids[sv]) for sv in sources),
            sink_ids=tuple(int(state.supervoxel_ids[sv]) for sv in sinks),
            source_coords=_points(source_coords),
            sink_coords=_points(sink_coords),
            bb_offset=SPLIT_BOUNDING_BOX_OFFSET if mincut else None,
        )
        return self._commit(draft, [root])

    def undo(self, user_id: str, timestamp: datetime, operation_id: int) -> Operation | None:
        """Undo (or, for an undo, redo) an operation; None when there is nothing left to change."""
        self._check_time(timestamp)
        target = self.by_id.get(operation_id)
        if target is None:
            raise TypeError("Could not determine graph operation type.")
        is_undo = True
        while target.kind in ("undo", "redo"):
            assert target.target_operation_id is not None
            if target.kind == "undo":
                is_undo = not is_undo
            target = self.by_id[target.target_operation_id]
        # Undoing a merge, or redoing a split, switches edges off; the other two switch them on.
        switch_on = (target.kind == "merge") != is_undo
        edges = list(target.edge_indices)
        graph = self.state.graph
        if switch_on and all(graph.is_active(edge) for edge in edges):
            return None
        if not switch_on and not any(graph.is_active(edge) for edge in edges):
            return None
        supervoxels = sorted({sv for edge in edges for sv in graph.ends(edge)})
        roots = sorted({int(self.state.sv_root[sv]) for sv in supervoxels})
        if not switch_on and len(roots) > 1:
            raise EditPreconditionError("Supervoxels must belong to the same object.")
        graph.set_active(edges, switch_on)
        pairs = tuple(self._sv_pair(*graph.ends(edge)) for edge in edges)
        draft = _draft(
            "undo" if is_undo else "redo",
            user_id,
            timestamp,
            edge_indices=tuple(edges),
            added_edges=pairs if switch_on else (),
            removed_edges=() if switch_on else pairs,
            target_operation_id=target.id,
        )
        return self._commit(draft, roots)

    # -- bookkeeping ----------------------------------------------------------------------------

    def _check_time(self, timestamp: datetime) -> None:
        if timestamp <= self.epoch_times[-1]:
            raise ValueError(f"edits must come in time order ({timestamp} after {self.epoch_times[-1]})")

    def _sv_pair(self, first: int, second: int) -> tuple[int, int]:
        ids = self.state.supervoxel_ids
        return int(ids[first]), int(ids[second])

    def _commit(self, draft: Operation, old_roots: Sequence[int]) -> Operation:
        """Rebuild the segments of ``old_roots`` and log the edit described by ``draft``."""
        state = self.state
        epoch = self.current_epoch + 1
        old = sorted(set(old_roots))
        supervoxels = sorted(sv for root in old for sv in state.root_members[root])
        # A merge joins two whole segments by one edge: the result is known to be connected.
        result: RebuildResult = state.rebuild(
            epoch, old, supervoxels, draft.edge_indices, connected=draft.kind == "merge"
        )
        operation_id = self._next_operation_id
        self._next_operation_id += 1
        for root in result.new_roots:
            record = state.nodes[root]
            record.created_by = operation_id
            record.former_roots = tuple(old)
        for root in old:
            record = state.nodes[root]
            record.retired_by = operation_id
            record.new_roots = tuple(result.new_roots)
        operation = replace(
            draft,
            id=operation_id,
            epoch=epoch,
            new_root_ids=tuple(result.new_roots),
            old_root_ids=tuple(old),
            new_l2_ids=tuple(result.new_l2_ids),
        )
        self.epoch_times.append(draft.timestamp)
        self.operations.append(operation)
        self.by_id[operation_id] = operation
        return operation


def _draft(
    kind: OperationKind,
    user_id: str,
    timestamp: datetime,
    *,
    edge_indices: tuple[int, ...],
    added_edges: tuple[tuple[int, int], ...] = (),
    removed_edges: tuple[tuple[int, int], ...] = (),
    source_ids: tuple[int, ...] = (),
    sink_ids: tuple[int, ...] = (),
    source_coords: tuple[Point, ...] | None = None,
    sink_coords: tuple[Point, ...] | None = None,
    bb_offset: Point | None = None,
    target_operation_id: int | None = None,
) -> Operation:
    """An operation before it is applied: id, epoch and resulting ids are filled in by _commit."""
    return Operation(
        id=0,
        epoch=0,
        timestamp=timestamp,
        user_id=user_id,
        kind=kind,
        new_root_ids=(),
        old_root_ids=(),
        new_l2_ids=(),
        added_edges=added_edges,
        removed_edges=removed_edges,
        source_ids=source_ids,
        sink_ids=sink_ids,
        source_coords=source_coords,
        sink_coords=sink_coords,
        bb_offset=bb_offset,
        target_operation_id=target_operation_id,
        edge_indices=edge_indices,
    )


def _points(points: Sequence[Point] | None) -> tuple[Point, ...] | None:
    if points is None:
        return None
    return tuple((int(x), int(y), int(z)) for x, y, z in points)
