"""client.skeleton: exact requests, decoded payloads, chunked bulk calls, reported gaps, bad input."""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
import types
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock
from urllib.parse import quote

import httpx
import numpy as np
import pandas as pd
import pytest

from caveclient_gen import (
    AsyncCAVEclient,
    BadRequestError,
    CAVEclient,
    InvalidInputError,
    PermissionDeniedError,
    ServerError,
    UnexpectedResponseError,
)
from caveclient_gen._convert.versions import ServerVersion, parse_version
from caveclient_gen._http.plan import Async
from caveclient_gen.errors import MissingSkeletonsWarning
from caveclient_gen.services._skeleton_formats import HDF5_MAGIC, id_array
from caveclient_gen.services.skeleton import SkeletonClient

GLOBAL = "https://global.cave.test"
LOCAL = "https://local.cave.test"
DATASTACK = "ds"
CAVE_TOKEN = "cave-token-0123456789"
GCS_TOKEN = "gcs-token-abcdef"
BASE = "/skeletoncache/api/v1/ds"
RECORD: dict[str, Any] = {
    "local_server": LOCAL,
    "aligned_volume": {"id": 1, "name": "volume", "image_source": "precomputed://gs://img"},
    "segmentation_source": "graphene://https://local.cave.test/segmentation/table/pcg",
    **dict.fromkeys(
        [
            "skeleton_source",
            "analysis_database",
            "viewer_site",
            "synapse_table",
            "soma_table",
            "description",
            "viewer_resolution_x",
            "viewer_resolution_y",
            "viewer_resolution_z",
            "proofreading_status_table",
            "cell_identification_table",
            "proofreading_review_table",
        ]
    ),
}

Handler = Callable[[httpx.Request], httpx.Response]


class FakeCAVE:
    """A mock transport handler: records every request and answers by method and path."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.routes: list[tuple[str, str, Handler]] = []

    def on(self, method: str, url: str, answer: Handler | httpx.Response) -> None:
        """Answer requests whose scheme://host/path starts with `url`."""
        handler = answer if callable(answer) else (lambda _request: answer)
        self.routes.append((method, url, handler))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        where = f"{request.url.scheme}://{request.url.host}{request.url.path}"
        for method, url, handler in self.routes:
            if request.method == method and where.startswith(url):
                return handler(request)
        return httpx.Response(404, json={"message": f"no route for {request.method} {where}"})

    def to(self, path: str) -> list[httpx.Request]:
        """The requests whose path starts with `path`."""
        return [request for request in self.requests if request.url.path.startswith(path)]


@pytest.fixture
def cave() -> FakeCAVE:
    return FakeCAVE()


def make_client(cave: FakeCAVE, **options: Any) -> SkeletonClient[Any]:
    options.setdefault("info_cache", {DATASTACK: dict(RECORD)})
    options.setdefault("max_retries", 0)
    client = CAVEclient(
        DATASTACK,
        server_address=GLOBAL,
        auth_token=CAVE_TOKEN,
        write_server_cache=False,
        transport=httpx.MockTransport(cave),
        **options,
    )
    return SkeletonClient(client._core)


@pytest.fixture
def skeleton(cave: FakeCAVE) -> SkeletonClient[Any]:
    return make_client(cave)


@pytest.fixture
def client_skeleton(cave: FakeCAVE) -> SkeletonClient[Any]:
    """The skeleton sub-client of a CAVEclient (its siblings reachable through `fc`)."""
    client = CAVEclient(
        DATASTACK,
        server_address=GLOBAL,
        auth_token=CAVE_TOKEN,
        write_server_cache=False,
        transport=httpx.MockTransport(cave),
        info_cache={DATASTACK: dict(RECORD)},
        max_retries=0,
    )
    return client.skeleton


N_LAYERS = 7
TABLE_INFO: dict[str, Any] = {
    "type": "segmentation",
    "data_type": "uint64",
    "num_channels": 1,
    "scales": [{"key": "8_8_40", "resolution": [8, 8, 40], "size": [10, 10, 10]}],
    "chunks_start_at_voxel_offset": True,
    "data_dir": "gs://bucket/ws",
    "graph": {
        "chunk_size": [256, 256, 512],
        "bounding_box": [2048, 2048, 512],
        "n_bits_for_layer_id": 8,
        "cv_mip": 0,
        "n_layers": N_LAYERS,
        "spatial_bit_masks": {"1": 10},
    },
    "app": {"supported_api_versions": [0, 1]},
    "sharded_mesh": True,
    "verify_mesh": False,
}


def root(number: int, layer: int = N_LAYERS) -> int:
    """An id of the given chunkedgraph layer (the root layer by default)."""
    return (layer << 56) | number


def serve_graph(cave: FakeCAVE, valid: Callable[[int], bool] = lambda _id: True) -> None:
    """The chunkedgraph routes get_skeleton checks a root id with: the table info and valid_nodes."""
    cave.on("GET", f"{LOCAL}/segmentation/table/pcg/info", httpx.Response(200, json=TABLE_INFO))

    def valid_nodes(request: httpx.Request) -> httpx.Response:
        ids = json.loads(request.content)["node_ids"]
        return httpx.Response(200, json={"valid_roots": [i for i in ids if valid(i)]})

    cave.on("GET", f"{LOCAL}/segmentation/api/v1/table/pcg/valid_nodes", valid_nodes)


def skeleton_requests(cave: FakeCAVE) -> list[httpx.Request]:
    return [r for r in cave.requests if r.url.path.startswith("/skeletoncache")]


# ---------------------------------------------------------------- payloads as the service builds them

