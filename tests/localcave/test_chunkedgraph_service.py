"""The chunkedgraph service (PyChunkedGraph 2.21.1) over the synthetic segmentation."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest

from caveclient_gen.testing import LocalCAVE, LocalUser
from caveclient_gen.testing.chunkedgraph.segmentation.graph import SegmentationGraph
from caveclient_gen.testing.world.fidelity import Fidelity, configure_fidelity

from ._spec_checks import SpecCheckedClient, spec_checked, unchecked

TABLE = "/segmentation/api/v1/table/minnie3_v1"
HTML = "text/html; charset=utf-8"
ERROR_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?")


@pytest.fixture(scope="module")
def cave() -> LocalCAVE:
    return LocalCAVE(seed=3)


@pytest.fixture(scope="module")
def graph(cave: LocalCAVE) -> SegmentationGraph:
    return cave.deployment.component(SegmentationGraph)


@pytest.fixture
def idealise(cave: LocalCAVE) -> Iterator[Callable[..., None]]:
    """Idealise behaviours of the module's deployment for one test (restored afterwards)."""
    fidelity = Fidelity.of(cave.deployment)
    saved = fidelity.idealised

    def idealise(*names: str) -> None:
        configure_fidelity(cave.deployment, names)

    yield idealise
    fidelity.idealised = saved


@pytest.fixture
def api(cave: LocalCAVE) -> Iterator[SpecCheckedClient]:
    with spec_checked(cave, cave.token) as client:
        yield client


def epoch(moment: datetime) -> float:
    return moment.timestamp()


