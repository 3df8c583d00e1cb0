"""The synthetic segmentation (SegmentationGraph): its public contract and its inner consistency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from caveclient_gen.testing import LocalCAVE
from caveclient_gen.testing.chunkedgraph.segmentation.graph import SegmentationGraph

END_OF_HISTORY = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def graph() -> SegmentationGraph:
    return LocalCAVE(seed=3).deployment.component(SegmentationGraph)


def leaves(graph: SegmentationGraph, node: int) -> set[int]:
    """Supervoxels under a node, found by walking down the (time-independent) children."""
    record = graph.node(node)
    assert record is not None
    if record.layer == 2:
        return {int(child) for child in record.children}
    return set().union(*(leaves(graph, int(child)) for child in record.children))


def lineage_operations(graph: SegmentationGraph, root: int) -> set[int]:
    operations, pending = set(), [root]
    while pending:
        record = graph.node(pending.pop())
        assert record is not None
        if record.created_by is not None:
            operations.add(record.created_by)
        pending.extend(record.former_roots)
    return operations


def test_describes_a_twelve_layer_minnie_like_table(graph: SegmentationGraph) -> None:
    assert graph.table_id == "minnie3_v1"
    assert graph.n_layers == 12
    assert graph.base_resolution == (8.0, 8.0, 40.0)
    assert graph.bounds_voxels.shape == (3, 2)
    assert np.all(graph.bounds_voxels[:, 1] > graph.bounds_voxels[:, 0])


def test_edits_happen_at_fixed_dates_after_creation(graph: SegmentationGraph) -> None:
    times = graph.edit_times()
    assert len(times) >= 60
    assert times == sorted(times)
    assert graph.created.tzinfo is not None
    assert graph.created < times[0]
    assert times[-1] < END_OF_HISTORY
    assert LocalCAVE(seed=3).deployment.component(SegmentationGraph).edit_times() == times


def test_ids_encode_layer_and_chunk_like_pychunkedgraph(graph: SegmentationGraph) -> None:
    roots = graph.latest_roots()
    assert all(str(root).startswith("864691135") for root in roots)
    assert set((roots >> np.uint64(56)).tolist()) == {12}
    assert set((graph.supervoxel_ids >> np.uint64(56)).tolist()) == {1}
    supervoxel = int(graph.supervoxel_ids[123])
    level2 = int(graph.level2_ids_at(np.array([supervoxel], dtype=np.uint64), graph.current_epoch)[0])
    assert graph.layout.layer(level2) == 2
    assert graph.layout.chunk_coordinates(level2) == graph.layout.chunk_coordinates(supervoxel)
    assert graph.layout.spatial_bits[2] == 10
    assert graph.layout.spatial_bits[12] == 1


def test_roots_agree_with_leaves_at_every_edit_time(graph: SegmentationGraph) -> None:
    supervoxels = graph.supervoxel_ids
    for operation in graph.operations():
        after = graph.roots_at(supervoxels, operation.timestamp)
        before = graph.roots_at(supervoxels, operation.timestamp - timedelta(milliseconds=1))
        for root in operation.new_root_ids:
            assert set(supervoxels[after == root].tolist()) == leaves(graph, root)
        for root in operation.old_root_ids:
            assert set(supervoxels[before == root].tolist()) == leaves(graph, root)
            assert not np.any(after == root)


def test_level2_ids_are_the_pieces_of_a_root_inside_one_chunk(graph: SegmentationGraph) -> None:
    epoch = graph.current_epoch
    root = graph.heavily_edited_root()
    members = np.array(sorted(leaves(graph, root)), dtype=np.uint64)
    level2 = graph.level2_ids_at(members, epoch)
    for l2 in np.unique(level2):
        inside = members[level2 == l2]
        chunks = {graph.layout.chunk_coordinates(int(sv)) for sv in inside}
        assert chunks == {graph.layout.chunk_coordinates(int(l2))}
        assert graph.parent_at(int(inside[0]), epoch) == int(l2)


def test_roots_at_maps_zero_and_unknown_ids_to_zero_and_refuses_the_past(
    graph: SegmentationGraph,
) -> None:
    ids = np.array(
        [0, 1, 2**63 + 5, int(graph.latest_roots()[0]), int(graph.supervoxel_ids[0])], np.uint64
    )
    roots = graph.roots_at(ids, graph.created)
    assert roots[:4].tolist() == [0, 0, 0, 0]
    assert roots[4] != 0
    with pytest.raises(ValueError, match="before the segmentation was created"):
        graph.roots_at(ids, graph.created - timedelta(seconds=1))


def test_roots_at_is_vectorised_over_millions_of_ids(graph: SegmentationGraph) -> None:
    rng = np.random.default_rng(0)
    ids = rng.choice(graph.supervoxel_ids, 2_000_000)
    roots = graph.roots_at(ids, graph.edit_times()[30])
    unique, inverse = np.unique(ids, return_inverse=True)
    assert np.array_equal(roots, graph.roots_at(unique, graph.edit_times()[30])[inverse])
    assert roots.dtype == np.uint64
    assert np.all(roots > 0)


def test_sample_points_lie_in_their_supervoxels_at_any_annotation_resolution(
    graph: SegmentationGraph,
) -> None:
    positions, supervoxels = graph.sample_points(np.random.default_rng(1), 500)
    assert positions.shape == (500, 3)
    assert positions.dtype == np.float64
    assert np.array_equal(graph.supervoxels_at(positions, (1, 1, 1)), supervoxels)
    in_voxels = np.round(positions / np.array([4.0, 4.0, 40.0]))
    assert np.array_equal(graph.supervoxels_at(in_voxels, (4, 4, 40)), supervoxels)
    assert graph.supervoxels_at(np.array([[0.0, 0.0, 0.0]]), (1, 1, 1)).tolist() == [0]


def test_sample_points_can_be_restricted_to_roots_at_a_time(graph: SegmentationGraph) -> None:
    moment = graph.edit_times()[10]
    roots = graph.roots_alive_at(moment)[:3]
    _, supervoxels = graph.sample_points(np.random.default_rng(2), 200, roots=roots, timestamp=moment)
    assert set(graph.roots_at(supervoxels, moment).tolist()) <= set(roots.tolist())


def test_root_listings_agree(graph: SegmentationGraph) -> None:
    now = datetime.now(UTC)
    latest = graph.latest_roots()
    assert np.array_equal(latest, graph.roots_alive_at(now))
    assert np.array_equal(latest, np.unique(graph.roots_at(graph.supervoxel_ids, now)))
    initial = graph.roots_alive_at(graph.created)
    edited = graph.edited_roots()
    assert not set(initial.tolist()) & set(edited.tolist())
    assert set(latest.tolist()) <= set(initial.tolist()) | set(edited.tolist())
    assert len(graph.roots_alive_at(graph.created - timedelta(days=1))) == 0


def test_the_heavily_edited_neuron_has_dozens_of_edits(graph: SegmentationGraph) -> None:
    root = graph.heavily_edited_root()
    assert root in graph.latest_roots()
    operations = [graph.operation(op) for op in lineage_operations(graph, root)]
    assert len(operations) >= 24
    kinds = {operation.kind for operation in operations if operation is not None}
    assert kinds == {"merge", "split", "undo", "redo"}


def test_another_seed_gives_another_segmentation(graph: SegmentationGraph) -> None:
    other = LocalCAVE(seed=4).deployment.component(SegmentationGraph)
    assert other.edit_times() != graph.edit_times()
    assert not np.array_equal(other.latest_roots(), graph.latest_roots())


def test_live_edits_change_roots_now_and_keep_the_past() -> None:
    graph = LocalCAVE(seed=5).deployment.component(SegmentationGraph)
    before = graph.roots_at(graph.supervoxel_ids, datetime.now(UTC))
    somas = graph.soma_supervoxels()
    first, second = graph.supervoxel_index(somas[1:3]).tolist()
    moment = datetime.now(UTC)
    operation = graph.merge("7", moment, first, second, (1, 2, 3), (4, 5, 6))
    (merged,) = operation.new_root_ids
    now = graph.roots_at(somas[1:3], moment)
    assert now.tolist() == [merged, merged]
    assert np.array_equal(
        graph.roots_at(graph.supervoxel_ids, moment - timedelta(milliseconds=1)), before
    )
    assert graph.edit_times()[-1] == moment
    assert merged in graph.edited_roots()
    assert merged in graph.latest_roots()
    undo = graph.undo("7", moment + timedelta(seconds=1), operation.id)
    assert undo is not None
    assert undo.kind == "undo"
    assert len(set(graph.roots_at(somas[1:3], moment + timedelta(seconds=1)).tolist())) == 2
