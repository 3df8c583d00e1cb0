"""The skeleton service (SkeletonService 0.23.11): skeletons built from the level-2 graph."""

from __future__ import annotations

import binascii
import gzip
import json
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from caveclient_gen.testing import LocalCAVE
from caveclient_gen.testing.chunkedgraph.segmentation.graph import SegmentationGraph
from caveclient_gen.testing.skeleton.store import SkeletonStore

from ._spec_checks import SpecCheckedClient, spec_checked, unchecked

V1 = "/skeletoncache/api/v1/minnie65_local"
SKELETON = f"{V1}/precomputed/skeleton"
LEAVES = "/segmentation/api/v1/table/minnie3_v1/node/{}/leaves"
L2CACHE = "/l2cache/api/v1/table/minnie3_v1/attributes"


@pytest.fixture(scope="module")
def cave() -> LocalCAVE:
    return LocalCAVE(seed=3, idealised=["l2_attributes"])


@pytest.fixture(scope="module")
def graph(cave: LocalCAVE) -> SegmentationGraph:
    return cave.deployment.component(SegmentationGraph)


@pytest.fixture(scope="module")
def store(cave: LocalCAVE) -> SkeletonStore:
    return cave.deployment.component(SkeletonStore)


@pytest.fixture
def api(cave: LocalCAVE) -> Iterator[SpecCheckedClient]:
    with spec_checked(cave, cave.token) as client:
        yield client


def uncached_root(graph: SegmentationGraph, store: SkeletonStore) -> int:
    return next(root for root in graph.latest_roots().tolist() if not store.is_cached(root))


def flatdict(api: SpecCheckedClient, root: int, version: int = 4) -> dict[str, Any]:
    response = api.get(f"{V1}/async/get_skeleton/{version}/{root}/flatdict")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert "content-encoding" not in response.headers
    skeleton: dict[str, Any] = json.loads(gzip.decompress(response.content))
    return skeleton


def test_version_routes_answer_anyone(cave: LocalCAVE) -> None:
    with spec_checked(cave, None) as anonymous:
        assert anonymous.get("/skeletoncache/api/version").json() == "0.23.11"
        assert anonymous.get("/skeletoncache/api/versions").json() == [-1, 0, 1, 2, 3, 4]
        assert anonymous.get(f"{SKELETON}/info", headers={"X-Requested-With": "x"}).status_code == 401


def test_skeleton_info_documents(api: SpecCheckedClient) -> None:
    neuroglancer = api.get(f"{SKELETON}/info").json()
    assert neuroglancer["@type"] == "neuroglancer_skeletons"
    assert [a["data_type"] for a in neuroglancer["vertex_attributes"]] == ["float32", "float32"]
    assert api.get(f"{SKELETON}/1/info").json()["vertex_attributes"] == []
    assert api.get(f"{SKELETON}/4/info").json()["vertex_attributes"][1]["data_type"] == "uint8"
    assert api.get(f"{SKELETON}/-1/info").json() == {"message": "Internal Server Error"}
    assert "bulk skeletons" in api.get(f"{V1}/bulk/skeleton/info").json()


def test_flatdict_skeleton_is_the_level2_graph(api: SpecCheckedClient, graph: SegmentationGraph) -> None:
    root = graph.heavily_edited_root()
    skeleton = flatdict(api, root)
    level2 = sorted(api.get(LEAVES.format(root), params={"stop_layer": 2}).json()["leaf_ids"])
    assert skeleton["lvl2_ids"] == level2
    assert skeleton["meta"]["skeleton_version"] == 4
    assert skeleton["meta"]["root_id"] == root
    vertices = np.array(skeleton["vertices"])
    edges = np.array(skeleton["edges"])
    assert len(vertices) == len(level2) == len(skeleton["mesh_to_skel_map"])
    assert len(edges) == len(vertices) - 1
    assert set(edges[:, 0].tolist()) == set(range(1, len(vertices)))
    assert skeleton["root"] == 0
    assert skeleton["compartment"][0] == 1
    assert set(skeleton["compartment"]) <= {1, 2, 3}
    assert len(skeleton["radius"]) == len(vertices)
    features = api.post(
        L2CACHE, json={"l2_ids": level2}, params={"attribute_names": "rep_coord_nm"}
    ).json()
    expected = [features[str(l2)]["rep_coord_nm"] for l2 in level2]
    assert np.allclose(vertices[skeleton["mesh_to_skel_map"]], expected)


