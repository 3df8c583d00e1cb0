"""Materialize, annotation, chunkedgraph (with meshing), L2 cache and skeletons: every exchange our
client makes with LocalCAVE answers as specs/ documents, and every operation of those five specs is
answered successfully at least once (by our client, else driven directly with httpx)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import pytest

from caveclient_gen import CAVEclient
from caveclient_gen.errors import CAVEError, CAVEServerWarning
from caveclient_gen.testing import LocalCAVE
from caveclient_gen.testing.chunkedgraph.queries import contact_sites
from caveclient_gen.testing.chunkedgraph.segmentation.graph import SegmentationGraph
from caveclient_gen.testing.skeleton.store import SkeletonStore

from .spec_validator import RecordingTransport, SpecValidator

DATA_SPECS = ("materialize", "annotation", "chunkedgraph", "l2cache", "skeleton")
SYNAPSES = "synapses_pni_2"
NUCLEI = "nucleus_detection_v0"
REFERENCE = "allen_soma_coarse_cell_class_model_v2"
VIEW = "single_neurons"
PCG_TABLE = "minnie3_v1"
V2_QUERY_QUIRK = (
    "MaterializationEngine 5.26.4's v2 query routes run the query, then fail with HTTP 500 "
    "\"'ipc_compress'\": their argument parser lacks an argument the shared response builder "
    "reads (LocalCAVE keeps the quirk; see caveclient_gen/testing/materialize/routes.py)."
)

NEVER_ANSWERED_SUCCESSFULLY: dict[tuple[str, str], str] = {
    ("materialize", "query_table_v2"): V2_QUERY_QUIRK,
    ("materialize", "join_query_v2"): V2_QUERY_QUIRK,
}
"""(spec, operationId) that no request can get a 2xx from, and why. Each is asserted to fail as
explained (test_the_exempt_operations_fail_as_explained), so none is skipped silently."""


@dataclass
class Run:
    """What one part of the test did: its exchanges, and calls that raised (by name)."""

    exchanges: list[tuple[httpx.Request, httpx.Response]] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)


class Calls:
    """Runs named calls of our client; a call that raises is kept, not hidden."""

    def __init__(self) -> None:
        self.failures: dict[str, str] = {}
        self.results: dict[str, Any] = {}

    def __call__(self, name: str, call: Callable[[], Any]) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CAVEServerWarning)  # owner notices, row limits
                value = call()
        except CAVEError as error:
            self.failures[name] = f"{type(error).__name__}: {error}"
            return None
        self.results[name] = value
        return value


# -- the world -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Picks:
    supervoxels: np.ndarray
    roots: list[int]
    heavy: int
    old_root: int
    past: datetime
    soma_pair: tuple[int, int]
    soma_points: tuple[list[float], list[float]]
    path_points: tuple[list[float], list[float]]
    contact: tuple[int, np.ndarray]
    l2_ids: list[int]
    skeleton_root: int
    uncached_root: int
    refused_root: int


def point_in(graph: SegmentationGraph, supervoxel: int) -> list[float]:
    """A point (nm) in the middle of a supervoxel's cell."""
    index = graph.supervoxel_index(np.array([supervoxel], np.uint64))
    corner = graph.geometry.cell_corner_voxels(graph.sv_cells[index])[0]
    return [float(v) for v in (corner + graph.geometry.cell_size // 2) * np.array(graph.base_resolution)]


def two_contact_box(graph: SegmentationGraph, roots: list[int]) -> tuple[int, np.ndarray]:
    """A root and bounds (3x2, voxels) in which it touches exactly two other pieces: the only case
    PyChunkedGraph 2.21.1's contact_sites route answers without failing."""
    rng = np.random.default_rng(5)
    now = datetime.now(UTC)
    for root in roots:
        points, _ = graph.sample_points(rng, 10, roots=[root])
        for point in points:
            centre = (point / np.array(graph.base_resolution)).astype(np.int64)
            for size in (4, 8, 16, 32):
                half = np.array([size, size, max(1, size // 8)])
                box = np.array([centre - half, centre + half])
                if len(contact_sites(graph, root, now, box, partners=False)) == 2:
                    return root, box.T
    raise AssertionError("no root touches exactly two pieces in any box tried")


def pick(cave: LocalCAVE) -> Picks:
    graph = cave.deployment.component(SegmentationGraph)
    store = cave.deployment.component(SkeletonStore)
    now = datetime.now(UTC)
    seeded = graph.edit_times()[: graph.seeded_epoch]
    _, supervoxels = graph.sample_points(np.random.default_rng(11), 200)
    somas = graph.soma_supervoxels()
    roots = graph.roots_at(somas, now)
    heavy = graph.heavily_edited_root()
    heavy_soma = somas[roots == heavy][:1]
    # Two neighbouring neurons that are separate segments, for a merge, a split and undos.
    index = next(
        i
        for i in range(len(somas) - 1, 1, -1)
        if roots[i] != roots[i - 1] and heavy not in (roots[i], roots[i - 1])
    )
    pair = (int(somas[index - 1]), int(somas[index]))
    latest = graph.latest_roots().tolist()
    path, _ = graph.sample_points(np.random.default_rng(12), 2, roots=roots[1:2])
    return Picks(
        supervoxels=supervoxels,
        roots=[int(r) for r in roots[:4]],
        heavy=heavy,
        old_root=int(graph.roots_at(heavy_soma, seeded[len(seeded) // 4])[0]),
        past=seeded[-5] + (seeded[-4] - seeded[-5]) / 2,
        soma_pair=pair,
        soma_points=(point_in(graph, pair[0]), point_in(graph, pair[1])),
        path_points=(path[0].tolist(), path[1].tolist()),
        contact=two_contact_box(graph, [int(r) for r in roots[:10]]),
        l2_ids=sorted({int(i) for i in graph.level2_ids_at(supervoxels[:20], graph.seeded_epoch)}),
        skeleton_root=next(r for r in latest if store.is_cached(r)),
        uncached_root=next(r for r in latest if not store.is_cached(r)),
        refused_root=int(store.refusal_list()[0][1]),
    )


# -- our client ----------------------------------------------------------------------------------


def drive_materialize(client: CAVEclient, picks: Picks, call: Calls) -> None:
    mat = client.materialize
    call("most_recent_version", mat.most_recent_version)
    call("get_versions", lambda: mat.get_versions(expired=True))
    call("get_tables", mat.get_tables)
    call("get_annotation_count", lambda: mat.get_annotation_count(SYNAPSES))
    call("get_version_metadata", mat.get_version_metadata)
    call("get_timestamp", mat.get_timestamp)
    call("get_versions_metadata", lambda: mat.get_versions_metadata(expired=True))
    call("get_table_metadata", lambda: mat.get_table_metadata(NUCLEI))
    call("get_tables_metadata", mat.get_tables_metadata)
    call("query_table", lambda: mat.query_table(NUCLEI))
    call(
        "query_table:filters",
        lambda: mat.query_table(
            SYNAPSES,
            filter_in_dict={"pre_pt_root_id": picks.roots},
            filter_greater_dict={"size": 10},
            select_columns=["id", "pre_pt_root_id", "post_pt_root_id", "size"],
            limit=50,
        ),
    )
    call("query_table:reference", lambda: mat.query_table(REFERENCE))
    call("query_table:count", lambda: mat.query_table(NUCLEI, get_counts=True))
    call(
        "query_table:json",
        lambda: mat.query_table(NUCLEI, return_df=False, limit=5),
    )
    call(
        "join_query",
        lambda: mat.join_query(
            [[REFERENCE, "target_id"], [NUCLEI, "id"]],
            filter_equal_dict={REFERENCE: {"classification_system": "aibs_coarse_excitatory"}},
        ),
    )
    call("live_query", lambda: mat.live_query(NUCLEI, picks.past))
    call(
        "live_live_query",
        lambda: mat.live_live_query(NUCLEI, datetime.now(UTC)),
    )
    call("synapse_query", lambda: mat.synapse_query(pre_ids=picks.roots[0]))
    call("get_views", mat.get_views)
    call("get_view_metadata", lambda: mat.get_view_metadata(VIEW))
    call("get_view_schema", lambda: mat.get_view_schema(VIEW))
    call("get_view_schemas", mat.get_view_schemas)
    call("query_view", lambda: mat.query_view(VIEW))
    call("get_unique_string_values", lambda: mat.get_unique_string_values(REFERENCE))
    call("neuroglancer_annotation_info", lambda: mat.neuroglancer_annotation_info(NUCLEI))
    call("neuroglancer_segprop_info", lambda: mat.neuroglancer_segprop_info(REFERENCE))
    call("ingest_annotation_table", lambda: mat.ingest_annotation_table(NUCLEI))
    call("lookup_supervoxel_ids", lambda: mat.lookup_supervoxel_ids(NUCLEI, [1]))
    call("tables", lambda: mat.tables)
    call("views", lambda: mat.views)


def drive_annotation(client: CAVEclient, picks: Picks, call: Calls) -> None:
    annotation = client.annotation
    table = "conformance_tags"
    call("get_tables", annotation.get_tables)
    call("get_table_metadata", lambda: annotation.get_table_metadata(SYNAPSES))
    call("get_annotation_count", lambda: annotation.get_annotation_count(SYNAPSES))
    call(
        "create_table",
        lambda: annotation.create_table(table, "bound_tag", "conformance", [4, 4, 40]),
    )
    call("update_metadata", lambda: annotation.update_metadata(table, description="changed"))
    ids = call(
        "post_annotation",
        lambda: annotation.post_annotation(
            table,
            [
                {"pt": {"position": [10, 20, 30]}, "tag": "a"},
                {"pt": {"position": [1, 2, 3]}, "tag": "b"},
            ],
        ),
    )
    ids = ids or [1, 2]
    call("get_annotation", lambda: annotation.get_annotation(table, ids))
    call(
        "update_annotation",
        lambda: annotation.update_annotation(
            table, [{"id": ids[0], "pt": {"position": [11, 21, 31]}, "tag": "c"}]
        ),
    )
    call("delete_annotation", lambda: annotation.delete_annotation(table, [ids[1]]))
    call("delete_table", lambda: annotation.delete_table(table))


def drive_chunkedgraph(client: CAVEclient, picks: Picks, call: Calls) -> None:
    cg = client.chunkedgraph
    heavy, root, sv = picks.heavy, picks.roots[1], int(picks.supervoxels[0])
    call("segmentation_info", lambda: cg.segmentation_info)
    call("get_roots", lambda: cg.get_roots(picks.supervoxels))
    call("get_root_id", lambda: cg.get_root_id(sv))
    call("is_latest_roots", lambda: cg.is_latest_roots([heavy, picks.old_root]))
    call("get_root_timestamps", lambda: cg.get_root_timestamps([heavy, picks.old_root]))
    call("get_root_timestamps:latest", lambda: cg.get_root_timestamps([picks.old_root], latest=True))
    call("is_valid_nodes", lambda: cg.is_valid_nodes([heavy, picks.old_root, 5]))
    leaves = call("get_leaves", lambda: cg.get_leaves(root))
    call("get_leaves_many", lambda: cg.get_leaves_many([root, heavy], stop_layer=2))
    call("get_children", lambda: cg.get_children(root))
    call("get_minimal_covering_nodes", lambda: cg.get_minimal_covering_nodes(leaves[:20]))
    call("get_merge_log", lambda: cg.get_merge_log(picks.roots[2]))
    call("get_change_log", lambda: cg.get_change_log(heavy))
    call("get_tabular_change_log", lambda: cg.get_tabular_change_log([heavy]))
    call(
        "get_user_operations",
        lambda: cg.get_user_operations(1, datetime(2020, 1, 1, tzinfo=UTC)),
    )
    call("get_operation_details", lambda: cg.get_operation_details([1, 2]))
    call("get_lineage_graph", lambda: cg.get_lineage_graph(heavy))
    call("get_latest_roots", lambda: cg.get_latest_roots(picks.old_root))
    call("get_original_roots", lambda: cg.get_original_roots(heavy))
    call("suggest_latest_roots", lambda: cg.suggest_latest_roots(picks.old_root))
    call("get_past_ids", lambda: cg.get_past_ids([heavy], timestamp_past=picks.past))
    call("get_delta_roots", lambda: cg.get_delta_roots(picks.past))
    call("get_oldest_timestamp", cg.get_oldest_timestamp)
    call("level2_chunk_graph", lambda: cg.level2_chunk_graph(root))
    bounds = np.array([[0, 10**6], [0, 10**6], [0, 10**5]])
    call("get_subgraph", lambda: cg.get_subgraph(root, bounds))
    contact_root, contact_box = picks.contact
    call("get_contact_sites", lambda: cg.get_contact_sites(contact_root, contact_box))
    call("find_path", lambda: cg.find_path(root, *picks.path_points))
    first, second = picks.soma_pair
    points = picks.soma_points
    call("remesh_level2_chunks", lambda: cg.remesh_level2_chunks(picks.l2_ids[:2]))
    # Edits, in wall-clock time: merge two neurons, preview and execute a split, undo both.
    merged = call("do_merge", lambda: cg.do_merge([first, second], list(points), resolution=(1, 1, 1)))
    if merged is not None:
        new_root = int(cg.get_root_id(first))
        call(
            "preview_split",
            lambda: cg.preview_split([points[0]], [points[1]], new_root, [first], [second]),
        )
        split = call(
            "execute_split",
            lambda: cg.execute_split([points[0]], [points[1]], new_root, [first], [second]),
        )
        if split is not None:
            call("undo_operation", lambda: cg.undo_operation(split[0]))


def drive_l2cache(client: CAVEclient, picks: Picks, call: Calls) -> None:
    l2 = client.l2cache
    call("get_l2data", lambda: l2.get_l2data(picks.l2_ids))
    call("get_l2data_table", lambda: l2.get_l2data_table(picks.l2_ids, attributes=["size_nm3"]))
    call("cache_metadata", l2.cache_metadata)
    call("table_mapping", l2.table_mapping)
    call("has_cache", l2.has_cache)
    call("attributes", lambda: l2.attributes)


def drive_skeleton(client: CAVEclient, picks: Picks, call: Calls) -> None:
    skeleton = client.skeleton
    root = picks.skeleton_root
    call("get_version", skeleton.get_version)
    call("get_versions", skeleton.get_versions)
    call("get_refusal_list", skeleton.get_refusal_list)
    call("get_cache_contents", lambda: skeleton.get_cache_contents(root_id_prefixes=[str(root)[:4]]))
    call("skeletons_exist", lambda: skeleton.skeletons_exist(root_ids=[root, picks.uncached_root]))
    call("get_precomputed_skeleton_info", lambda: skeleton.get_precomputed_skeleton_info(4))
    call("get_skeleton", lambda: skeleton.get_skeleton(root))
    call("get_skeleton:swc", lambda: skeleton.get_skeleton(root, output_format="swc"))
    call("get_bulk_skeletons", lambda: skeleton.get_bulk_skeletons([root]))
    call(
        "generate_bulk_skeletons_async",
        lambda: skeleton.generate_bulk_skeletons_async([picks.uncached_root]),
    )
    call("fetch_skeletons", lambda: skeleton.fetch_skeletons([root]))


DRIVERS = {
    "materialize": drive_materialize,
    "annotation": drive_annotation,
    "chunkedgraph": drive_chunkedgraph,
    "l2cache": drive_l2cache,
    "skeleton": drive_skeleton,
}


@pytest.fixture(scope="module")
def picks(cave: LocalCAVE) -> Picks:
    return pick(cave)


@pytest.fixture(scope="module")
def ours(cave: LocalCAVE, recorder: RecordingTransport, picks: Picks) -> dict[str, Run]:
    """Every data sub-client of ours driven through the recorder, one Run per service."""
    runs = {}
    with CAVEclient(
        cave.datastack, server_address=cave.url, auth_token=cave.token, transport=recorder
    ) as client:
        for service, drive in DRIVERS.items():
            start = len(recorder.exchanges)
            call = Calls()
            drive(client, picks, call)
            runs[service] = Run(recorder.exchanges[start:], call.failures)
    return runs


@pytest.mark.parametrize("service", list(DRIVERS))
def test_every_exchange_of_our_client_conforms(
    service: str, ours: dict[str, Run], validator: SpecValidator
) -> None:
    run = ours[service]
    assert run.failures == {}, "calls of our client that failed"
    assert len(run.exchanges) >= 5
    problems = [p for request, response in run.exchanges for p in validator.problems(request, response)]
    assert problems == []


# -- the operations our client does not use, and typical errors ------------------------------------


def exercise(cave: LocalCAVE, recorder: RecordingTransport, picks: Picks) -> None:
    """Drive directly what our client never asks, successfully and with typical errors."""
    admin = {"Authorization": f"Bearer {cave.token}"}
    viewer = {"Authorization": f"Bearer {cave.token_for('viewer')}"}
    ds, volume, root = cave.datastack, cave.aligned_volume, picks.skeleton_root
    with httpx.Client(base_url=cave.url, transport=recorder, headers=admin, timeout=30) as http:
        # Versions of each service.
        for path in (
            "/materialize/version",
            "/materialize/api/versions",
            "/annotation/api/versions",
            "/segmentation/api/version",
            "/segmentation/api/versions",
            "/l2cache/",
            "/skeletoncache/api/version",
            "/skeletoncache/api/versions",
        ):
            http.get(path)

        # Materialize: the v2 API, live segment properties, and errors.
        v2, v3 = f"/materialize/api/v2/datastack/{ds}", f"/materialize/api/v3/datastack/{ds}"
        http.get(f"{v2}/versions", params={"expired": True})
        http.get(f"{v2}/version/3")
        http.get(f"{v2}/metadata")
        http.get(f"{v2}/version/3/tables")
        http.get(f"{v2}/version/3/table/{NUCLEI}/metadata")
        http.get(f"{v2}/version/3/table/{NUCLEI}/count")
        query = {"return_pyarrow": True, "arrow_format": True, "split_positions": True}
        http.post(
            f"{v2}/version/3/table/{NUCLEI}/query",
            params=query,
            json={"limit": 5},
            headers={"Accept-Encoding": "zstd"},
        )
        http.post(
            f"{v2}/version/3/table/{NUCLEI}/query",
            params={**query, "return_pyarrow": False},
            json={"filter_in_dict": {NUCLEI: {"id": [1, 2]}}},
        )
        http.post(
            f"{v2}/version/3/query",
            params=query,
            json={"tables": [[REFERENCE, "target_id"], [NUCLEI, "id"]], "limit": 5},
            headers={"Accept-Encoding": "lz4"},
        )
        http.get(f"{v3}/table/{REFERENCE}/info")
        http.get(f"{v3}/table/{REFERENCE}/info", params={"label_format": "{cell_type}"})
        http.get(f"{v3}/version/999")  # unknown version: 404
        http.get(f"{v2}/version/999")
        http.get(f"{v3}/version/3/table/no_such_table/metadata")  # abort(404) as 500
        http.get(f"{v3}/versions", headers={"Authorization": "Bearer not-a-token"})  # 401
        http.get(f"/materialize/api/v3/datastack/{cave.restricted_datastack}/versions", headers=viewer)

        # Annotation: errors.
        annotation = f"/annotation/api/v2/aligned_volume/{volume}"
        http.get(f"{annotation}/table/no_such_table")
        http.get(f"{annotation}/table/{SYNAPSES}/annotations", params={"annotation_ids": "999999999"})
        http.post(f"{annotation}/table/{SYNAPSES}/annotations", json={"annotations": []}, headers=viewer)
        http.get(f"{annotation}/table", headers={"Authorization": "Token abc"})  # 400

        # Chunkedgraph and meshing: errors.
        table = f"/segmentation/api/v1/table/{PCG_TABLE}"
        http.get(f"{table}/node/12/root")  # not a supervoxel
        http.get(f"/segmentation/api/v1/table/no_such_table/node/{root}/leaves")
        http.post(f"{table}/merge", json=[], headers=viewer)  # viewers may not edit
        http.post(f"{table}/undo", json={"operation_id": 10**9})
        http.post("/meshing/api/v1/table/minnie3_v1/remeshing", json={"new_lvl2_ids": picks.l2_ids[:1]})

        # L2 cache: an unknown attribute.
        http.post(
            f"/l2cache/api/v1/table/{PCG_TABLE}/attributes",
            params={"attribute_names": "no_such_attribute"},
            json={"l2_ids": picks.l2_ids[:2]},
        )

        # Skeletons: the routes of older servers and the storage grant.
        skeletons = f"/skeletoncache/api/v1/{ds}"
        http.get(f"{skeletons}/precomputed/skeleton/info")
        http.get(f"{skeletons}/bulk/skeleton/info")
        http.get(f"{skeletons}/precomputed/skeleton/4/{root}/flatdict")
        http.get(f"{skeletons}/precomputed/skeleton/4/{root}/swccompressed")
        # 0.23.11's GET forms read the id list as text and only work for one one-digit "id".
        http.get(f"{skeletons}/precomputed/skeleton/exists/4/{root},{picks.uncached_root}")
        http.get(f"{skeletons}/precomputed/skeleton/exists/4/5")
        http.get(f"{skeletons}/bulk/gen_skeletons/4/{picks.uncached_root}")
        http.get(f"{skeletons}/bulk/gen_skeletons/4/5")
        http.post(f"{skeletons}/bulk/get_skeleton_token/4", json={})
        http.get(f"{skeletons}/async/get_skeleton/4/{picks.refused_root}/flatdict")  # refused: 400
        http.get(f"{skeletons}/async/get_skeleton/99/{root}/flatdict")  # unknown skeleton version
        http.post(f"{skeletons}/precomputed/skeleton/exists", content=b"root_ids=1")  # not JSON


@pytest.fixture(scope="module")
def direct(cave: LocalCAVE, recorder: RecordingTransport, picks: Picks, ours: dict[str, Run]) -> Run:
    """The exchanges of exercise() (after our client's, whose edits it does not disturb)."""
    start = len(recorder.exchanges)
    exercise(cave, recorder, picks)
    return Run(recorder.exchanges[start:])


def test_every_direct_exchange_conforms(direct: Run, validator: SpecValidator) -> None:
    assert len(direct.exchanges) >= 40
    problems = [
        p for request, response in direct.exchanges for p in validator.problems(request, response)
    ]
    assert problems == []
    # The error cases were errors: a request meant to fail that succeeded would prove nothing.
    statuses = [response.status_code for _, response in direct.exchanges]
    assert {400, 401, 403, 404, 500} <= set(statuses)


def test_every_data_operation_is_answered_successfully(
    ours: dict[str, Run], direct: Run, validator: SpecValidator
) -> None:
    answered = set()
    exchanges = [exchange for run in (*ours.values(), direct) for exchange in run.exchanges]
    for request, response in exchanges:
        route = validator.route_of(request.method, request.url.path)
        if route is not None and response.is_success:
            answered.add((route.service, route.operation["operationId"]))
    expected = {
        (route.service, route.operation["operationId"])
        for route in validator.routes
        if route.service in DATA_SPECS
    }
    assert len(expected) > 80
    missing = expected - answered - set(NEVER_ANSWERED_SUCCESSFULLY)
    assert missing == set(), "operations never answered successfully"
    assert set(NEVER_ANSWERED_SUCCESSFULLY) <= expected, "stale entries"


def test_the_exempt_operations_fail_as_explained(direct: Run, validator: SpecValidator) -> None:
    tried: dict[tuple[str, str], list[httpx.Response]] = {key: [] for key in NEVER_ANSWERED_SUCCESSFULLY}
    for request, response in direct.exchanges:
        route = validator.route_of(request.method, request.url.path)
        if route is not None and (route.service, route.operation["operationId"]) in tried:
            tried[(route.service, route.operation["operationId"])].append(response)
    for key, responses in tried.items():
        assert responses, f"{key} was never tried"
        for response in responses:
            assert response.status_code == 500, key
            assert response.json()["message"] == "'ipc_compress'", key