LVL2 = [160032475051983415, 160032475051983416, 160032475051983417]
FLATDICT: dict[str, Any] = {
    "meta": {"skeleton_version": 4, "root_id": 864691135, "soma_pt_x": 1.0},
    "edges": [[1, 0], [2, 1]],
    "mesh_to_skel_map": [0, 1, 2],
    "root": 0,
    "vertices": [[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [10.0, 10.0, 0.0]],
    "radius": [1.5, 1.0, 0.5],
    "compartment": [1, 3, 3],
    "lvl2_ids": LVL2,
}
SWC = "1 1 0.0 0.0 0.0 1.5 -1\n2 3 10.0 0.0 0.0 1.0 1\n3 3 10.0 10.0 0.0 0.5 2\n"


def flatdict_bytes(document: dict[str, Any] = FLATDICT) -> bytes:
    return gzip.compress(json.dumps(document).encode())


def skeleton_for(root: int) -> dict[str, Any]:
    return {**FLATDICT, "meta": {"skeleton_version": 4, "root_id": root}}


def json_body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def query(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


def assert_skeleton(result: Any, root: int | None = None) -> None:
    assert set(result) == set(FLATDICT)
    assert result["vertices"].dtype == np.float64
    assert result["vertices"].shape == (3, 3)
    assert result["edges"].dtype == np.int64
    assert result["edges"].shape == (2, 2)
    np.testing.assert_array_equal(result["edges"], [[1, 0], [2, 1]])
    assert result["radius"].dtype == np.float64
    np.testing.assert_array_equal(result["radius"], [1.5, 1.0, 0.5])
    np.testing.assert_array_equal(result["compartment"], [1, 3, 3])
    assert result["lvl2_ids"].dtype == np.int64
    assert result["lvl2_ids"].tolist() == LVL2
    assert result["mesh_to_skel_map"].dtype == np.int64
    assert result["root"] == 0
    assert isinstance(result["meta"], dict)
    if root is not None:
        assert result["meta"]["root_id"] == root


def assert_swc(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == ["id", "type", "x", "y", "z", "radius", "parent"]
    assert frame["id"].dtype == np.int64
    assert frame["parent"].dtype == np.int64
    assert frame["x"].dtype == np.float64
    assert frame["parent"].tolist() == [-1, 1, 2]
    assert frame["radius"].tolist() == [1.5, 1.0, 0.5]


# ---------------------------------------------------------------- versions


def test_get_version_parses_the_server_version(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    cave.on("GET", f"{LOCAL}/skeletoncache/api/version", httpx.Response(200, json="0.23.11"))
    version = skeleton.get_version()
    assert isinstance(version, ServerVersion)
    assert str(version) == "0.23.11"
    assert version == (0, 23, 11)
    assert version >= "0.13.7"
    assert version < "0.100"
    assert (version.major, version.minor, version.micro) == (0, 23, 11)
    [request] = cave.requests
    assert request.url.host == "local.cave.test"
    assert request.headers["Authorization"] == f"Bearer {CAVE_TOKEN}"


def test_server_version_compares_with_packaging_versions() -> None:
    packaging_version = pytest.importorskip("packaging.version")
    version = parse_version("0.23.11")
    assert version is not None
    assert version >= packaging_version.Version("0.6.0")
    assert packaging_version.Version("0.6.0") <= version
    assert version != packaging_version.Version("0.23.12")


def test_version_parser_edge_cases() -> None:
    assert parse_version("0.9") == parse_version("0.9.0")
    assert parse_version("0.10.0") > "0.9.9"  # type: ignore[operator]
    assert parse_version("2.21.1.dev3") == "2.21.1"
    assert parse_version("v1.2") == (1, 2)
    assert parse_version("unknown") is None
    assert len({parse_version("1.0"), parse_version("1")}) == 1


def test_get_version_and_versions_are_none_without_the_routes(
    cave: FakeCAVE, skeleton: SkeletonClient[Any]
) -> None:
    assert skeleton.get_version() is None
    assert skeleton.get_versions() is None
    assert [r.url.path for r in cave.requests] == [
        "/skeletoncache/api/version",
        "/skeletoncache/api/versions",
    ]


def test_get_versions(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    cave.on("GET", f"{LOCAL}/skeletoncache/api/versions", httpx.Response(200, json=[-1, 0, 1, 2, 3, 4]))
    assert skeleton.get_versions() == [-1, 0, 1, 2, 3, 4]


def test_a_version_that_is_not_one_is_unexpected(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    cave.on("GET", f"{LOCAL}/skeletoncache/api/version", httpx.Response(200, json="latest"))
    with pytest.raises(UnexpectedResponseError, match="latest"):
        skeleton.get_version()


def test_the_datastack_record_is_fetched_from_the_global_server_first(cave: FakeCAVE) -> None:
    cave.on("GET", f"{GLOBAL}/info/api/v2/datastack/full/ds", httpx.Response(200, json=RECORD))
    cave.on("GET", f"{LOCAL}/skeletoncache/api/versions", httpx.Response(200, json=[4]))
    skeleton = make_client(cave, info_cache=None)
    assert skeleton.get_versions() == [4]
    assert skeleton.get_versions() == [4]
    assert [str(r.url.copy_with(query=None)) for r in cave.requests] == [
        f"{GLOBAL}/info/api/v2/datastack/full/ds",
        f"{LOCAL}/skeletoncache/api/versions",
        f"{LOCAL}/skeletoncache/api/versions",
    ]
    assert all(r.headers["Authorization"] == f"Bearer {CAVE_TOKEN}" for r in cave.requests)


# ---------------------------------------------------------------- gzip helpers


def test_static_gzip_helpers_round_trip() -> None:
    data = SkeletonClient.compressStringToBytes("héllo wörld")
    assert data[:2] == b"\x1f\x8b"
    assert gzip.decompress(data).decode() == "héllo wörld"
    assert SkeletonClient.decompressBytesToString(data) == "héllo wörld"
    document = {"name": "a b", "values": [1, 2]}
    compact = SkeletonClient.compressDictToBytes(document)
    assert gzip.decompress(compact) == b'{"name":"a b","values":[1,2]}'
    spaced = SkeletonClient.compressDictToBytes(document, remove_spaces=False)
    assert gzip.decompress(spaced) == b'{"name": "a b", "values": [1, 2]}'
    assert SkeletonClient.decompressBytesToDict(compact) == document
    assert SkeletonClient.decompressBytesToDict(flatdict_bytes()) == FLATDICT


# ---------------------------------------------------------------- refusal list and cache


def test_get_refusal_list(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    csv = "DATASTACK_NAME,ROOT_ID\nds,864691135000000001\nother,864691135000000002\n"
    cave.on(
        "GET",
        f"{LOCAL}{BASE}/precomputed/skeleton/get_refusal_list",
        httpx.Response(200, content=gzip.compress(csv.encode())),
    )
    frame = skeleton.get_refusal_list(verbose_level=2)
    assert list(frame.columns) == ["DATASTACK_NAME", "ROOT_ID"]
    assert frame["ROOT_ID"].dtype == np.int64
    assert frame["ROOT_ID"].tolist() == [864691135000000001, 864691135000000002]
    assert frame["DATASTACK_NAME"].tolist() == ["ds", "other"]
    [request] = cave.requests
    assert request.method == "GET"
    assert query(request) == {"verbose_level": "2"}


def test_a_refusal_list_without_its_header_row(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    # The service sends a header row; a list without one (as older caveclient tests build it) is
    # read as the same two columns, and its first row is kept.
    csv = "ds,864691135000000001\nother,864691135000000002"
    cave.on(
        "GET",
        f"{LOCAL}{BASE}/precomputed/skeleton/get_refusal_list",
        httpx.Response(200, content=gzip.compress(csv.encode())),
    )
    frame = skeleton.get_refusal_list()
    assert list(frame.columns) == ["DATASTACK_NAME", "ROOT_ID"]
    assert frame["ROOT_ID"].dtype == np.int64
    assert frame["ROOT_ID"].tolist() == [864691135000000001, 864691135000000002]
    assert frame["DATASTACK_NAME"].tolist() == ["ds", "other"]


@pytest.mark.parametrize("csv", ["DATASTACK_NAME,ROOT\nds,1\n", "ds,1,2\n", "ds,not-an-id\n"])
def test_a_refusal_list_of_another_shape_is_unexpected(
    cave: FakeCAVE, skeleton: SkeletonClient[Any], csv: str
) -> None:
    cave.on(
        "GET",
        f"{LOCAL}{BASE}/precomputed/skeleton/get_refusal_list",
        httpx.Response(200, content=gzip.compress(csv.encode())),
    )
    with pytest.raises(UnexpectedResponseError):
        skeleton.get_refusal_list()


def test_an_empty_refusal_list(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    cave.on(
        "GET",
        f"{LOCAL}{BASE}/precomputed/skeleton/get_refusal_list",
        httpx.Response(200, content=gzip.compress(b"DATASTACK_NAME,ROOT_ID\n")),
    )
    frame = skeleton.get_refusal_list()
    assert frame.empty
    assert list(frame.columns) == ["DATASTACK_NAME", "ROOT_ID"]
    assert frame["ROOT_ID"].dtype == np.int64
    assert query(cave.requests[0]) == {"verbose_level": "0"}


def test_get_cache_contents(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    answer = {"num_found": 3, "files": ["skeleton__v4__rid-8647__ds-ds.h5.gz"]}
    cave.on("GET", f"{LOCAL}{BASE}/precomputed/skeleton/query_cache/", httpx.Response(200, json=answer))
    assert skeleton.get_cache_contents(root_id_prefixes=[8647, "8648"], limit=1) == answer
    assert skeleton.get_cache_contents(skeleton_version=-1, root_id_prefixes="86,87") == answer
    assert skeleton.get_cache_contents(root_id_prefixes=np.int64(9)) == answer
    assert [r.url.path for r in cave.requests] == [
        f"{BASE}/precomputed/skeleton/query_cache/4/8647,8648/1",
        f"{BASE}/precomputed/skeleton/query_cache/-1/86,87/0",
        f"{BASE}/precomputed/skeleton/query_cache/4/9/0",
    ]
    assert all(query(r) == {"verbose_level": "0"} for r in cave.requests)


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ({"root_id_prefixes": "86a"}, "root_id_prefixes"),
        ({"root_id_prefixes": -5}, "root_id_prefixes"),
        ({"root_id_prefixes": [1.5]}, "root_id_prefixes"),
        ({"root_id_prefixes": []}, "root_id_prefixes"),
        ({"limit": -1}, "limit"),
        ({"skeleton_version": 5}, "skeleton_version"),
        ({"verbose_level": "loud"}, "verbose_level"),
    ],
)
def test_get_cache_contents_refuses_bad_input(
    cave: FakeCAVE, skeleton: SkeletonClient[Any], arguments: dict[str, Any], parameter: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        skeleton.get_cache_contents(**arguments)
    assert raised.value.parameter == parameter
    assert cave.requests == []


# ---------------------------------------------------------------- skeletons_exist


def test_skeletons_exist_for_one_id(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    cave.on("POST", f"{LOCAL}{BASE}/precomputed/skeleton/exists", httpx.Response(200, json=True))
    assert skeleton.skeletons_exist(root_ids=864691135) is True
    assert skeleton.skeletons_exist(root_ids="864691135", skeleton_version=0, verbose_level=1) is True
    first, second = cave.requests
    assert first.url.path == f"{BASE}/precomputed/skeleton/exists"
    assert json_body(first) == {"root_ids": [864691135], "skeleton_version": 4, "verbose_level": 0}
    assert query(first) == {"verbose_level": "0"}
    assert json_body(second) == {"root_ids": [864691135], "skeleton_version": 0, "verbose_level": 1}
    assert first.headers["content-type"] == "application/json"


def test_skeletons_exist_splits_long_lists(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        ids = json_body(request)["root_ids"]
        if len(ids) == 1:
            return httpx.Response(200, json=False)
        return httpx.Response(200, json={str(i): i % 2 == 0 for i in ids})

    cave.on("POST", f"{LOCAL}{BASE}/precomputed/skeleton/exists", answer)
    ids = list(range(10_000, 12_001))  # 2001 ids: 1000 + 1000 + 1
    result = skeleton.skeletons_exist(root_ids=np.array(ids, dtype=np.int64))
    assert isinstance(result, dict)
    assert list(result) == ids
    assert len(result) == len(ids)
    assert result[10_000] is True
    assert result[10_001] is False
    assert result[12_000] is False  # the last piece held one id: answered with a bare bool
    sizes = sorted(len(json_body(r)["root_ids"]) for r in cave.requests)
    assert sizes == [1, 1000, 1000]
    asked = sorted(i for r in cave.requests for i in json_body(r)["root_ids"])
    assert asked == ids


def test_skeletons_exist_answers_only_what_was_asked(
    cave: FakeCAVE, skeleton: SkeletonClient[Any]
) -> None:
    # An answer naming more ids than were asked: the extra ones are not part of the question.
    cave.on(
        "POST",
        f"{LOCAL}{BASE}/precomputed/skeleton/exists",
        httpx.Response(200, json={"7": True, "8": False, "9": True}),
    )
    assert skeleton.skeletons_exist(root_ids=7) is True
    assert skeleton.skeletons_exist(root_ids=[8, 7]) == {8: False, 7: True}


@pytest.mark.parametrize("answer", [{"8": True}, {}, {"7": "yes", "8": True}, [True, False]])
def test_skeletons_exist_refuses_an_answer_that_leaves_an_id_out(
    cave: FakeCAVE, skeleton: SkeletonClient[Any], answer: Any
) -> None:
    cave.on("POST", f"{LOCAL}{BASE}/precomputed/skeleton/exists", httpx.Response(200, json=answer))
    with pytest.raises(UnexpectedResponseError):
        skeleton.skeletons_exist(root_ids=[7, 8])
    with pytest.raises(UnexpectedResponseError):
        skeleton.skeletons_exist(root_ids=7)


@pytest.mark.parametrize(
    ("root_ids", "problem"),
    [
        (1.5, "root_ids"),
        ("abc", "root_ids"),
        ([1, -2], "root_ids"),
        ([], "root_ids"),
        (True, "root_ids"),
    ],
)
def test_skeletons_exist_refuses_bad_ids(
    cave: FakeCAVE, skeleton: SkeletonClient[Any], root_ids: Any, problem: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        skeleton.skeletons_exist(root_ids=root_ids)
    assert raised.value.parameter == problem
    assert cave.requests == []


# ---------------------------------------------------------------- precomputed info


def test_get_precomputed_skeleton_info(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    document = {
        "@type": "neuroglancer_skeletons",
        "transform": [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0],
        "vertex_attributes": [{"id": "radius", "data_type": "float32", "num_components": 1}],
    }
    cave.on("GET", f"{LOCAL}{BASE}/precomputed/skeleton/", httpx.Response(200, json=document))
    first = skeleton.get_precomputed_skeleton_info(-1)
    assert first == document
    first["vertex_attributes"].clear()
    assert skeleton.get_precomputed_skeleton_info(4) == document  # kept, and not altered by callers
    assert skeleton.get_precomputed_skeleton_info(0) == document
    assert [r.url.path for r in cave.requests] == [
        f"{BASE}/precomputed/skeleton/4/info",
        f"{BASE}/precomputed/skeleton/2/info",
    ]
    with pytest.raises(InvalidInputError, match="skvn"):
        skeleton.get_precomputed_skeleton_info(9)
    assert len(cave.requests) == 2


# ---------------------------------------------------------------- get_skeleton


def test_get_skeleton_as_dict(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    serve_graph(cave)
    cave.on("GET", f"{LOCAL}{BASE}/async/get_skeleton/", httpx.Response(200, content=flatdict_bytes()))
    result = skeleton.get_skeleton(root(864691135))
    assert_skeleton(result, 864691135)
    # Before the skeleton: the root-id checks caveclient makes (table info, once; valid_nodes).
    paths = [r.url.path for r in cave.requests]
    assert paths == [
        "/segmentation/table/pcg/info",
        "/segmentation/api/v1/table/pcg/valid_nodes",
        f"{BASE}/async/get_skeleton/4/{root(864691135)}/flatdict",
    ]
    assert json_body(cave.requests[1])["node_ids"] == [root(864691135)]
    request = cave.requests[-1]
    assert request.method == "GET"
    assert query(request) == {"verbose_level": "0"}
    skeleton.get_skeleton(root(864691135))
    assert len(cave.to("/segmentation/table/pcg/info")) == 1  # the table info is kept


def test_get_skeleton_refuses_ids_that_are_not_roots_before_asking_for_the_skeleton(
    cave: FakeCAVE, skeleton: SkeletonClient[Any]
) -> None:
    serve_graph(cave, valid=lambda node: node != root(9))
    with pytest.raises(InvalidInputError, match="layer 1, not a root id") as raised:
        skeleton.get_skeleton(root(5, layer=1))  # a supervoxel id
    assert raised.value.parameter == "root_id"
    assert isinstance(raised.value, ValueError)  # what caveclient raises, caught the same way
    with pytest.raises(InvalidInputError, match="not a node of the chunkedgraph"):
        skeleton.get_skeleton(root(9))
    assert skeleton_requests(cave) == []


class StubVolume:
    """What get_skeleton reads of a CloudVolume: its root layer and the layer of an id."""

    class meta:  # noqa: N801 - CloudVolume's attribute name
        n_layers = 3

        @staticmethod
        def decode_layer_id(node: int) -> int:
            return 2 if node == 22 else 3


def test_get_skeleton_uses_sibling_methods_replaced_on_the_client(
    cave: FakeCAVE, client_skeleton: SkeletonClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests written for caveclient replace these two on the client instead of mocking their HTTP.
    client = client_skeleton.fc
    checked: list[Any] = []
    monkeypatch.setattr(client.info, "segmentation_cloudvolume", StubVolume)
    monkeypatch.setattr(
        client.chunkedgraph, "is_valid_nodes", lambda node: checked.append(node) or node != 33
    )
    cave.on("GET", f"{LOCAL}{BASE}/async/get_skeleton/", httpx.Response(200, content=flatdict_bytes()))

    assert_skeleton(client_skeleton.get_skeleton(11), 864691135)
    with pytest.raises(ValueError, match="Invalid root id: 22 is an id of layer 2"):
        client_skeleton.get_skeleton(22)
    with pytest.raises(ValueError, match="Invalid root id: 33 is not a node"):
        client_skeleton.get_skeleton(33)
    assert checked == [11, 33]
    assert [r.url.path for r in cave.requests] == [f"{BASE}/async/get_skeleton/4/11/flatdict"]


def test_methods_replaced_with_mocks_are_used(
    cave: FakeCAVE, client_skeleton: SkeletonClient[Any]
) -> None:
    client = client_skeleton.fc
    cave.on("GET", f"{LOCAL}{BASE}/async/get_skeleton/", httpx.Response(200, content=flatdict_bytes()))
    with (
        mock.patch.object(client.info, "segmentation_cloudvolume", return_value=StubVolume()),
        mock.patch.object(client.chunkedgraph, "is_valid_nodes", return_value=False) as valid,
        pytest.raises(ValueError, match="Invalid root id: 11 is not a node"),
    ):
        client_skeleton.get_skeleton(11)
    valid.assert_called_once_with(11)
    assert cave.requests == []
    # Restored: the class's own methods are not taken for replacements.
    serve_graph(cave)
    client_skeleton.get_skeleton(root(11))
    assert [r.url.path for r in cave.requests][:2] == [
        "/segmentation/table/pcg/info",
        "/segmentation/api/v1/table/pcg/valid_nodes",
    ]


def test_a_replaced_volume_of_none_skips_the_layer_check(
    cave: FakeCAVE, client_skeleton: SkeletonClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_skeleton.fc.info, "segmentation_cloudvolume", lambda: None)
    serve_graph(cave)
    cave.on("GET", f"{LOCAL}{BASE}/async/get_skeleton/", httpx.Response(200, content=flatdict_bytes()))
    client_skeleton.get_skeleton(root(5, layer=1))
    paths = [r.url.path for r in cave.requests]
    assert paths[0] == "/segmentation/api/v1/table/pcg/valid_nodes"
    assert "/segmentation/table/pcg/info" not in paths


def test_an_async_replacement_is_refused_clearly(
    cave: FakeCAVE, client_skeleton: SkeletonClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def valid(node: int) -> bool:
        return True

    serve_graph(cave)
    monkeypatch.setattr(client_skeleton.fc.chunkedgraph, "is_valid_nodes", valid)
    with pytest.raises(RuntimeError, match="is_valid_nodes was replaced by an async function"):
        client_skeleton.get_skeleton(root(5))
    assert skeleton_requests(cave) == []


def test_get_skeleton_as_swc(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    cave.on(
        "GET",
        f"{LOCAL}{BASE}/async/get_skeleton/",
        httpx.Response(200, content=gzip.compress(SWC.encode())),
    )
    serve_graph(cave)
    frame = skeleton.get_skeleton(
        np.uint64(root(7)), skeleton_version=3, output_format="swc", verbose_level=1
    )
    assert isinstance(frame, pd.DataFrame)
    assert_swc(frame)
    [request] = skeleton_requests(cave)
    assert request.url.path == f"{BASE}/async/get_skeleton/3/{root(7)}/swccompressed"
    assert query(request) == {"verbose_level": "1"}


def test_get_skeleton_for_another_datastack(cave: FakeCAVE) -> None:
    other = {**RECORD, "local_server": "https://other.cave.test"}
    skeleton = make_client(cave, info_cache={DATASTACK: dict(RECORD), "other": other})
    cave.on(
        "GET",
        "https://other.cave.test/skeletoncache/api/v1/other/async/get_skeleton/4/5/flatdict",
        httpx.Response(200, content=flatdict_bytes()),
    )
    assert_skeleton(skeleton.get_skeleton(5, datastack_name="other"))
    assert cave.requests[0].headers["Authorization"] == f"Bearer {CAVE_TOKEN}"


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ({"root_id": 1.5}, "root_id"),
        ({"root_id": -1}, "root_id"),
        ({"root_id": "x"}, "root_id"),
        ({"root_id": [1, 2]}, "root_id"),
        ({"root_id": 1, "skeleton_version": 5}, "skeleton_version"),
        ({"root_id": 1, "skeleton_version": 4.0}, "skeleton_version"),
        ({"root_id": 1, "skeleton_version": True}, "skeleton_version"),
        ({"root_id": 1, "skeleton_version": None}, "skeleton_version"),
        ({"root_id": 1, "output_format": "json"}, "output_format"),
        ({"root_id": 1, "output_format": "flatdict"}, "output_format"),
        ({"root_id": 1, "verbose_level": -1}, "verbose_level"),
    ],
)
def test_get_skeleton_refuses_bad_input_before_sending(
    cave: FakeCAVE, skeleton: SkeletonClient[Any], arguments: dict[str, Any], parameter: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        skeleton.get_skeleton(**arguments)
    assert raised.value.parameter == parameter
    assert cave.requests == []


def test_get_skeleton_lets_the_server_explain_a_refusal(
    cave: FakeCAVE, skeleton: SkeletonClient[Any]
) -> None:
    cave.on(
        "GET",
        f"{LOCAL}{BASE}/async/get_skeleton/",
        httpx.Response(400, json={"Error": "Invalid root id: 5 (perhaps a supervoxel id)"}),
    )
    serve_graph(cave)
    with pytest.raises(BadRequestError, match="perhaps a supervoxel id"):
        skeleton.get_skeleton(root(5))


def test_a_corrupt_skeleton_is_unexpected(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    cave.on(
        "GET", f"{LOCAL}{BASE}/async/get_skeleton/", httpx.Response(200, content=b"\x1f\x8bnot gzip")
    )
    serve_graph(cave)
    with pytest.raises(UnexpectedResponseError, match=f"root id {root(5)}"):
        skeleton.get_skeleton(root(5))


def test_server_warnings_become_python_warnings(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    cave.on(
        "GET",
        f"{LOCAL}{BASE}/async/get_skeleton/",
        httpx.Response(200, content=flatdict_bytes(), headers={"Warning": "cache is warming up"}),
    )
    serve_graph(cave)
    with pytest.warns(UserWarning, match="cache is warming up"):
        skeleton.get_skeleton(root(5))
    skeleton.get_skeleton(root(5), log_warning=False)  # filterwarnings=error: any warning would fail


# ---------------------------------------------------------------- get_bulk_skeletons


def bulk_answer(
    markers: dict[int, str] | None = None, refused: set[int] | None = None, swc: bool = False
) -> Handler:
    """The bulk route: each asked id's hex payload, a marker, or nothing (refused)."""

    def answer(request: httpx.Request) -> httpx.Response:
        ids = [int(i) for i in request.url.path.rsplit("/", 1)[-1].split(",")]
        body: dict[str, str] = {}
        for root in ids:
            if refused and root in refused:
                continue
            if markers and root in markers:
                body[str(root)] = markers[root]
            elif swc:
                body[str(root)] = SWC.encode().hex()  # the bulk routes send SWC text uncompressed
            else:
                body[str(root)] = flatdict_bytes(skeleton_for(root)).hex()
        return httpx.Response(200, json=body)

    return answer


def test_get_bulk_skeletons_splits_into_pieces_of_ten(
    cave: FakeCAVE, skeleton: SkeletonClient[Any]
) -> None:
    cave.on("GET", f"{LOCAL}{BASE}/bulk/get_skeletons/", bulk_answer())
    ids = list(range(1000, 1025))
    result = skeleton.get_bulk_skeletons(ids)
    assert list(result) == [str(i) for i in ids]
    for root in ids:
        # The service's JSON as caveclient returns it from the bulk route: lists, not arrays.
        assert isinstance(result[str(root)]["vertices"], list)
        arrays = {
            key: value if key == "meta" else np.array(value) for key, value in result[str(root)].items()
        }
        assert_skeleton(arrays, root)
    assert len(cave.requests) == 3
    pieces = sorted(r.url.path.rsplit("/", 1)[-1] for r in cave.requests)
    assert pieces == sorted(",".join(map(str, ids[i : i + 10])) for i in (0, 10, 20))
    for request in cave.requests:
        assert request.method == "GET"
        assert request.url.path.startswith(f"{BASE}/bulk/get_skeletons/4/flatdict/False/")
        assert query(request) == {"verbose_level": "0"}


def test_get_bulk_skeletons_reports_markers_and_refused_ids(
    cave: FakeCAVE, skeleton: SkeletonClient[Any]
) -> None:
    markers = {2: "async", 3: "invalid_rid", 4: "invalid_layer_rid"}
    cave.on("GET", f"{LOCAL}{BASE}/bulk/get_skeletons/", bulk_answer(markers, refused={5}))
    with pytest.warns(MissingSkeletonsWarning) as caught:
        result = skeleton.get_bulk_skeletons([1, 2, 3, 4, 5, 1], generate_missing_skeletons=True)
    assert list(result) == ["1"]
    message = str(caught[0].message)
    assert "4 of 5 root ids" in message
    assert "1 not cached yet, generation queued: 2" in message
    assert "1 not a valid node id: 3" in message
    assert "1 not a root id (another chunkedgraph layer): 4" in message
    assert "1 refused by the service: 5" in message
    [request] = cave.requests  # the repeated id is asked once
    assert request.url.path == f"{BASE}/bulk/get_skeletons/4/flatdict/True/1,2,3,4,5"


def test_get_bulk_skeletons_as_swc(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    cave.on("GET", f"{LOCAL}{BASE}/bulk/get_skeletons/", bulk_answer(swc=True))
    result = skeleton.get_bulk_skeletons(np.array([11, 12], dtype=np.uint64), output_format="swc")
    assert set(result) == {"11", "12"}
    for frame in result.values():
        assert isinstance(frame, pd.DataFrame)
        assert_swc(frame)
    assert cave.requests[0].url.path == f"{BASE}/bulk/get_skeletons/4/swccompressed/False/11,12"


def test_bulk_id_lists_keep_their_commas_on_the_wire(
    cave: FakeCAVE, skeleton: SkeletonClient[Any]
) -> None:
    # Servers read 1%2C2 and 1,2 alike, but mocks that match exact URLs expect the commas.
    cave.on("GET", f"{LOCAL}{BASE}/bulk/get_skeletons/", bulk_answer())
    skeleton.get_bulk_skeletons([21, 22, 23])
    [request] = cave.requests
    expected = f"{BASE}/bulk/get_skeletons/4/flatdict/False/21,22,23?verbose_level=0"
    assert request.url.raw_path == expected.encode()


def test_gzip_swc_payloads_are_read_too(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    cave.on(
        "GET",
        f"{LOCAL}{BASE}/bulk/get_skeletons/",
        httpx.Response(200, json={"11": gzip.compress(SWC.encode()).hex()}),
    )
    frame = skeleton.get_bulk_skeletons([11], output_format="swc")["11"]
    assert isinstance(frame, pd.DataFrame)
    assert_swc(frame)


def test_an_unreadable_bulk_payload_is_reported_not_fatal(
    cave: FakeCAVE, skeleton: SkeletonClient[Any]
) -> None:
    cave.on(
        "GET",
        f"{LOCAL}{BASE}/bulk/get_skeletons/",
        httpx.Response(200, json={"1": flatdict_bytes().hex(), "2": "zz-not-hex"}),
    )
    with pytest.warns(MissingSkeletonsWarning, match="1 unreadable: 2"):
        result = skeleton.get_bulk_skeletons([1, 2])
    assert list(result) == ["1"]


def test_bulk_calls_with_no_ids_send_nothing(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    assert skeleton.get_bulk_skeletons([]) == {}
    assert skeleton.fetch_skeletons([]) == {}
    assert skeleton.generate_bulk_skeletons_async([]) == 0.0
    assert cave.requests == []


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ({"root_ids": [1, 2.5]}, "root_ids"),
        ({"root_ids": ["1"]}, "root_ids"),
        ({"root_ids": 3.0}, "root_ids"),
        ({"root_ids": [1], "skeleton_version": 7}, "skeleton_version"),
        ({"root_ids": [1], "output_format": "h5"}, "output_format"),
        ({"root_ids": [1], "generate_missing_skeletons": "yes"}, "generate_missing_skeletons"),
    ],
)
def test_get_bulk_skeletons_refuses_bad_input(
    cave: FakeCAVE, skeleton: SkeletonClient[Any], arguments: dict[str, Any], parameter: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        skeleton.get_bulk_skeletons(**arguments)
    assert raised.value.parameter == parameter
    assert cave.requests == []


# ---------------------------------------------------------------- generate_bulk_skeletons_async


def test_generate_bulk_skeletons_async_sends_pieces_of_1000(
    cave: FakeCAVE, skeleton: SkeletonClient[Any]
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=60 * len(json_body(request)["root_ids"]) // 500)

    cave.on("POST", f"{LOCAL}{BASE}/bulk/gen_skeletons", answer)
    ids = list(range(1, 2501))
    assert skeleton.generate_bulk_skeletons_async(ids, verbose_level=1) == 120.0 + 120.0 + 60.0
    bodies = sorted((json_body(r) for r in cave.requests), key=lambda body: body["root_ids"][0])
    assert [len(body["root_ids"]) for body in bodies] == [1000, 1000, 500]
    assert [i for body in bodies for i in body["root_ids"]] == ids
    assert all(body["skeleton_version"] == 4 and body["verbose_level"] == 1 for body in bodies)
    assert all(r.url.path == f"{BASE}/bulk/gen_skeletons" for r in cave.requests)
    assert all(query(r) == {"verbose_level": "1"} for r in cave.requests)


def test_generate_bulk_skeletons_async_is_not_replayed(cave: FakeCAVE) -> None:
    skeleton = make_client(cave, max_retries=3)
    cave.on("POST", f"{LOCAL}{BASE}/bulk/gen_skeletons", httpx.Response(503, json={"message": "busy"}))
    with pytest.raises(ServerError):
        skeleton.generate_bulk_skeletons_async([1, 2], skeleton_version=0)
    assert len(cave.requests) == 1
    assert json_body(cave.requests[0])["skeleton_version"] == 0


def test_generate_bulk_skeletons_async_refuses_bad_versions(
    cave: FakeCAVE, skeleton: SkeletonClient[Any]
) -> None:
    with pytest.raises(InvalidInputError, match="skeleton_version"):
        skeleton.generate_bulk_skeletons_async([1], skeleton_version=-2)
    assert cave.requests == []


# ---------------------------------------------------------------- fetch_skeletons (server)


def cached_answer(missing: set[int] = frozenset(), swc: bool = False) -> Handler:  # type: ignore[assignment]
    def answer(request: httpx.Request) -> httpx.Response:
        body = {}
        for root in json_body(request)["root_ids"]:
            if root in missing:
                continue
            payload = SWC.encode() if swc else flatdict_bytes(skeleton_for(root))
            body[str(root)] = payload.hex()
        return httpx.Response(200, json=body)

    return answer


def test_fetch_skeletons_splits_into_pieces_of_500(
    cave: FakeCAVE, skeleton: SkeletonClient[Any]
) -> None:
    cave.on("POST", f"{LOCAL}{BASE}/bulk/get_cached_skeletons/", cached_answer(missing={1100}))
    ids = list(range(1, 1201))
    with pytest.warns(MissingSkeletonsWarning, match=r"1 of 1200 root ids .*1 not cached: 1100"):
        result = skeleton.fetch_skeletons(ids)
    assert len(result) == 1199
    assert "1100" not in result
    for root in (1, 1200):
        # The service's JSON as caveclient returns it from the bulk routes: lists, not arrays.
        document = result[str(root)]
        assert list(document) == list(FLATDICT)
        assert isinstance(document["vertices"], list)
        arrays = {key: value if key == "meta" else np.array(value) for key, value in document.items()}
        assert_skeleton(arrays, root)
    bodies = sorted((json_body(r) for r in cave.requests), key=lambda body: body["root_ids"][0])
    assert [len(body["root_ids"]) for body in bodies] == [500, 500, 200]
    assert [i for body in bodies for i in body["root_ids"]] == ids
    assert all(body["generate_missing"] is False and body["verbose_level"] == 0 for body in bodies)
    assert all(r.url.path == f"{BASE}/bulk/get_cached_skeletons/4/flatdict" for r in cave.requests)
    assert all(query(r) == {"verbose_level": "0"} for r in cave.requests)


def test_fetch_skeletons_as_swc_and_queueing_the_missing(
    cave: FakeCAVE, skeleton: SkeletonClient[Any]
) -> None:
    cave.on("POST", f"{LOCAL}{BASE}/bulk/get_cached_skeletons/", cached_answer(missing={2}, swc=True))
    with pytest.warns(MissingSkeletonsWarning, match="not cached, generation queued: 2"):
        result = skeleton.fetch_skeletons([1, 2], output_format="swc", generate_missing_skeletons=True)
    assert list(result) == ["1"]
    frame = result["1"]
    assert isinstance(frame, pd.DataFrame)
    assert_swc(frame)
    [request] = cave.requests
    assert request.url.path == f"{BASE}/bulk/get_cached_skeletons/4/swccompressed"
    assert json_body(request) == {"root_ids": [1, 2], "generate_missing": True, "verbose_level": 0}


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ({"method": "cloud"}, "method"),
        ({"method": "gcs", "output_format": "swc"}, "output_format"),
        ({"skeleton_version": "4"}, "skeleton_version"),
        ({"root_ids": [1, None]}, "root_ids"),
    ],
)
def test_fetch_skeletons_refuses_bad_input(
    cave: FakeCAVE, skeleton: SkeletonClient[Any], arguments: dict[str, Any], parameter: str
) -> None:
    arguments.setdefault("root_ids", [1])
    with pytest.raises(InvalidInputError) as raised:
        skeleton.fetch_skeletons(**arguments)
    assert raised.value.parameter == parameter
    assert cave.requests == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda sk: sk.get_skeleton(1, skeleton_version=-2),
            "Unknown skeleton version: -2. Valid options: [-1, 0, 1, 2, 3, 4]",
        ),
        (
            lambda sk: sk.get_bulk_skeletons([1], skeleton_version=999),
            "Unknown skeleton version: 999. Valid options: [-1, 0, 1, 2, 3, 4]",
        ),
        (
            lambda sk: sk.generate_bulk_skeletons_async([1], skeleton_version=7),
            "Unknown skeleton version: 7. Valid options: [-1, 0, 1, 2, 3, 4]",
        ),
        (
            lambda sk: sk.get_skeleton(1, output_format=""),
            "Unknown output format: . Valid options: ['dict', 'swc']",
        ),
        (
            lambda sk: sk.get_bulk_skeletons([1], output_format="flatdict"),
            "Unknown output format: flatdict. Valid options: ['dict', 'swc']",
        ),
        (
            lambda sk: sk.fetch_skeletons([1], output_format="json"),
            "output_format must be 'dict' or 'swc', got 'json'",
        ),
        (
            lambda sk: sk.fetch_skeletons([1], method="bogus"),
            "method must be 'server' or 'gcs', got 'bogus'",
        ),
        (
            lambda sk: sk.fetch_skeletons([1], method="gcs", output_format="swc"),
            "method='gcs' only supports output_format='dict'",
        ),
    ],
)
def test_refusals_contain_the_phrases_caveclient_used(
    cave: FakeCAVE, skeleton: SkeletonClient[Any], call: Callable[[Any], Any], message: str
) -> None:
    # Code that matched caveclient's wording (`pytest.raises(ValueError, match=...)`) still does.
    with pytest.raises(ValueError, match=re.escape(message)):
        call(skeleton)
    assert cave.requests == []


def test_a_problem_naming_its_parameter_is_not_prefixed_twice() -> None:
    assert str(InvalidInputError("method", "method must be 'a'")) == "method must be 'a'"
    assert str(InvalidInputError("method", "must be 'a'")) == "method: must be 'a'"
    assert str(InvalidInputError("method", "methods differ")) == "method: methods differ"


# ---------------------------------------------------------------- fetch_skeletons (storage bucket)


class FakeDataset:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __getitem__(self, key: Any) -> Any:
        assert key == ()
        return self.value


class FakeH5File:
    """Stands in for h5py.File: the 'file' is the HDF5 magic followed by a JSON description."""

    def __init__(self, stream: io.BytesIO, mode: str) -> None:
        assert mode == "r"
        content = stream.read()
        assert content[:8] == HDF5_MAGIC
        self.document: dict[str, Any] = json.loads(content[8:])

    def __enter__(self) -> FakeH5File:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def __contains__(self, name: str) -> bool:
        return name in self.document

    def __getitem__(self, name: str) -> Any:
        value = self.document[name]
        if name == "vertex_properties":
            return {key: FakeDataset(json.dumps(item).encode()) for key, item in value.items()}
        if name == "meta":
            return FakeDataset(np.void(json.dumps(value).encode()))
        return FakeDataset(np.asarray(value))


def fake_h5(root: int) -> bytes:
    document = {
        "vertices": FLATDICT["vertices"],
        "edges": FLATDICT["edges"],
        "mesh_to_skel_map": FLATDICT["mesh_to_skel_map"],
        "lvl2_ids": LVL2,
        "root": 0,
        "vertex_properties": {"radius": FLATDICT["radius"], "compartment": FLATDICT["compartment"]},
        "meta": {"skeleton_version": 4, "root_id": root},
    }
    return gzip.compress(HDF5_MAGIC + json.dumps(document).encode())


@pytest.fixture
def fake_h5py(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("h5py")
    module.File = FakeH5File  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "h5py", module)


PATH_TEMPLATE = "ds/4/skeleton__v4__rid-{rid}__ds-ds__res-1x1x1__cs-True__cr-7500.h5.gz"


def storage_url(root: int) -> str:
    path = quote(PATH_TEMPLATE.replace("{rid}", str(root)), safe="")
    return f"https://storage.googleapis.com/download/storage/v1/b/bucket/o/{path}?alt=media"


def grant(expiry: datetime | None) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "token": GCS_TOKEN,
            "token_type": "Bearer",
            "expiry": expiry.isoformat() if expiry else None,
            "bucket": "bucket",
            "path_template": PATH_TEMPLATE,
        },
    )


def serve_bucket(cave: FakeCAVE, missing: set[int] = frozenset()) -> None:  # type: ignore[assignment]
    def answer(request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[-1]
        root = int(name.split("rid-")[1].split("__")[0])
        if root in missing:
            return httpx.Response(404, json={"error": {"code": 404, "message": "No such object"}})
        return httpx.Response(200, content=fake_h5(root))

    cave.on("GET", "https://storage.googleapis.com/download/storage/v1/b/bucket/o/", answer)


@pytest.mark.usefixtures("fake_h5py")
def test_fetch_skeletons_from_the_bucket(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    cave.on(
        "POST", f"{LOCAL}{BASE}/bulk/get_skeleton_token/", grant(datetime.now(UTC) + timedelta(hours=1))
    )
    serve_bucket(cave, missing={3})
    with pytest.warns(MissingSkeletonsWarning, match="1 not in the bucket: 3"):
        result = skeleton.fetch_skeletons([1, 2, 3], method="gcs", verbose_level=1)
    assert list(result) == ["1", "2"]
    assert_skeleton(result["1"], 1)
    assert_skeleton(result["2"], 2)

    token_requests = cave.to(f"{BASE}/bulk/get_skeleton_token")
    [token_request] = token_requests
    assert token_request.method == "POST"
    assert token_request.url.path == f"{BASE}/bulk/get_skeleton_token/4"
    assert query(token_request) == {"verbose_level": "1"}
    assert json_body(token_request) == {"verbose_level": 1}
    assert token_request.headers["Authorization"] == f"Bearer {CAVE_TOKEN}"

    downloads = [r for r in cave.requests if r.url.host == "storage.googleapis.com"]
    assert sorted(str(r.url) for r in downloads) == sorted(storage_url(i) for i in (1, 2, 3))
    for request in downloads:
        assert request.headers["Authorization"] == f"Bearer {GCS_TOKEN}"
        assert all(CAVE_TOKEN not in value for value in request.headers.values())
        assert CAVE_TOKEN not in str(request.url)
        assert "cookie" not in request.headers


@pytest.mark.usefixtures("fake_h5py")
def test_the_bucket_token_is_reused_until_it_nearly_expires(
    cave: FakeCAVE, skeleton: SkeletonClient[Any]
) -> None:
    expiries = [datetime.now(UTC) + timedelta(minutes=4), datetime.now(UTC) + timedelta(hours=1)]
    cave.on("POST", f"{LOCAL}{BASE}/bulk/get_skeleton_token/", lambda _r: grant(expiries.pop(0)))
    serve_bucket(cave)
    skeleton.fetch_skeletons([1], method="gcs")
    skeleton.fetch_skeletons([1], method="gcs")  # the first token expires within 5 minutes: renewed
    skeleton.fetch_skeletons([1], method="gcs")  # the second is good for an hour: reused
    assert len(cave.to(f"{BASE}/bulk/get_skeleton_token")) == 2


@pytest.mark.usefixtures("fake_h5py")
def test_a_token_without_expiry_is_not_reused(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    cave.on("POST", f"{LOCAL}{BASE}/bulk/get_skeleton_token/", grant(None))
    serve_bucket(cave)
    skeleton.fetch_skeletons([1], method="gcs")
    skeleton.fetch_skeletons([1], method="gcs")
    assert len(cave.to(f"{BASE}/bulk/get_skeleton_token")) == 2


@pytest.mark.usefixtures("fake_h5py")
def test_missing_bucket_skeletons_can_be_queued(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    cave.on(
        "POST", f"{LOCAL}{BASE}/bulk/get_skeleton_token/", grant(datetime.now(UTC) + timedelta(hours=1))
    )
    cave.on("POST", f"{LOCAL}{BASE}/bulk/gen_skeletons", httpx.Response(200, json=60))
    serve_bucket(cave, missing={2, 3})
    with pytest.warns(MissingSkeletonsWarning, match="2 not in the bucket, generation queued: 2, 3"):
        result = skeleton.fetch_skeletons([1, 2, 3], method="gcs", generate_missing_skeletons=True)
    assert list(result) == ["1"]
    [queued] = cave.to(f"{BASE}/bulk/gen_skeletons")
    assert json_body(queued) == {"root_ids": [2, 3], "skeleton_version": 4, "verbose_level": 0}


def test_the_bucket_method_needs_h5py(
    cave: FakeCAVE, skeleton: SkeletonClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match="h5py"):
        skeleton.fetch_skeletons([1], method="gcs")
    assert cave.requests == []


def test_h5_files_are_read_with_the_real_h5py() -> None:
    h5py = pytest.importorskip("h5py")
    from caveclient_gen.services._skeleton_formats import skeleton_from_h5

    stream = io.BytesIO()
    with h5py.File(stream, "w") as file:
        file["vertices"] = np.asarray(FLATDICT["vertices"])
        file["edges"] = np.asarray(FLATDICT["edges"])
        file["mesh_to_skel_map"] = np.asarray(FLATDICT["mesh_to_skel_map"])
        file["lvl2_ids"] = np.asarray(LVL2, dtype=np.uint64)
        file["root"] = 0
        file["vertex_properties/radius"] = json.dumps(FLATDICT["radius"])
        file["vertex_properties/compartment"] = json.dumps(FLATDICT["compartment"])
        file["meta"] = np.void(json.dumps({"skeleton_version": 4}).encode())
    result = skeleton_from_h5(gzip.compress(stream.getvalue()))
    np.testing.assert_array_equal(result["vertices"], FLATDICT["vertices"])
    assert result["lvl2_ids"].tolist() == LVL2
    assert result["meta"] == {"skeleton_version": 4}
    assert result["root"] == 0


# ---------------------------------------------------------------- payload helpers


def test_ids_beyond_int64_stay_exact() -> None:
    big = [2**63 + 5, 3]
    array = id_array(big)
    assert array.dtype == np.uint64
    assert array.tolist() == big
    assert id_array([1, 2]).dtype == np.int64
    assert id_array([]).shape == (0,)


def test_an_empty_skeleton_keeps_its_shapes(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    empty: dict[str, Any] = {"meta": {}, "vertices": [], "edges": [], "radius": []}
    cave.on(
        "GET", f"{LOCAL}{BASE}/async/get_skeleton/", httpx.Response(200, content=flatdict_bytes(empty))
    )
    serve_graph(cave)
    result = skeleton.get_skeleton(root(1))
    assert result["vertices"].shape == (0, 3)
    assert result["edges"].shape == (0, 2)


# ---------------------------------------------------------------- the async client


@pytest.mark.anyio
async def test_the_async_client_chunks_the_same_way(cave: FakeCAVE) -> None:
    cave.on("GET", f"{LOCAL}{BASE}/bulk/get_skeletons/", bulk_answer())
    cave.on("GET", f"{LOCAL}{BASE}/async/get_skeleton/", httpx.Response(200, content=flatdict_bytes()))
    async with AsyncCAVEclient(
        DATASTACK,
        server_address=GLOBAL,
        auth_token=CAVE_TOKEN,
        write_server_cache=False,
        info_cache={DATASTACK: dict(RECORD)},
        transport=httpx.MockTransport(cave),
    ) as client:
        skeleton: SkeletonClient[Async] = SkeletonClient(client._core)
        ids = list(range(1000, 1025))
        result = await skeleton.get_bulk_skeletons(ids)
        assert list(result) == [str(i) for i in ids]
        assert len(cave.requests) == 3
        serve_graph(cave)
        assert_skeleton(await skeleton.get_skeleton(root(5)))


def test_fetch_skeletons_retries_reads_but_not_queueing(cave: FakeCAVE) -> None:
    skeleton = make_client(cave, max_retries=1)
    skeleton._runtime._sleep = lambda _seconds: None  # type: ignore[attr-defined]
    cave.on(
        "POST",
        f"{LOCAL}{BASE}/bulk/get_cached_skeletons/",
        httpx.Response(503, json={"message": "busy"}),
    )
    with pytest.raises(ServerError):
        skeleton.fetch_skeletons([1])
    assert len(cave.requests) == 2  # a plain read is retried
    cave.requests.clear()
    with pytest.raises(ServerError):
        skeleton.fetch_skeletons([1], generate_missing_skeletons=True)
    assert len(cave.requests) == 1  # queueing generation is not replayed


@pytest.mark.usefixtures("fake_h5py")
def test_a_refused_bucket_token_is_not_reused(cave: FakeCAVE, skeleton: SkeletonClient[Any]) -> None:
    cave.on(
        "POST",
        f"{LOCAL}{BASE}/bulk/get_skeleton_token/",
        grant(datetime.now(UTC) + timedelta(hours=1)),
    )
    cave.on(
        "GET",
        "https://storage.googleapis.com/",
        httpx.Response(403, json={"error": {"code": 403, "message": "denied"}}),
    )
    for _ in range(2):
        with pytest.raises(PermissionDeniedError):
            skeleton.fetch_skeletons([1], method="gcs")
    assert len(cave.to(f"{BASE}/bulk/get_skeleton_token")) == 2


@pytest.mark.anyio
@pytest.mark.usefixtures("fake_h5py")
async def test_the_async_client_downloads_from_the_bucket(cave: FakeCAVE) -> None:
    cave.on(
        "POST",
        f"{LOCAL}{BASE}/bulk/get_skeleton_token/",
        grant(datetime.now(UTC) + timedelta(hours=1)),
    )
    serve_bucket(cave, missing={2})
    async with AsyncCAVEclient(
        DATASTACK,
        server_address=GLOBAL,
        auth_token=CAVE_TOKEN,
        write_server_cache=False,
        info_cache={DATASTACK: dict(RECORD)},
        transport=httpx.MockTransport(cave),
    ) as client:
        skeleton: SkeletonClient[Async] = SkeletonClient(client._core)
        with pytest.warns(MissingSkeletonsWarning, match="not in the bucket: 2"):
            result = await skeleton.fetch_skeletons([1, 2], method="gcs")
    assert list(result) == ["1"]
    assert_skeleton(result["1"], 1)
    downloads = [r for r in cave.requests if r.url.host == "storage.googleapis.com"]
    assert len(downloads) == 2
    assert all(r.headers["Authorization"] == f"Bearer {GCS_TOKEN}" for r in downloads)
