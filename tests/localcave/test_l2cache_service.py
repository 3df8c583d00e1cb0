"""The L2 cache service (PCGL2Cache 1.3.1): level-2 features of the synthetic segmentation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest

from caveclient_gen.testing import LocalCAVE
from caveclient_gen.testing.chunkedgraph.segmentation.graph import SegmentationGraph

from ._spec_checks import SpecCheckedClient, spec_checked, unchecked

ATTRIBUTES = "/l2cache/api/v1/table/minnie3_v1/attributes"
LEAVES = "/segmentation/api/v1/table/minnie3_v1/node/{}/leaves"
NAMES = {
    "area_nm2",
    "chunk_intersect_count",
    "max_dt_nm",
    "mean_dt_nm",
    "pca",
    "pca_val",
    "rep_coord_nm",
    "size_nm3",
}


@pytest.fixture(scope="module")
def cave() -> LocalCAVE:
    return LocalCAVE(seed=3, idealised=["l2_attributes"])


def test_attributes_fail_on_every_call_like_1_3_1() -> None:
    faithful = LocalCAVE(seed=3)
    with unchecked(faithful, faithful.token) as api:
        response = api.post(ATTRIBUTES, json={"l2_ids": [1]})
        assert response.status_code == 500
        assert response.headers["content-type"].startswith("text/html")
        assert "Internal Server Error" in response.text
        assert api.get("/l2cache/api/v1/attribute_metadata").status_code == 200


@pytest.fixture(scope="module")
def graph(cave: LocalCAVE) -> SegmentationGraph:
    return cave.deployment.component(SegmentationGraph)


@pytest.fixture
def api(cave: LocalCAVE) -> Iterator[SpecCheckedClient]:
    with spec_checked(cave, cave.token) as client:
        yield client


def level2_ids(api: SpecCheckedClient, root: int) -> list[int]:
    ids: list[int] = api.get(LEAVES.format(root), params={"stop_layer": 2}).json()["leaf_ids"]
    return ids


def test_banner_metadata_and_mapping_need_no_token(cave: LocalCAVE) -> None:
    with spec_checked(cave, None) as anonymous:
        assert anonymous.get("/l2cache/").text == "PCGL2Cache v1.3.1"
        metadata = anonymous.get("/l2cache/api/v1/attribute_metadata").json()
        mapping = anonymous.get("/l2cache/api/v1/table_mapping").json()
    assert set(metadata) == NAMES
    assert metadata["size_nm3"] == "<class 'numpy.uint32'>"
    assert metadata["mean_dt_nm"] == "<class 'numpy.float16'>"
    assert metadata["pca_val"] == "<class 'numpy.float32'>"
    assert mapping == {
        "minnie3_v1": {
            "cv_path": f"graphene://{cave.url}/segmentation/table/minnie3_v1",
            "l2cache_id": "l2cache_minnie3_v1_v1",
        }
    }


def test_attributes_have_the_real_names_types_and_units(
    api: SpecCheckedClient, graph: SegmentationGraph
) -> None:
    root = graph.heavily_edited_root()
    ids = level2_ids(api, root)[:20]
    answer = api.post(ATTRIBUTES, content=json.dumps({"l2_ids": ids})).json()
    assert set(answer) == {str(l2) for l2 in ids}
    features = answer[str(ids[0])]
    assert set(features) == NAMES
    assert isinstance(features["size_nm3"], float)
    assert isinstance(features["area_nm2"], int)
    assert isinstance(features["max_dt_nm"], int)
    assert len(features["rep_coord_nm"]) == 3
    assert np.array(features["pca"]).shape == (3, 3)
    assert len(features["pca_val"]) == 3
    assert np.array(features["chunk_intersect_count"]).shape == (2, 3)
    # The volume is a multiple of the voxel volume (8 * 8 * 40 nm3).
    assert features["size_nm3"] % 2560 == 0


def test_representative_points_lie_in_their_level2_node(
    api: SpecCheckedClient, graph: SegmentationGraph
) -> None:
    ids = level2_ids(api, graph.heavily_edited_root())
    answer = api.post(
        ATTRIBUTES, json={"l2_ids": ids}, params={"attribute_names": "rep_coord_nm"}
    ).json()
    now = datetime.now(UTC)
    points = np.array([answer[str(l2)]["rep_coord_nm"] for l2 in ids])
    supervoxels = graph.supervoxels_at(points, (1, 1, 1))
    assert np.array_equal(
        graph.level2_ids_at(supervoxels, graph.epoch_at(now)), np.array(ids, np.uint64)
    )
    assert all(set(answer[str(l2)]) == {"rep_coord_nm"} for l2 in ids)


def test_features_are_deterministic_and_ids_not_cached_answer_empty(
    api: SpecCheckedClient, graph: SegmentationGraph
) -> None:
    ids = level2_ids(api, graph.heavily_edited_root())[:5]
    first = api.post(ATTRIBUTES, json={"l2_ids": [*ids, *ids, 12345]}).json()
    second = api.post(ATTRIBUTES, json={"l2_ids": ids}).json()
    assert first["12345"] == {}
    assert {key: value for key, value in first.items() if key != "12345"} == second
    assert first == api.post(ATTRIBUTES, json={"l2_ids": [12345, *ids]}).json()


def test_unknown_attributes_fail_with_the_chunkedgraph_error_body(
    api: SpecCheckedClient, graph: SegmentationGraph
) -> None:
    response = api.post(ATTRIBUTES, json={"l2_ids": [1]}, params={"attribute_names": "size_nm3,colour"})
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == 500
    assert "colour" in body["message"]
    assert body["traceback"]
    assert api.post("/l2cache/api/v1/table/nope/attributes", json={"l2_ids": []}).status_code == 400


def touching_supervoxels_of_two_roots_in_one_chunk(graph: SegmentationGraph) -> tuple[int, int]:
    """Dense indices of two supervoxels that touch, share a chunk and belong to different roots."""
    sv_graph = graph.state.graph
    for edge in range(sv_graph.n_edges):
        a, b = sv_graph.ends(edge)
        ids = graph.supervoxel_ids[[a, b]]
        same_chunk = graph.layout.chunk_coordinates(int(ids[0])) == graph.layout.chunk_coordinates(
            int(ids[1])
        )
        if same_chunk and graph.state.sv_root[a] != graph.state.sv_root[b]:
            return a, b
    raise AssertionError("no touching supervoxels of two roots")


def test_level2_nodes_of_new_edits_are_computed_after_the_first_request() -> None:
    cave = LocalCAVE(seed=6, idealised=["l2_attributes"])
    graph = cave.deployment.component(SegmentationGraph)
    first, second = touching_supervoxels_of_two_roots_in_one_chunk(graph)
    operation = graph.merge("1", datetime.now(UTC), first, second, (0, 0, 0), (0, 0, 0))
    (merged_l2,) = operation.new_l2_ids
    with unchecked(cave, cave.token) as api:
        body = {"l2_ids": [merged_l2]}
        assert api.post(ATTRIBUTES, json=body, params={"update_cache": "false"}).json() == {
            str(merged_l2): {}
        }
        assert api.post(ATTRIBUTES, json=body).json() == {str(merged_l2): {}}
        assert set(api.post(ATTRIBUTES, json=body).json()[str(merged_l2)]) == NAMES
