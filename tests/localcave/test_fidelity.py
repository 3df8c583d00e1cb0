"""LocalCAVE reproduces the measured faults of the real servers by default; `idealised` opts out.

Each test runs the same request on a faithful deployment and on one idealising that behaviour.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import pytest

from caveclient_gen.testing import InProcessTransport, LocalCAVE
from caveclient_gen.testing.chunkedgraph.segmentation.graph import SegmentationGraph
from caveclient_gen.testing.world.fidelity import IDEALISABLE, MERGE_BOX_VOXELS, Fidelity

TABLE = "/segmentation/api/v1/table/minnie3_v1"


@pytest.fixture(scope="module")
def faithful() -> LocalCAVE:
    return LocalCAVE(seed=3)


@pytest.fixture(scope="module")
def idealised() -> LocalCAVE:
    return LocalCAVE(seed=3, idealised=True)


@contextmanager
def api_of(cave: LocalCAVE) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=InProcessTransport(cave.app),
        base_url=cave.url,
        headers={"Authorization": f"Bearer {cave.token}"},
    ) as client:
        yield client


def graph_of(cave: LocalCAVE) -> SegmentationGraph:
    return cave.deployment.component(SegmentationGraph)


def point_nm(graph: SegmentationGraph, sv: int) -> list[float]:
    """The centre of a supervoxel's cell, in nanometres."""
    geometry = graph.geometry
    voxels = geometry.cell_corner_voxels(graph.sv_cells[np.array([sv])])[0] + geometry.cell_size // 2
    return (voxels * np.asarray(graph.base_resolution)).tolist()


def node(graph: SegmentationGraph, sv: int) -> list[Any]:
    return [int(graph.supervoxel_ids[sv]), *point_nm(graph, sv)]


def test_every_behaviour_is_faithful_by_default_and_names_are_checked() -> None:
    assert Fidelity.of(LocalCAVE().deployment).idealised == frozenset()
    assert Fidelity.of(LocalCAVE(idealised=True).deployment).idealised == set(IDEALISABLE)
    with pytest.raises(ValueError, match="unknown idealised"):
        LocalCAVE(idealised=["no_such_fault"])


def test_points_near_the_volume_edge_fail_lookups_with_500(
    faithful: LocalCAVE, idealised: LocalCAVE
) -> None:
    for cave, status in ((faithful, 500), (idealised, 400)):
        graph = graph_of(cave)
        root = graph.heavily_edited_root()
        corner = (np.array(graph.geometry.voxel_offset) + 5) * np.asarray(graph.base_resolution)
        inside = point_nm(graph, int(graph.state.root_members[root][0]))
        with api_of(cave) as api:
            response = api.post(
                f"{TABLE}/graph/find_path", json=[[root, *corner.tolist()], [root, *inside]]
            )
            merge = api.post(f"{TABLE}/merge", json=[[root, *corner.tolist()], [root, *inside]])
        assert response.status_code == status, response.text
        assert merge.status_code == status, merge.text
        if status == 500:
            assert "cannot be outside of inclusive range" in response.json()["message"]


def _root_pair_with_edges(graph: SegmentationGraph) -> tuple[int, list[int]]:
    """An inactive edge between two objects with other inactive edges between them in its box."""
    state, edges = graph.state, graph.state.graph
    by_pair: dict[tuple[int, int], list[int]] = {}
    for edge in range(edges.n_edges):
        a, b = edges.ends(edge)
        if not edges.is_active(edge) and state.sv_root[a] != state.sv_root[b]:
            key = (int(state.sv_root[a]), int(state.sv_root[b]))
            by_pair.setdefault(tuple(sorted(key)), []).append(edge)  # type: ignore[arg-type]
    for candidates in sorted(by_pair.values(), key=len, reverse=True)[:20]:
        for edge in candidates:
            near = graph._edges_between_in_box(
                int(state.sv_root[edges.ends(edge)[0]]),
                int(state.sv_root[edges.ends(edge)[1]]),
                *_box(graph, edge),
            )
            if len(near) > 1:
                return edge, near
    raise AssertionError("no two objects with several edges between them near one point")


def _box(graph: SegmentationGraph, edge: int) -> tuple[Any, Any]:
    a, b = graph.state.graph.ends(edge)
    resolution = np.asarray(graph.base_resolution)
    points = [(np.array(point_nm(graph, sv)) / resolution).astype(np.int64) for sv in (a, b)]
    return (
        np.minimum(*points) - np.asarray(MERGE_BOX_VOXELS),
        np.maximum(*points) + np.asarray(MERGE_BOX_VOXELS),
    )


def test_a_merge_joins_every_edge_between_the_objects_near_the_points(
    faithful: LocalCAVE, idealised: LocalCAVE
) -> None:
    for cave in (faithful, idealised):
        graph = graph_of(cave)
        edge, near = _root_pair_with_edges(graph)
        a, b = graph.state.graph.ends(edge)
        with api_of(cave) as api:
            response = api.post(f"{TABLE}/merge", json=[node(graph, a), node(graph, b)])
        assert response.status_code == 200, response.text
        operation = graph.edits.by_id[int(response.json()["operation_id"])]
        if cave is idealised:
            assert operation.edge_indices == (edge,)
        else:
            assert sorted(operation.edge_indices) == near
            assert len(operation.added_edges) == len(near) > 1
        assert all(graph.state.graph.is_active(e) for e in operation.edge_indices)


def test_a_split_weighs_cross_chunk_edges_twice(faithful: LocalCAVE, idealised: LocalCAVE) -> None:
    cave = faithful
    graph = graph_of(cave)
    members = graph.state.root_members[graph.heavily_edited_root()]
    rng = np.random.default_rng(0)
    for _ in range(300):
        source, sink = (int(sv) for sv in rng.choice(members, 2, replace=False))
        try:
            once = graph.plan_split([source], [sink]).removed_edges
            twice = graph.plan_split([source], [sink], cross_chunk_twice=True).removed_edges
        except Exception:
            continue
        if once != twice:
            break
    else:
        raise AssertionError("no split whose cut depends on the cross-chunk weights")
    body = {"sources": [node(graph, source)], "sinks": [node(graph, sink)]}
    ideal_once = graph_of(idealised).plan_split([source], [sink]).removed_edges
    for deployment, expected in ((cave, twice), (idealised, ideal_once)):
        with api_of(deployment) as api:
            response = api.post(f"{TABLE}/split", json=body)
        assert response.status_code == 200, response.text
        operation = graph_of(deployment).edits.by_id[int(response.json()["operation_id"])]
        assert sorted(operation.edge_indices) == expected


def test_user_operations_without_a_user_match_nothing(faithful: LocalCAVE, idealised: LocalCAVE) -> None:
    end = datetime.now(UTC).timestamp()
    for cave, some in ((faithful, False), (idealised, True)):
        with api_of(cave) as api:
            response = api.get(f"{TABLE}/user_operations", params={"end_time": end})
        assert response.status_code == 200, response.text
        assert bool(response.json()["operation_id"]) is some