def test_versions_change_what_a_skeleton_carries(
    api: SpecCheckedClient, graph: SegmentationGraph
) -> None:
    root = graph.heavily_edited_root()
    neuroglancer = flatdict(api, root, version=0)
    assert neuroglancer["meta"]["skeleton_version"] == 2
    assert "lvl2_ids" not in neuroglancer
    assert all(isinstance(value, float) for value in neuroglancer["compartment"])
    basic = flatdict(api, root, version=1)
    assert "radius" not in basic
    assert "compartment" not in basic
    assert flatdict(api, root, version=-1)["meta"]["skeleton_version"] == 4


def test_swc_and_precomputed_formats(
    api: SpecCheckedClient, cave: LocalCAVE, graph: SegmentationGraph
) -> None:
    root = graph.heavily_edited_root()
    skeleton = flatdict(api, root)
    swc = gzip.decompress(api.get(f"{SKELETON}/4/{root}/swccompressed").content).decode()
    rows = [line.split(" ") for line in swc.strip().split("\n")]
    assert len(rows) == len(skeleton["vertices"])
    assert rows[0][6] == "-1"
    assert [float(value) for value in rows[1][2:5]] == pytest.approx(
        np.array(skeleton["vertices"][1]) / 1000, abs=1e-3
    )
    attachment = api.get(f"{SKELETON}/4/{root}/swc", headers={"Accept-Encoding": "identity"})
    assert attachment.headers["content-disposition"].startswith(
        "attachment; filename=skeleton__v4__rid-"
    )
    assert attachment.text == swc
    for version, compartment_bytes in ((2, 4), (4, 1)):
        body = api.get(f"{SKELETON}/{version}/{root}/precomputed").content
        vertices, edges = struct.unpack("<II", body[:8])
        assert vertices == len(skeleton["vertices"])
        assert len(body) == 8 + 12 * vertices + 8 * edges + 4 * vertices + compartment_bytes * vertices
    # specs/ declares the single-skeleton body as bytes; json and arrays come as application/json.
    with unchecked(cave, cave.token) as raw:
        document = raw.get(f"{SKELETON}/4/{root}/json").json()
        arrays = raw.get(f"{SKELETON}/3/{root}/arrays").json()
    assert document["vertices"] == skeleton["vertices"]
    assert document["vertex_properties"]["compartment"] == skeleton["compartment"]
    assert set(arrays) == {"vertices", "vertex_properties", "edges"}


def test_ids_that_cannot_be_skeletonized(
    api: SpecCheckedClient, cave: LocalCAVE, graph: SegmentationGraph, store: SkeletonStore
) -> None:
    supervoxel = int(graph.supervoxel_ids[0])
    response = api.get(f"{V1}/async/get_skeleton/4/{supervoxel}/flatdict")
    assert response.status_code == 400
    assert "e.g., a supervoxel id" in response.json()["Error"]
    with unchecked(cave, cave.token) as raw:  # the plain route's JSON null is not in specs/
        assert raw.get(f"{SKELETON}/4/{supervoxel}/flatdict").json() is None
    unknown = api.get(f"{V1}/async/get_skeleton/4/864691135000000007/flatdict")
    assert "perhaps it doesn't exist" in unknown.json()["Error"]
    (refused,) = [root for datastack, root in store.refusal_list() if datastack == "minnie65_local"]
    assert "refusal list" in api.get(f"{V1}/async/get_skeleton/4/{refused}/flatdict").json()["Error"]
    root = graph.heavily_edited_root()
    assert api.get(f"{SKELETON}/4/{root}/pdf").json() == {"Error": ""}
    assert api.get(f"{SKELETON}/9/{root}/flatdict").json() == {"message": "Internal Server Error"}
    not_routed = api.get(f"{SKELETON}/4/minus-one/flatdict")
    assert not_routed.status_code == 404
    assert "did you mean" in not_routed.json()["message"]


def test_refusal_list_is_a_gzip_csv(api: SpecCheckedClient, store: SkeletonStore) -> None:
    response = api.get(f"{SKELETON}/get_refusal_list")
    assert response.headers["content-type"] == "application/octet-stream"
    assert "content-encoding" not in response.headers
    lines = gzip.decompress(response.content).decode().strip().split("\n")
    assert lines[0] == "DATASTACK_NAME,ROOT_ID"
    assert lines[1:] == [f"{datastack},{root}" for datastack, root in store.refusal_list()]
    assert any(line.startswith("minnie65_phase3_v1,") for line in lines)