def uint64s(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    assert len(response.content) % 8 == 0
    return np.frombuffer(response.content, dtype="<u8").tolist()


def get_with_body(api: httpx.Client, path: str, body: dict[str, Any], **params: Any) -> httpx.Response:
    return api.request("GET", path, content=json.dumps(body), params=params)


def assert_error(response: httpx.Response, status: int, message: str, *, traceback: bool) -> None:
    assert response.status_code == status
    body = response.json()
    assert body["code"] == status
    assert message in body["message"]
    assert ERROR_TIMESTAMP.fullmatch(body["timestamp"])
    assert isinstance(body["duration"], float)
    assert ("traceback" in body) is traceback


# -- versions and info ------------------------------------------------------------------------


def test_versions_need_a_token(api: SpecCheckedClient, cave: LocalCAVE) -> None:
    assert api.get("/segmentation/api/version").json() == "2.21.1"
    assert api.get("/segmentation/api/versions").json() == [0, 1]
    with spec_checked(cave, None) as anonymous:
        response = anonymous.get("/segmentation/api/version", headers={"X-Requested-With": "x"})
    assert response.status_code == 401


def test_table_info_is_the_graphene_info(api: SpecCheckedClient, graph: SegmentationGraph) -> None:
    info = api.get("/segmentation/table/minnie3_v1/info").json()
    assert info["app"] == {"supported_api_versions": [0, 1]}
    assert info["graph"]["chunk_size"] == [256, 256, 512]
    assert info["graph"]["n_layers"] == graph.n_layers == 12
    assert info["graph"]["spatial_bit_masks"]["2"] == 10
    assert info["scales"][0]["resolution"] == [8, 8, 40]
    assert info["scales"][0]["voxel_offset"] == graph.bounds_voxels[:, 0].tolist()
    assert info["type"] == "segmentation"
    assert info["sharded_mesh"] is True


def test_unknown_tables_and_missing_permissions_are_refused_by_the_auth_layer(
    api: SpecCheckedClient, cave: LocalCAVE
) -> None:
    assert api.get("/segmentation/table/nope/info").json()["error"] == "invalid_table_id"
    with spec_checked(cave, cave.token_for("newcomer")) as newcomer:
        assert newcomer.get("/segmentation/table/minnie3_v1/info").json()["error"] == "missing_tos"
    with spec_checked(cave, cave.token_for("viewer")) as viewer:
        assert viewer.get("/segmentation/table/minnie3_v1/info").status_code == 200
        refused = viewer.post(f"{TABLE}/merge", content=b"[]")
    assert refused.status_code == 403
    assert refused.json()["data"] == {"required_permission": "edit", "auth_dataset": "minnie65_phase3"}


# -- roots ------------------------------------------------------------------------------------


def test_roots_binary_answers_little_endian_uint64_labelled_html(
    api: SpecCheckedClient, graph: SegmentationGraph
) -> None:
    supervoxels = graph.supervoxel_ids[::500]
    moment = graph.edit_times()[20]
    response = api.post(
        f"{TABLE}/roots_binary",
        content=supervoxels.astype("<u8").tobytes(),
        params={"timestamp": epoch(moment)},
    )
    assert response.headers["content-type"] == HTML
    assert uint64s(response) == graph.roots_at(supervoxels, moment).tolist()
    level2 = api.post(
        f"{TABLE}/roots_binary", content=supervoxels[:3].tobytes(), params={"stop_layer": 2}
    )
    assert [id_ >> 56 for id_ in uint64s(level2)] == [2, 2, 2]


def test_roots_binary_quirks(api: SpecCheckedClient, graph: SegmentationGraph) -> None:
    known = int(graph.supervoxel_ids[0])
    ids = np.array([known, 0, 12345], dtype="<u8")
    assert uint64s(api.post(f"{TABLE}/roots_binary", content=ids.tobytes()))[1:] == [0, 0]
    # Ids of which none has a parent come back untouched.
    unknown = np.array([12345, 67890], dtype="<u8").tobytes()
    assert uint64s(api.post(f"{TABLE}/roots_binary", content=unknown)) == [12345, 67890]
    before = np.array([known], dtype="<u8").tobytes()
    params = {"timestamp": epoch(graph.created - timedelta(days=1))}
    assert uint64s(api.post(f"{TABLE}/roots_binary", content=before, params=params)) == [known]
    # An empty fail_to_zero switches zeros off, and assert_roots with any value switches the check on.
    strict = api.post(f"{TABLE}/roots_binary", content=ids.tobytes(), params={"fail_to_zero": ""})
    assert_error(strict, 500, "", traceback=True)
    asserted = api.post(f"{TABLE}/roots_binary", content=ids.tobytes(), params={"assert_roots": "true"})
    assert_error(asserted, 500, "roots not found for some IDs", traceback=True)


def test_gzip_in_both_directions(api: SpecCheckedClient, graph: SegmentationGraph) -> None:
    body = graph.supervoxel_ids[:4].astype("<u8").tobytes()
    response = api.post(
        f"{TABLE}/roots_binary",
        content=gzip.compress(body),
        headers={"Content-Encoding": "gzip", "Accept-Encoding": "gzip"},
    )
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert len(uint64s(response)) == 4
    plain = api.get("/segmentation/api/versions", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    failed = api.get(f"{TABLE}/delta_roots", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in failed.headers


def test_roots_agree_with_leaves_at_every_tenth_edit(
    api: SpecCheckedClient, graph: SegmentationGraph
) -> None:
    supervoxels = graph.supervoxel_ids
    for operation in graph.operations()[::10]:
        params = {"timestamp": epoch(operation.timestamp)}
        roots = np.array(
            uint64s(api.post(f"{TABLE}/roots_binary", content=supervoxels.tobytes(), params=params)),
            dtype=np.uint64,
        )
        for root in operation.new_root_ids:
            leaves = api.get(f"{TABLE}/node/{root}/leaves").json()["leaf_ids"]
            assert sorted(leaves) == sorted(supervoxels[roots == root].tolist())


def test_single_root_lookup_and_its_errors(
    api: SpecCheckedClient, cave: LocalCAVE, graph: SegmentationGraph
) -> None:
    supervoxel = int(graph.supervoxel_ids[7])
    latest = api.get(f"{TABLE}/node/{supervoxel}/root").json()["root_id"]
    assert latest == int(graph.roots_at(np.array([supervoxel], np.uint64), datetime.now(UTC))[0])
    with unchecked(cave, cave.token) as raw:  # int64_as_str is left out of the spec on purpose
        as_text = raw.get(f"{TABLE}/node/{supervoxel}/root", params={"int64_as_str": "true"}).json()
    assert as_text == {"root_id": str(latest)}
    level2 = api.get(f"{TABLE}/node/{supervoxel}/root", params={"stop_layer": 2}).json()["root_id"]
    assert level2 >> 56 == 2
    assert_error(
        api.get(f"{TABLE}/node/{supervoxel}/root", params={"stop_layer": "x"}),
        400,
        "[400]: stop_layer is not an integer",
        traceback=False,
    )
    assert_error(api.get(f"{TABLE}/node/banana/root"), 500, "banana", traceback=True)
    assert_error(
        api.get(f"{TABLE}/node/{supervoxel}/root", params={"timestamp": "yesterday"}),
        400,
        "[400]: Timestamp parameter timestamp is not a valid unix timestamp",
        traceback=False,
    )


def test_root_validity_over_time(api: SpecCheckedClient, graph: SegmentationGraph) -> None:
    operation = next(op for op in graph.operations() if op.kind == "split")
    old, new = operation.old_root_ids[0], operation.new_root_ids[0]
    before = epoch(operation.timestamp - timedelta(seconds=1))
    body = {"node_ids": [old, new]}
    assert api.post(f"{TABLE}/is_latest_roots", json=body, params={"timestamp": before}).json() == {
        "is_latest": [True, False]
    }
    created = api.post(f"{TABLE}/root_timestamps", json=body).json()["timestamp"]
    assert created[1] == pytest.approx(epoch(operation.timestamp))
    latest = api.post(
        f"{TABLE}/root_timestamps", json={"node_ids": [old]}, params={"latest": "true"}
    ).json()["timestamp"]
    assert latest == [pytest.approx(epoch(operation.timestamp))]
    valid = get_with_body(api, f"{TABLE}/valid_nodes", {"node_ids": [new, 12345, old]}).json()
    assert valid == {"valid_roots": sorted([old, new])}
    window = get_with_body(api, f"{TABLE}/valid_nodes", {"node_ids": [new]}, end_timestamp=before).json()
    assert window == {"valid_roots": []}


# -- structure --------------------------------------------------------------------------------


def test_children_leaves_and_bounds(api: SpecCheckedClient, graph: SegmentationGraph) -> None:
    root = graph.heavily_edited_root()
    children = api.get(f"{TABLE}/node/{root}/children").json()["children_ids"]
    assert children
    level2 = api.get(f"{TABLE}/node/{root}/leaves", params={"stop_layer": 2}).json()["leaf_ids"]
    assert {node >> 56 for node in level2} == {2}
    everything = set(api.get(f"{TABLE}/node/{root}/leaves").json()["leaf_ids"])
    many = api.post(f"{TABLE}/node/leaves_many", json={"node_ids": [root]}).json()
    assert set(many[str(root)]) == everything
    chunk = np.array(graph.layout.chunk_coordinates(level2[0]))
    low = graph.geometry.chunk_origin_voxels(chunk)
    high = low + np.array(graph.geometry.chunk_size)
    bounds = "_".join(f"{a}-{b}" for a, b in zip(low.tolist(), high.tolist(), strict=True))
    inside = api.get(f"{TABLE}/node/{root}/leaves", params={"bounds": bounds}).json()["leaf_ids"]
    assert 0 < len(inside) < len(everything)
    assert {graph.layout.chunk_coordinates(sv) for sv in inside} == {tuple(chunk.tolist())}
    assert api.get(f"{TABLE}/node/{inside[0]}/children").json() == {"children_ids": []}


def test_minimal_covering_nodes_cover_exactly_the_given_nodes(
    api: SpecCheckedClient, graph: SegmentationGraph
) -> None:
    root = graph.heavily_edited_root()
    level2 = api.get(f"{TABLE}/node/{root}/leaves", params={"stop_layer": 2}).json()["leaf_ids"]
    chosen = level2[: len(level2) // 2]
    response = api.post(
        f"{TABLE}/minimal_covering_nodes", json={"node_ids": chosen}, params={"as_array": "true"}
    )
    assert response.headers["content-type"] == HTML
    cover = uint64s(response)
    assert len(cover) < len(chosen)
    covered = [
        leaf
        for node in cover
        for leaf in api.get(f"{TABLE}/node/{node}/leaves", params={"stop_layer": 2}).json()["leaf_ids"]
    ]
    assert sorted(covered) == sorted(chosen)


def test_level2_graph_reports_whether_bounds_were_used(
    api: SpecCheckedClient, graph: SegmentationGraph
) -> None:
    root = graph.heavily_edited_root()
    response = api.get(f"{TABLE}/node/{root}/lvl2_graph")
    assert response.headers["used-bounds"] == "False"
    edges = response.json()["edge_graph"]
    level2 = set(api.get(f"{TABLE}/node/{root}/leaves", params={"stop_layer": 2}).json()["leaf_ids"])
    assert edges == sorted(edges)
    assert all(a < b and {a, b} <= level2 for a, b in edges)
    assert len(edges) >= len(level2) - 1
    bounded = api.get(f"{TABLE}/node/{root}/lvl2_graph", params={"bounds": "0-1_0-1_0-1"})
    assert bounded.headers["used-bounds"] == "True"
    assert bounded.json() == {"edge_graph": []}


def test_subgraph_contacts_and_paths(api: SpecCheckedClient, graph: SegmentationGraph) -> None:
    root = graph.heavily_edited_root()
    subgraph = api.get(f"{TABLE}/node/{root}/subgraph").json()
    leaves = set(api.get(f"{TABLE}/node/{root}/leaves").json()["leaf_ids"])
    assert len(subgraph["nodes"]) == len(subgraph["affinities"]) == len(subgraph["areas"]) > 0
    assert all(set(pair) <= leaves for pair in subgraph["nodes"])
    outward = api.get(f"{TABLE}/node/{root}/subgraph", params={"only_internal_edges": "false"}).json()
    assert len(outward["nodes"]) > len(subgraph["nodes"])
    somas = graph.soma_supervoxels()[:1]
    level2 = sorted(api.get(f"{TABLE}/node/{root}/leaves", params={"stop_layer": 2}).json()["leaf_ids"])
    ends = [point_in(graph, int(somas[0])), point_in(graph, int(graph.node(level2[-1]).children[0]))]
    path = api.post(
        f"{TABLE}/graph/find_path",
        json=[[root, *ends[0]], [root, *ends[1]]],
        params={"precision_mode": "false"},
    ).json()
    assert path["l2_path"][-1] == level2[-1]
    assert len(path["centroids_list"]) == len(path["l2_path"])


def chunk_bounds(graph: SegmentationGraph, node: int) -> str:
    """The ``bounds`` text of the level-2 chunk of a node."""
    low = graph.geometry.chunk_origin_voxels(np.array(graph.layout.chunk_coordinates(node)))
    high = low + np.array(graph.geometry.chunk_size)
    return "_".join(f"{a}-{b}" for a, b in zip(low.tolist(), high.tolist(), strict=True))


def test_contact_sites_fail_on_every_call_like_2_21_1(
    api: SpecCheckedClient, graph: SegmentationGraph
) -> None:
    root = graph.heavily_edited_root()
    response = api.get(f"{TABLE}/node/{root}/contact_sites")
    assert_error(response, 500, "unexpected keyword argument 'connected_edges'", traceback=True)


def test_contact_sites_only_answer_for_exactly_two_partners(
    api: SpecCheckedClient, graph: SegmentationGraph, idealise: Callable[..., None]
) -> None:
    idealise("contact_sites")
    root = graph.heavily_edited_root()
    level2 = api.get(f"{TABLE}/node/{root}/leaves", params={"stop_layer": 2}).json()["leaf_ids"]
    answered = []
    for l2 in level2[:40]:
        response = api.get(
            f"{TABLE}/node/{root}/contact_sites", params={"bounds": chunk_bounds(graph, l2)}
        )
        if response.status_code == 200:
            answered.append(response.json())
        else:
            # 2.21.1 unpacks the partner mapping into two fields: any other count fails.
            assert_error(response, 500, "values to unpack", traceback=True)
    assert answered
    partners = answered[0]
    assert set(partners) == {"contact_sites", "contact_site_metadata"}
    assert {partners["contact_sites"] >> 56, partners["contact_site_metadata"] >> 56} == {12}
    assert root not in partners.values()


def test_merge_log_lists_merges_and_fails_on_undo_records(
    api: SpecCheckedClient, graph: SegmentationGraph
) -> None:
    operations = graph.operations()
    merged = next(
        op.new_root_ids[0]
        for op in operations
        if op.kind == "merge"
        and op.new_root_ids[0] in graph.latest_roots()
        and not any(
            o.kind in ("undo", "redo") for o in operations if op.new_root_ids[0] in o.old_root_ids
        )
    )
    log = api.get(f"{TABLE}/root/{merged}/merge_log").json()
    assert log["merge_edges"]
    assert np.array(log["merge_edge_coords"][0]).shape == (2, 1, 3)
    # The heavily edited neuron's history has undo/redo records, which carry no coordinates.
    failed = api.get(f"{TABLE}/root/{graph.heavily_edited_root()}/merge_log")
    assert_error(failed, 500, "source_coords", traceback=True)


def point_in(graph: SegmentationGraph, supervoxel: int) -> list[float]:
    """A point (nm) in the middle of a supervoxel's cell."""
    index = graph.supervoxel_index(np.array([supervoxel], np.uint64))
    corner = graph.geometry.cell_corner_voxels(graph.sv_cells[index])[0]
    return ((corner + graph.geometry.cell_size // 2) * np.array(graph.base_resolution)).tolist()


# -- history ----------------------------------------------------------------------------------


def test_lineage_of_the_heavily_edited_neuron(api: SpecCheckedClient, graph: SegmentationGraph) -> None:
    root = graph.heavily_edited_root()
    lineage = api.post(f"{TABLE}/lineage_graph_multiple", json={"root_ids": [root]}).json()
    assert lineage["directed"] is True
    assert lineage["multigraph"] is False
    nodes = {node["id"]: node for node in lineage["nodes"]}
    assert root in nodes
    assert "operation_id" not in nodes[root]
    operations = {node["operation_id"] for node in nodes.values() if "operation_id" in node}
    assert len(operations) >= 24
    assert all(
        nodes[link["source"]]["timestamp"] <= nodes[link["target"]]["timestamp"]
        for link in lineage["links"]
    )
    summary = api.get(f"{TABLE}/root/{root}/change_log").json()
    assert (
        summary["n_mergers"] + summary["n_splits"] == len(summary["operations_ids"]) == len(operations)
    )
    assert set(summary["operations_ids"]) == operations
    mapping = get_with_body(api, f"{TABLE}/past_id_mapping", {"root_ids": [root]}).json()
    originals = mapping["past_id_map"][str(root)]
    assert set(originals) <= set(graph.roots_alive_at(graph.created).tolist())


def test_tabular_change_log_is_a_json_frame_inside_json(
    api: SpecCheckedClient, graph: SegmentationGraph
) -> None:
    root = graph.heavily_edited_root()
    answer = get_with_body(api, f"{TABLE}/tabular_change_log_many", {"root_ids": [root]}).json()
    frame = json.loads(answer[str(root)])
    assert list(frame)[:6] == [
        "operation_id",
        "timestamp",
        "user_id",
        "before_root_ids",
        "after_root_ids",
        "is_merge",
    ]
    assert {"user_name", "user_affiliation"} <= set(frame)
    assert "in_neuron" not in frame
    first = next(iter(frame["operation_id"]))
    operation = graph.operation(frame["operation_id"][first])
    assert operation is not None
    assert frame["timestamp"][first] == int(operation.timestamp.timestamp() * 1000 + 0.5)
    unfiltered = json.loads(
        get_with_body(
            api, f"{TABLE}/tabular_change_log_many", {"root_ids": [root]}, filtered="false"
        ).json()[str(root)]
    )
    assert len(unfiltered["operation_id"]) >= len(frame["operation_id"])
    assert "is_relevant" in unfiltered


def test_operation_details_carry_the_log_records(
    api: SpecCheckedClient, graph: SegmentationGraph
) -> None:
    kinds = {op.kind: op.id for op in graph.operations()}
    wanted = [kinds["merge"], kinds["split"], kinds["undo"], 999_999]
    details = api.get(f"{TABLE}/operation_details", params={"operation_ids": json.dumps(wanted)}).json()
    assert set(details) == {str(op) for op in wanted[:3]}
    merge, split, undo = (details[str(op)] for op in wanted[:3])
    assert {"added_edges", "source_coords", "sink_coords", "roots", "user", "timestamp"} <= set(merge)
    assert {"removed_edges", "source_ids", "sink_ids", "bb_offset"} <= set(split)
    assert "undo_operation_id" in undo
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00", merge["timestamp"])


def test_delta_roots_and_the_oldest_timestamp(api: SpecCheckedClient, graph: SegmentationGraph) -> None:
    operation = graph.operations()[5]
    exact = epoch(operation.timestamp)
    delta = api.get(
        f"{TABLE}/delta_roots", params={"timestamp_past": exact, "timestamp_future": exact}
    ).json()
    assert delta["new_roots"] == list(operation.new_root_ids)
    # Every new root lists its former roots: a split names its old root once per new root.
    assert delta["old_roots"] == [old for _ in operation.new_root_ids for old in operation.old_root_ids]
    assert_error(
        api.get(f"{TABLE}/delta_roots"),
        400,
        "[400]: Timestamp parameter timestamp_past is mandatory",
        traceback=False,
    )
    oldest = api.get(f"{TABLE}/oldest_timestamp", params={"delimiter": "T"}).json()["iso"]
    first = graph.operations()[0].timestamp - timedelta(milliseconds=500)
    assert oldest == first.isoformat("T")


def test_user_operations_need_admin_view(cave: LocalCAVE, graph: SegmentationGraph) -> None:
    auditor = cave.add_user(
        LocalUser("auditor", permissions={"minnie65_phase3": ("view", "admin_view")})
    )
    user = graph.operations()[0].user_id
    with spec_checked(cave, auditor) as api:
        response = api.get(
            f"{TABLE}/user_operations", params={"user_id": user, "end_time": epoch(datetime.now(UTC))}
        )
        assert response.headers["content-type"] == HTML
        frame = response.json()
        mine = [op for op in graph.operations() if op.user_id == user]
        # The server reads the user's own log entries only, so only their own undos count.
        undone = {op.target_operation_id for op in mine if op.kind == "undo"}
        expected = [op.id for op in mine if op.kind in ("merge", "split")]
        assert list(frame["operation_id"].values()) == [op for op in expected if op not in undone]
        assert_error(
            api.get(f"{TABLE}/user_operations", params={"user_id": user}),
            400,
            "end_time is not a valid unix timestamp",
            traceback=False,
        )
    with spec_checked(cave, cave.token_for("viewer")) as viewer:
        assert viewer.get(f"{TABLE}/user_operations", params={"end_time": 1}).status_code == 403


# -- edits ------------------------------------------------------------------------------------


def test_merge_split_preview_and_undo_change_the_graph_now() -> None:
    cave = LocalCAVE(seed=9)
    graph = cave.deployment.component(SegmentationGraph)
    somas = graph.soma_supervoxels()
    roots = graph.roots_at(somas, datetime.now(UTC))
    # Two neurons that are separate segments now (neighbouring somas may share a false merge).
    index = next(i for i in range(1, len(somas) - 1) if roots[i] != roots[i + 1])
    first, second = int(somas[index]), int(somas[index + 1])
    before = datetime.now(UTC)
    with spec_checked(cave, cave.token) as api:
        points = [[first, *point_in(graph, first)], [second, *point_in(graph, second)]]
        far = api.post(f"{TABLE}/merge", json=points, params={"chebyshev_distance": 0})
        if far.status_code == 400:
            assert "Chebyshev distance" in far.json()["message"]
        merged = api.post(f"{TABLE}/merge", json=points, params={"priority": "false"}).json()
        (new_root,) = merged["new_root_ids"]
        assert uint64s(
            api.post(f"{TABLE}/roots_binary", content=np.array([first, second], "<u8").tobytes())
        ) == [new_root, new_root]
        again = api.post(f"{TABLE}/merge", json=points)
        assert_error(again, 400, "Supervoxels must belong to different objects.", traceback=False)
        split_body = {"sources": [points[0]], "sinks": [points[1]]}
        preview = api.post(f"{TABLE}/graph/split_preview", json=split_body).json()
        assert preview["illegal_split"] is False
        assert first in preview["supervoxel_connected_components"][0]
        assert second in preview["supervoxel_connected_components"][1]
        split = api.post(f"{TABLE}/split", json=split_body).json()
        assert len(split["new_root_ids"]) >= 2
        assert split["operation_id"] == merged["operation_id"] + 1
        undone = api.post(f"{TABLE}/undo", json={"operation_id": split["operation_id"]}).json()
        assert len(undone["new_root_ids"]) == 1
        lineage = api.post(f"{TABLE}/lineage_graph_multiple", json={"root_ids": [new_root]}).json()
        merged_from = {int(roots[index]), int(roots[index + 1])}
        assert {node["id"] for node in lineage["nodes"]} >= merged_from | {
            new_root,
            *undone["new_root_ids"],
        }
        details = api.get(
            f"{TABLE}/operation_details", params={"operation_ids": json.dumps([merged["operation_id"]])}
        ).json()[str(merged["operation_id"])]
        assert details["user"] == "1"
        assert datetime.fromisoformat(details["timestamp"]) >= before.replace(microsecond=0)
        past = uint64s(
            api.post(
                f"{TABLE}/roots_binary",
                content=np.array([first], "<u8").tobytes(),
                params={"timestamp": epoch(before) - 1},
            )
        )
        assert past != [new_root]


def test_remeshing_is_accepted() -> None:
    cave = LocalCAVE(seed=9)
    with spec_checked(cave, cave.token) as api:
        plain = api.post("/meshing/api/v1/table/minnie3_v1/remeshing", json={"new_lvl2_ids": [1, 2]})
        assert plain.status_code == 202
        assert plain.content == b""
    # specs/ documents the 202 only as text; with use_redis the server labels it application/json.
    with unchecked(cave, cave.token) as raw:
        queued = raw.post(
            "/meshing/api/v1/table/minnie3_v1/remeshing",
            json={"new_lvl2_ids": [1]},
            params={"use_redis": "true"},
        )
        assert queued.status_code == 202
        assert queued.json()["status"] == "success"
        assert re.fullmatch(r"[0-9a-f-]{36}", queued.json()["data"]["task_id"])