def test_the_cache_remembers_generated_skeletons(
    api: SpecCheckedClient, graph: SegmentationGraph, store: SkeletonStore
) -> None:
    root = uncached_root(graph, store)
    cached = graph.heavily_edited_root()
    exists = f"{SKELETON}/exists"
    assert api.post(exists, json={"root_ids": [root], "skeleton_version": 4}).json() is False
    both = api.post(exists, json={"root_ids": [root, cached], "skeleton_version": -1}).json()
    assert both == {str(root): False, str(cached): True}
    flatdict(api, root)
    assert api.post(exists, json={"root_ids": [root], "skeleton_version": 4}).json() is True
    found = api.get(f"{SKELETON}/query_cache/4/{str(root)[:12]}/0").json()
    assert (
        f"skeleton__v4__rid-{root}__ds-minnie65_local__res-1x1x1__cs-True__cr-7500.h5.gz"
        in found["files"]
    )
    assert found["num_found"] == len(found["files"])
    assert api.get(f"{SKELETON}/query_cache/4/8646/2").json()["files"].__len__() == 2
    assert api.get(f"{SKELETON}/query_cache/2/8646/0").json() == {"num_found": 0, "files": []}
    assert api.get(f"{SKELETON}/exists/4/5").json() is False
    assert api.get(f"{SKELETON}/exists/4/{root}").status_code == 500
    refused = api.post(exists, content=b"{}", headers={"Content-Type": "text/plain"})
    assert refused.status_code == 415


def test_bulk_skeletons_are_hex_encoded_with_markers(
    api: SpecCheckedClient, graph: SegmentationGraph, store: SkeletonStore
) -> None:
    cached = graph.heavily_edited_root()
    missing = uncached_root(graph, store)
    others = [root for root in graph.latest_roots().tolist() if root not in (cached, missing)]
    ids = [cached, missing, int(graph.supervoxel_ids[3]), 864691135000000007, *others[:10]]
    path = f"{V1}/bulk/get_skeletons/4/flatdict/True/{','.join(map(str, ids))}"
    answer = api.get(path).json()
    assert len(answer) == 10
    assert answer[str(missing)] == "async"
    assert answer[str(ids[2])] == "invalid_layer_rid"
    assert answer[str(ids[3])] == "invalid_rid"
    skeleton = json.loads(gzip.decompress(binascii.unhexlify(answer[str(cached)])))
    assert skeleton["meta"]["root_id"] == cached
    assert api.get(path).json()[str(missing)] != "async"
    swc = api.get(f"{V1}/bulk/get_skeletons/4/swc/false/{cached}").json()[str(cached)]
    assert binascii.unhexlify(swc).decode().startswith("0 1 ")


def test_cached_bulk_limits_and_generation(
    api: SpecCheckedClient, graph: SegmentationGraph, store: SkeletonStore
) -> None:
    path = f"{V1}/bulk/get_cached_skeletons/4/flatdict"
    too_many = api.post(path, json={"root_ids": list(range(501))})
    assert too_many.status_code == 400
    assert too_many.json() == {"Error": "Too many root IDs requested: 501. Maximum allowed is 500."}
    cached, missing = graph.heavily_edited_root(), uncached_root(graph, store)
    answer = api.post(path, json={"root_ids": [cached, missing]}).json()
    assert list(answer) == [str(cached)]
    api.post(path, json={"root_ids": [missing], "generate_missing": True})
    assert str(missing) in api.post(path, json={"root_ids": [missing]}).json()
    others = [root for root in graph.latest_roots().tolist() if not store.is_cached(root)][:20]
    estimate = api.post(
        f"{V1}/bulk/gen_skeletons", json={"root_ids": others, "skeleton_version": 4}
    ).json()
    assert estimate == 120
    assert all(store.is_cached(root) for root in others)


def test_storage_token_names_the_bucket_objects(api: SpecCheckedClient) -> None:
    token = api.post(f"{V1}/bulk/get_skeleton_token/4", json={}).json()
    assert token["token_type"] == "Bearer"
    assert token["path_template"].startswith("minnie65_local/4/skeleton__v4__rid-{rid}__")
    assert token["path_template"].endswith(".h5.gz")
    assert token["bucket"]


def test_the_datastack_decides_permissions(cave: LocalCAVE) -> None:
    with spec_checked(cave, cave.token_for("viewer")) as viewer:
        assert viewer.get(f"{SKELETON}/info").status_code == 200
        restricted = viewer.get(
            "/skeletoncache/api/v1/minnie65_local_restricted/precomputed/skeleton/info"
        )
    assert restricted.status_code == 403
    assert restricted.json()["error"] == "missing_permission"
