"""client.chunkedgraph against a mock transport: the exact requests sent and the typed results.

Every route is answered by `FakeCAVEServer`, which records the requests; tests check method, path,
query and body, then the decoded result. Bulk methods are checked to split their input into chunks
whose answers, put together, equal the answer of one big request.
"""

from __future__ import annotations

import asyncio
import json
import sys
import types
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

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
    ServerIncompatibilityError,
    UnexpectedResponseError,
    _defaults,
)
from caveclient_gen._http.plan import api_method
from caveclient_gen.services.chunkedgraph import ChunkedGraphClient

from .fake_cave import FakeCAVEServer, client_served_by

LOCAL = "https://local.test"
TABLE = "minnie3_v1"
BASE = f"/segmentation/api/v1/table/{TABLE}"
RECORD = {
    "local_server": LOCAL,
    "segmentation_source": f"graphene://{LOCAL}/segmentation/table/{TABLE}",
    "aligned_volume": {"id": 1, "name": "minnie65"},
}
BIG = 2**63 + 12345  # beyond int64: must survive exactly
HUGE = 2**64 - 1
ROOT = 864691135088120211  # a real-sized root id: the int64-typed results hold it exactly
WHEN = datetime(2024, 5, 6, 7, 8, 9, 250000, tzinfo=UTC)


def query(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def pcg_error(status: int, message: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"timestamp": "2024-01-01 00:00:00", "duration": 3.0, "code": status, "message": message},
    )


@pytest.fixture
def server() -> FakeCAVEServer:
    return FakeCAVEServer()


@pytest.fixture
def client(server: FakeCAVEServer) -> Iterator[CAVEclient]:
    with client_served_by(server, info_cache={"ds": dict(RECORD)}) as cave:
        cave._core.runtime._sleep = lambda seconds: None  # type: ignore[union-attr]
        yield cave


@pytest.fixture
def cg(client: CAVEclient) -> ChunkedGraphClient[Any]:
    return ChunkedGraphClient(client._core)


def roots_of(ids: np.ndarray) -> np.ndarray:
    """The fake graph's root of each id: deterministic, and above 2^63 for some inputs."""
    return (ids.astype(np.uint64) * np.uint64(3) + np.uint64(2**63 + 7)).astype(np.uint64)


def roots_binary_handler(request: httpx.Request) -> httpx.Response:
    ids = np.frombuffer(request.content, dtype="<u8")
    return httpx.Response(
        200,
        content=roots_of(ids).astype("<u8").tobytes(),
        headers={"content-type": "text/html; charset=utf-8"},
    )


# ---------------------------------------------------------------- construction, properties


def test_construction_makes_no_request(server: FakeCAVEServer, client: CAVEclient) -> None:
    ChunkedGraphClient(client._core)
    assert server.requests == []


def test_table_properties(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    info = {
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
            "n_layers": 7,
            "spatial_bit_masks": {"1": 10},
        },
        "app": {"supported_api_versions": [0, 1]},
        "sharded_mesh": True,
        "verify_mesh": False,
    }
    server.route("GET", f"/segmentation/table/{TABLE}/info", info)
    assert cg.table_name == TABLE
    assert cg.cloudvolume_path == f"graphene://{LOCAL}/segmentation/api/v1/{TABLE}"
    assert cg.segmentation_info["graph"]["n_layers"] == 7
    assert cg.base_resolution == [8.0, 8.0, 40.0]
    assert len(server.all(f"/segmentation/table/{TABLE}/info")) == 1  # cached


def test_timestamp_property(client: CAVEclient, cg: ChunkedGraphClient[Any]) -> None:
    assert cg.timestamp is None
    with pytest.raises(InvalidInputError, match="timezone"):
        cg.timestamp = datetime(2024, 1, 1)  # naive
    cg.timestamp = datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    assert cg.timestamp == datetime(2024, 1, 1, tzinfo=UTC)
    assert cg.timestamp.tzinfo is UTC
    client._core.timestamp = WHEN  # the parent client is pinned to a version
    assert cg.timestamp == WHEN
    client._core.timestamp = WHEN.replace(tzinfo=None)  # set naive by the client: it is UTC
    assert cg.timestamp == WHEN
    with pytest.raises(InvalidInputError, match="version"):
        cg.timestamp = WHEN


# ---------------------------------------------------------------- get_roots


def test_get_roots_sends_raw_little_endian_uint64(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any]
) -> None:
    server.route("POST", f"{BASE}/roots_binary", roots_binary_handler)
    ids = [BIG, 5, HUGE, 0]
    roots = cg.get_roots(ids, timestamp=WHEN, stop_layer=3)

    request = server.only_request_to(f"{BASE}/roots_binary")
    expected = b"".join(value.to_bytes(8, "little") for value in ids)
    assert request.content == expected
    assert request.headers["content-type"] == "application/octet-stream"
    assert query(request) == {
        "timestamp": str(WHEN.timestamp()),
        "stop_layer": "3",
    }
    assert roots.dtype == np.uint64
    assert roots.tolist() == roots_of(np.array(ids, dtype=np.uint64)).tolist()
    assert roots.flags.writeable


def test_get_roots_chunks_give_the_one_request_answer(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    server.route("POST", f"{BASE}/roots_binary", roots_binary_handler)
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 2**63, size=250_000, dtype=np.int64).astype(np.uint64)
    ids[::1000] += np.uint64(2**63)  # some ids above int64
    one_shot = roots_of(ids)  # what the handler answers to all ids in one request
    monkeypatch.setattr(_defaults, "CHUNKEDGRAPH_ROOTS_CHUNK_SIZE", 60_000)

    roots = cg.get_roots(ids, timestamp=WHEN)

    requests = server.all(f"{BASE}/roots_binary")
    assert len(requests) == 5
    sizes = sorted(len(request.content) // 8 for request in requests)
    assert sizes == [10_000, 60_000, 60_000, 60_000, 60_000]
    received = {request.content for request in requests}
    sent = {ids[start : start + 60_000].astype("<u8").tobytes() for start in range(0, 250_000, 60_000)}
    assert received == sent
    assert {query(request)["timestamp"] for request in requests} == {str(WHEN.timestamp())}
    np.testing.assert_array_equal(roots, one_shot)
    assert roots.dtype == np.uint64


def test_get_roots_default_chunk_size_splits_a_larger_input_in_two(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any]
) -> None:
    server.route("POST", f"{BASE}/roots_binary", roots_binary_handler)
    count = _defaults.CHUNKEDGRAPH_ROOTS_CHUNK_SIZE + 50_000
    ids = np.arange(count, dtype=np.uint64) + np.uint64(2**63)
    roots = cg.get_roots(ids)
    assert len(server.all(f"{BASE}/roots_binary")) == 2
    np.testing.assert_array_equal(roots, roots_of(ids))


def test_get_roots_without_timestamp_sends_one_moment_for_all_chunks(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    server.route("POST", f"{BASE}/roots_binary", roots_binary_handler)
    monkeypatch.setattr(_defaults, "CHUNKEDGRAPH_ROOTS_CHUNK_SIZE", 10)
    before = datetime.now(UTC).timestamp()
    cg.get_roots(np.arange(95))
    stamps = {float(query(request)["timestamp"]) for request in server.all(f"{BASE}/roots_binary")}
    assert len(stamps) == 1
    assert before <= stamps.pop() <= datetime.now(UTC).timestamp()


def test_get_roots_uses_the_client_timestamps(
    server: FakeCAVEServer, client: CAVEclient, cg: ChunkedGraphClient[Any]
) -> None:
    server.route("POST", f"{BASE}/roots_binary", roots_binary_handler)
    cg.timestamp = datetime(2023, 1, 1, tzinfo=UTC)
    cg.get_roots([1])
    client._core.timestamp = WHEN
    cg.get_roots([1])
    stamps = [query(request)["timestamp"] for request in server.all(f"{BASE}/roots_binary")]
    assert stamps == [str(datetime(2023, 1, 1, tzinfo=UTC).timestamp()), str(WHEN.timestamp())]


def test_get_roots_refuses_bad_input_before_sending(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any]
) -> None:
    with pytest.raises(InvalidInputError, match="timestamp"):
        cg.get_roots([1, 2], timestamp=datetime(2024, 1, 1))  # naive
    with pytest.raises(InvalidInputError, match="supervoxel_ids"):
        cg.get_roots([1.5, 2.0])
    with pytest.raises(InvalidInputError, match="supervoxel_ids"):
        cg.get_roots([-1, 2])
    with pytest.raises(InvalidInputError, match="supervoxel_ids"):
        cg.get_roots([2**64])
    with pytest.raises(InvalidInputError, match="stop_layer"):
        cg.get_roots([1], stop_layer=0)
    assert server.requests == []


def test_get_roots_empty_input_sends_nothing(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any]
) -> None:
    roots = cg.get_roots([])
    assert roots.dtype == np.uint64
    assert roots.size == 0
    assert server.requests == []


def test_get_roots_answer_of_the_wrong_length(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any]
) -> None:
    server.route("POST", f"{BASE}/roots_binary", httpx.Response(200, content=b"\x00" * 8))
    with pytest.raises(UnexpectedResponseError, match="expected 2 ids"):
        cg.get_roots([1, 2])


def test_get_roots_retry_resends_the_whole_body(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any]
) -> None:
    calls: list[bytes] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request.content)
        if len(calls) == 1:
            return pcg_error(503, "busy")
        return roots_binary_handler(request)

    server.route("POST", f"{BASE}/roots_binary", flaky)
    ids = np.array([BIG, 1, 2], dtype=np.uint64)
    roots = cg.get_roots(ids, timestamp=WHEN)
    assert len(calls) == 2
    assert calls[0] == calls[1] == ids.astype("<u8").tobytes()
    np.testing.assert_array_equal(roots, roots_of(ids))


def test_get_roots_server_error(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    server.route("POST", f"{BASE}/roots_binary", pcg_error(400, "[400]: bad timestamp"))
    with pytest.raises(BadRequestError, match=r"bad timestamp"):
        cg.get_roots([1])


def test_get_roots_on_the_async_client_in_chunks(
    server: FakeCAVEServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.route("POST", f"{BASE}/roots_binary", roots_binary_handler)
    monkeypatch.setattr(_defaults, "CHUNKEDGRAPH_ROOTS_CHUNK_SIZE", 4)
    ids = np.arange(10, dtype=np.uint64) + np.uint64(BIG)

    async def run() -> np.ndarray:
        async with AsyncCAVEclient(
            "ds",
            server_address="https://global.test",
            auth_token="secret-token",
            info_cache={"ds": dict(RECORD)},
            transport=httpx.MockTransport(server),
        ) as cave:
            return await ChunkedGraphClient(cave._core).get_roots(ids, timestamp=WHEN)

    roots = asyncio.run(run())
    np.testing.assert_array_equal(roots, roots_of(ids))
    assert len(server.all(f"{BASE}/roots_binary")) == 3


# ---------------------------------------------------------------- single roots, descendants


def test_get_root_id(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    server.route("GET", f"{BASE}/node/{BIG}/root", {"root_id": ROOT})
    root = cg.get_root_id(BIG, timestamp=WHEN, level2=True)
    assert isinstance(root, np.int64)  # as caveclient 8.2.1 types it
    assert int(root) == ROOT
    assert query(server.only_request_to(f"{BASE}/node/{BIG}/root")) == {
        "timestamp": str(WHEN.timestamp()),
        "stop_layer": "2",
    }
    cg.get_root_id(BIG, timestamp=WHEN)
    assert "stop_layer" not in query(server.all(f"{BASE}/node/{BIG}/root")[1])
    # An id int64 cannot hold raises: it never wraps to a negative number.
    server.route("GET", f"{BASE}/node/{BIG}/root", {"root_id": HUGE})
    with pytest.raises(UnexpectedResponseError, match="does not fit in int64"):
        cg.get_root_id(BIG)


def test_get_leaves(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    server.route("GET", f"{BASE}/node/{BIG}/leaves", {"leaf_ids": [ROOT, 3]})
    leaves = cg.get_leaves(BIG, bounds=[[0, 10], [5, 20], [1, 3]], stop_layer=2)
    assert leaves.dtype == np.int64
    assert leaves.tolist() == [ROOT, 3]
    assert query(server.only_request_to(f"{BASE}/node/{BIG}/leaves")) == {
        "stop_layer": "2",
        "bounds": "0-10_5-20_1-3",
    }
    with pytest.raises(InvalidInputError, match="bounds"):
        cg.get_leaves(BIG, bounds=[[0, 10], [5, 20]])


def test_get_leaves_many_chunks_and_merges(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def leaves(request: httpx.Request) -> httpx.Response:
        roots = body(request)["node_ids"]
        return httpx.Response(200, json={str(root): [root + 1, ROOT] for root in roots})

    server.route("POST", f"{BASE}/node/leaves_many", leaves)
    monkeypatch.setattr(_defaults, "CHUNKEDGRAPH_LEAVES_CHUNK_SIZE", 2)
    roots = [ROOT, 10, 11, 10, 12, 13]
    result = cg.get_leaves_many(roots, bounds=[[0, 1], [0, 1], [0, 1]], stop_layer=2)

    requests = server.all(f"{BASE}/node/leaves_many")
    assert sorted(tuple(body(request)["node_ids"]) for request in requests) == sorted(
        [(ROOT, 10), (11, 12), (13,)]
    )
    assert all(query(r) == {"stop_layer": "2", "bounds": "0-1_0-1_0-1"} for r in requests)
    assert list(result) == [ROOT, 10, 11, 12, 13]
    assert all(isinstance(key, np.int64) for key in result)
    assert result[np.int64(ROOT)].dtype == np.int64
    assert result[np.int64(ROOT)].tolist() == [ROOT + 1, ROOT]


def test_get_leaves_many_sends_unique_roots_in_order(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any]
) -> None:
    server.route("POST", f"{BASE}/node/leaves_many", {"3": [1], "1": [2]})
    result = cg.get_leaves_many([3, 1, 3])
    assert body(server.only_request_to(f"{BASE}/node/leaves_many")) == {"node_ids": [3, 1]}
    assert query(server.only_request_to(f"{BASE}/node/leaves_many")) == {}
    assert list(result) == [3, 1]


def test_get_children(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    server.route("GET", f"{BASE}/node/{HUGE}/children", {"children_ids": [ROOT, 1]})
    children = cg.get_children(HUGE)
    assert children.dtype == np.int64
    assert children.tolist() == [ROOT, 1]
    server.only_request_to(f"{BASE}/node/{HUGE}/children")


def test_get_minimal_covering_nodes(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    answer = np.array([BIG, 4], dtype="<u8").tobytes()
    server.route("POST", f"{BASE}/minimal_covering_nodes", httpx.Response(200, content=answer))
    nodes = cg.get_minimal_covering_nodes([BIG, 5, 6])
    request = server.only_request_to(f"{BASE}/minimal_covering_nodes")
    assert body(request) == {"node_ids": [BIG, 5, 6]}
    assert query(request) == {"as_array": "True"}
    assert nodes.tolist() == [BIG, 4]
    assert nodes.dtype == np.uint64


def test_get_minimal_covering_nodes_checks_the_status(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any]
) -> None:
    server.route("POST", f"{BASE}/minimal_covering_nodes", pcg_error(500, "lock failed"))
    with pytest.raises(ServerError, match="lock failed"):
        cg.get_minimal_covering_nodes([1])


# ---------------------------------------------------------------- bulk id checks


def test_is_latest_roots_in_chunks(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def latest(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"is_latest": [i % 2 == 0 for i in body(request)["node_ids"]]})

    server.route("POST", f"{BASE}/is_latest_roots", latest)
    monkeypatch.setattr(_defaults, "CHUNKEDGRAPH_ID_CHUNK_SIZE", 3)
    ids = [BIG + 1, 2, 3, 4, 5, 6, 7]
    flags = cg.is_latest_roots(ids, timestamp=WHEN)
    assert flags.dtype == bool
    assert flags.tolist() == [i % 2 == 0 for i in ids]
    requests = server.all(f"{BASE}/is_latest_roots")
    assert len(requests) == 3
    assert sorted(len(body(r)["node_ids"]) for r in requests) == [1, 3, 3]
    assert {query(r)["timestamp"] for r in requests} == {str(WHEN.timestamp())}
    assert sorted(i for r in requests for i in body(r)["node_ids"]) == sorted(ids)


def test_is_latest_roots_wrong_answer_length(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any]
) -> None:
    server.route("POST", f"{BASE}/is_latest_roots", {"is_latest": [True]})
    with pytest.raises(UnexpectedResponseError):
        cg.is_latest_roots([1, 2])


def test_get_root_timestamps(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def stamps(request: httpx.Request) -> httpx.Response:
        ids = body(request)["node_ids"]
        return httpx.Response(200, json={"timestamp": [1_700_000_000.5 + (i % 100) for i in ids]})

    server.route("POST", f"{BASE}/root_timestamps", stamps)
    monkeypatch.setattr(_defaults, "CHUNKEDGRAPH_ID_CHUNK_SIZE", 2)
    moments = cg.get_root_timestamps([BIG, 1, 2], timestamp=WHEN)
    expected = [datetime.fromtimestamp(1_700_000_000.5 + (i % 100), UTC) for i in [BIG, 1, 2]]
    assert moments.tolist() == expected
    assert all(moment.tzinfo is UTC for moment in moments)
    requests = server.all(f"{BASE}/root_timestamps")
    assert len(requests) == 2
    assert all(query(r) == {"latest": "False", "timestamp": str(WHEN.timestamp())} for r in requests)

    latest = cg.get_root_timestamps([1], latest=True, timestamp=WHEN)
    assert latest[0] == datetime.fromtimestamp(1_700_000_001.5, UTC) - timedelta(milliseconds=1)
    assert query(server.all(f"{BASE}/root_timestamps")[-1])["latest"] == "True"


def test_is_valid_nodes(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def valid(request: httpx.Request) -> httpx.Response:
        ids = body(request)["node_ids"]
        return httpx.Response(200, json={"valid_roots": [i for i in reversed(ids) if i != 7]})

    server.route("GET", f"{BASE}/valid_nodes", valid)
    monkeypatch.setattr(_defaults, "CHUNKEDGRAPH_ID_CHUNK_SIZE", 2)
    flags = cg.is_valid_nodes([5, 0, -3, 7, 9], end_timestamp=WHEN)
    assert flags.tolist() == [True, False, False, False, True]
    requests = server.all(f"{BASE}/valid_nodes")
    assert sorted(i for r in requests for i in body(r)["node_ids"]) == [5, 7, 9]
    assert all(r.method == "GET" for r in requests)
    assert {tuple(sorted(query(r).items())) for r in requests} == {
        (
            ("end_timestamp", str(WHEN.timestamp())),
            ("start_timestamp", str(datetime(2000, 1, 1, tzinfo=UTC).timestamp())),
        )
    }


def test_is_valid_nodes_above_int64_and_without_end(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any]
) -> None:
    server.route("GET", f"{BASE}/valid_nodes", {"valid_roots": [BIG]})
    assert cg.is_valid_nodes([BIG, HUGE]).tolist() == [True, False]
    assert "end_timestamp" not in query(server.only_request_to(f"{BASE}/valid_nodes"))
    server.requests.clear()
    assert cg.is_valid_nodes([0, -1]).tolist() == [False, False]
    assert cg.is_valid_nodes(-5).tolist() == [False]
    assert server.requests == []
    with pytest.raises(InvalidInputError, match="node_ids"):
        cg.is_valid_nodes([1.5])


# ---------------------------------------------------------------- edits


def test_do_merge(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    server.route("POST", f"{BASE}/merge", {"operation_id": 42, "new_root_ids": [BIG]})
    result = cg.do_merge([BIG, 2**53 + 1], [[10, 20, 30], [11, 21, 31]], resolution=(4, 4, 40))
    request = server.only_request_to(f"{BASE}/merge")
    assert query(request) == {"priority": "False"}
    sent = body(request)
    assert sent == [[BIG, 40.0, 80.0, 1200.0], [2**53 + 1, 44.0, 84.0, 1240.0]]
    assert isinstance(sent[0][0], int)  # exact, not a float
    assert result["operation_id"] == 42
    assert result["new_root_ids"] == [BIG]  # caveclient's list of int
    assert type(result["new_root_ids"][0]) is int


def test_do_merge_refuses_bad_input_and_is_not_replayed(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any]
) -> None:
    with pytest.raises(InvalidInputError, match="supervoxels"):
        cg.do_merge([1, 2, 3], [[1, 2, 3]] * 3)
    with pytest.raises(InvalidInputError, match="coords"):
        cg.do_merge([1, 2], [[1, 2], [3, 4]])
    with pytest.raises(InvalidInputError, match="resolution"):
        cg.do_merge([1, 2], [[1, 2, 3], [3, 4, 5]], resolution=(4, 4))
    assert server.requests == []
    server.route("POST", f"{BASE}/merge", pcg_error(503, "unavailable"))
    with pytest.raises(ServerError):
        cg.do_merge([1, 2], [[1, 2, 3], [3, 4, 5]])
    assert len(server.all(f"{BASE}/merge")) == 1  # a write is never replayed on 503


def test_undo_operation(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    server.route("POST", f"{BASE}/undo", {"operation_id": 43, "new_root_ids": [HUGE, 5]})
    result = cg.undo_operation(42)
    request = server.only_request_to(f"{BASE}/undo")
    assert body(request) == {"operation_id": 42}
    assert query(request) == {"priority": "False"}
    assert result["new_root_ids"] == [HUGE, 5]


def test_execute_split(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    server.route("POST", f"{BASE}/split", {"operation_id": 7, "new_root_ids": [BIG, 9]})
    operation, roots = cg.execute_split(
        [[1, 2, 3], [4, 5, 6]], [[7, 8, 9]], BIG, source_supervoxels=[None, 11]
    )
    request = server.only_request_to(f"{BASE}/split")
    assert body(request) == {
        "sources": [[BIG, 1.0, 2.0, 3.0], [11, 4.0, 5.0, 6.0]],
        "sinks": [[BIG, 7.0, 8.0, 9.0]],
    }
    assert query(request)["priority"] == "False"
    assert operation == 7
    assert roots == [BIG, 9]
    assert all(type(root) is int for root in roots)
    with pytest.raises(InvalidInputError, match="sink_supervoxels"):
        cg.execute_split([[1, 2, 3]], [[1, 2, 3]], 5, sink_supervoxels=[1, 2])


def test_preview_split(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    server.route(
        "POST",
        f"{BASE}/graph/split_preview",
        {"supervoxel_connected_components": [[BIG, 1], [2], [3, 4]], "illegal_split": False},
    )
    source, sink, success = cg.preview_split([[1, 2, 3]], [[4, 5, 6]], 99)
    request = server.only_request_to(f"{BASE}/graph/split_preview")
    assert body(request) == {"sources": [[99, 1.0, 2.0, 3.0]], "sinks": [[99, 4.0, 5.0, 6.0]]}
    assert query(request) == {}
    assert source == [BIG, 1]
    assert sink == [2]
    assert success is True
    *_, others = cg.preview_split([[1, 2, 3]], [[4, 5, 6]], 99, return_additional_ccs=True)
    assert others == [[3, 4]]


def test_remesh_level2_chunks(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    path = f"/meshing/api/v1/table/{TABLE}/remeshing"
    server.route("POST", path, httpx.Response(202, content=b""))
    assert cg.remesh_level2_chunks([BIG, 5]) is None
    request = server.only_request_to(path)
    assert body(request) == {"new_lvl2_ids": [BIG, 5]}
    assert query(request) == {}


def test_remesh_level2_chunks_uses_the_error_handler(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any]
) -> None:
    server.route("POST", f"/meshing/api/v1/table/{TABLE}/remeshing", pcg_error(403, "no edit"))
    with pytest.raises(PermissionDeniedError, match="no edit"):
        cg.remesh_level2_chunks([1])


# ---------------------------------------------------------------- history


def test_get_merge_log(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    log = {"merge_edges": [[[BIG, 2]]], "merge_edge_coords": [[[[1, 2, 3]], [[4, 5, 6]]]]}
    server.route("GET", f"{BASE}/root/{BIG}/merge_log", log)
    assert cg.get_merge_log(BIG) == log


def test_get_change_log(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    summary = {
        "n_splits": 1,
        "n_mergers": 2,
        "user_info": {"12": {"n_splits": 1, "n_mergers": 2}},
        "operations_ids": [5, 6, 7],
        "past_ids": [BIG],
    }
    server.route("GET", f"{BASE}/root/{BIG}/change_log", summary)
    assert cg.get_change_log(BIG) == summary
    assert query(server.only_request_to(f"{BASE}/root/{BIG}/change_log")) == {"filtered": "True"}
    cg.get_change_log(BIG, filtered=False)
    assert query(server.all(f"{BASE}/root/{BIG}/change_log")[1]) == {"filtered": "False"}


def test_get_tabular_change_log(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    frame = {
        "operation_id": {"0": 5, "1": 9},
        "timestamp": {"0": 1_700_000_000_123, "1": 1_700_000_100_000},
        "user_id": {"0": "12", "1": "13"},
        "before_root_ids": {"0": [1, 2], "1": [BIG]},
        "after_root_ids": {"0": [BIG], "1": [HUGE]},
        "is_merge": {"0": True, "1": False},
        "user_name": {"0": "ann", "1": "bob"},
    }
    server.route("GET", f"{BASE}/tabular_change_log_many", {str(BIG): json.dumps(frame)})
    logs = cg.get_tabular_change_log([BIG, BIG])
    request = server.only_request_to(f"{BASE}/tabular_change_log_many")
    assert request.method == "GET"
    assert body(request) == {"root_ids": [BIG]}
    assert query(request) == {"filtered": "True"}
    table = logs[BIG]
    # As caveclient 8.2.1 builds it: the server's labels, epoch milliseconds, lists of ints.
    assert list(table.columns) == list(frame)
    assert table.index.tolist() == ["0", "1"]
    assert table["operation_id"].tolist() == [5, 9]
    assert table["timestamp"].dtype == np.int64
    assert table["timestamp"].tolist() == [1_700_000_000_123, 1_700_000_100_000]
    assert table["after_root_ids"].iloc[1] == [HUGE]
    assert isinstance(table["before_root_ids"].iloc[0], list)
    assert table["is_merge"].dtype == bool


def test_get_user_operations(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    frame = {
        "operation_id": {"1": 8, "0": 7},
        "timestamp": {"0": 1_700_000_000_000, "1": 1_700_000_001_000},
    }
    server.route("GET", f"{BASE}/user_operations", frame)
    start = datetime(2023, 1, 1, tzinfo=UTC)
    operations = cg.get_user_operations(12, start, include_undo=False, timestamp_end=WHEN)
    assert query(server.only_request_to(f"{BASE}/user_operations")) == {
        "user_id": "12",
        "start_time": str(start.timestamp()),
        "end_time": str(WHEN.timestamp()),
        "include_undone": "False",
    }
    assert operations["operation_id"].tolist() == [7, 8]
    assert operations["timestamp"].tolist() == [
        pd.Timestamp(1_700_000_000, unit="s", tz="UTC"),
        pd.Timestamp(1_700_000_001, unit="s", tz="UTC"),
    ]


def test_get_user_operations_defaults_and_empty(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any]
) -> None:
    server.route("GET", f"{BASE}/user_operations", {"operation_id": {}, "timestamp": {}})
    cg.timestamp = WHEN
    operations = cg.get_user_operations(3, None)
    assert query(server.only_request_to(f"{BASE}/user_operations")) == {
        "user_id": "3",
        "end_time": str(WHEN.timestamp()),
        "include_undone": "True",
    }
    assert operations.empty
    assert list(operations.columns) == ["operation_id", "timestamp"]
    assert str(operations["timestamp"].dtype).endswith("UTC]")
    with pytest.raises(InvalidInputError, match="timestamp_start"):
        cg.get_user_operations(1, datetime(2023, 1, 1))


def test_get_user_operations_of_no_user_is_refused(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any]
) -> None:
    """PyChunkedGraph matches nothing without a user id: 0 would look like "no operations"."""
    with pytest.raises(InvalidInputError) as raised:
        cg.get_user_operations(0, None, timestamp_end=WHEN)
    assert raised.value.parameter == "user_id"
    assert "matches no operation" in str(raised.value)
    assert server.requests == []


def test_get_operation_details(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    details = {"1": {"timestamp": "2023-01-02 03:04:05.678000+00:00", "user": "12", "roots": [BIG]}}
    server.route("GET", f"{BASE}/operation_details", details)
    assert cg.get_operation_details(np.array([1, 2])) == details
    request = server.only_request_to(f"{BASE}/operation_details")
    assert query(request) == {"operation_ids": "[1, 2]"}
    assert str(request.url).endswith("?operation_ids=%5B1%2C+2%5D")  # as caveclient sends it


def test_get_past_ids(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    server.route(
        "GET",
        f"{BASE}/past_id_mapping",
        {"past_id_map": {str(BIG): [1, HUGE]}, "future_id_map": {"1": BIG}},
    )
    mapping = cg.get_past_ids([BIG], timestamp_past=WHEN)
    request = server.only_request_to(f"{BASE}/past_id_mapping")
    assert request.method == "GET"
    assert body(request) == {"root_ids": [BIG]}
    assert query(request) == {"timestamp_past": str(WHEN.timestamp())}
    assert mapping["past_id_map"][BIG] == [1, HUGE]  # lists of ints, as caveclient
    assert mapping["future_id_map"] == {1: BIG}


def test_get_delta_roots(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    server.route("GET", f"{BASE}/delta_roots", {"old_roots": [ROOT], "new_roots": [ROOT + 1, 3]})
    past = datetime(2023, 1, 1, tzinfo=UTC)
    old, new = cg.get_delta_roots(past, WHEN)
    assert query(server.only_request_to(f"{BASE}/delta_roots")) == {
        "timestamp_past": str(past.timestamp()),
        "timestamp_future": str(WHEN.timestamp()),
    }
    assert old.tolist() == [ROOT]
    assert new.tolist() == [ROOT + 1, 3]
    assert new.dtype == np.int64
    with pytest.raises(InvalidInputError, match="timestamp_past"):
        cg.get_delta_roots(datetime(2023, 1, 1))


def test_get_oldest_timestamp(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    server.route("GET", f"{BASE}/oldest_timestamp", {"iso": "2020-06-01 12:00:00.123456+00:00"})
    oldest = cg.get_oldest_timestamp()
    assert oldest == datetime(2020, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert oldest.tzinfo is UTC
    assert query(server.only_request_to(f"{BASE}/oldest_timestamp")) == {}


# ---------------------------------------------------------------- lineage


def lineage(nodes: list[tuple[int, float]], links: list[tuple[int, int]]) -> dict[str, Any]:
    return {
        "directed": True,
        "multigraph": False,
        "graph": {},
        "nodes": [{"id": node, "timestamp": stamp, "operation_id": 1} for node, stamp in nodes],
        "links": [{"source": source, "target": target} for source, target in links],
    }


T0 = WHEN.timestamp()


def test_get_lineage_graph_sends_timestamp_future(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any]
) -> None:
    graph = lineage([(1, T0 - 100), (BIG, T0 - 50)], [(1, BIG)])
    server.route("POST", f"{BASE}/lineage_graph_multiple", graph)
    cg.timestamp = WHEN
    assert cg.get_lineage_graph(BIG) == graph
    request = server.only_request_to(f"{BASE}/lineage_graph_multiple")
    assert body(request) == {"root_ids": [BIG]}
    assert query(request) == {"timestamp_future": str(T0)}  # no stray `name=` parameter


def test_get_lineage_graph_prunes_links_beyond_the_times(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any]
) -> None:
    graph = lineage([(1, T0 - 300), (2, T0 - 100), (3, T0 + 100)], [(1, 2), (2, 3)])
    server.route("POST", f"{BASE}/lineage_graph_multiple", graph)
    past = WHEN - timedelta(seconds=200)
    kept = cg.get_lineage_graph(
        [2], past, WHEN, exclude_links_to_future=True, exclude_links_to_past=True
    )
    assert [node["id"] for node in kept["nodes"]] == [2]
    assert kept["links"] == []
    assert query(server.only_request_to(f"{BASE}/lineage_graph_multiple")) == {
        "timestamp_past": str(past.timestamp()),
        "timestamp_future": str(T0),
    }
    assert cg.get_lineage_graph([2], past, WHEN) == graph


def test_get_lineage_graph_as_networkx_needs_networkx(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = lineage([(1, T0)], [])
    server.route("POST", f"{BASE}/lineage_graph_multiple", graph)
    monkeypatch.setitem(sys.modules, "networkx", None)
    with pytest.raises(ImportError, match="pip install networkx"):
        cg.get_lineage_graph(1, as_nx_graph=True)

    received: list[tuple[Any, Any]] = []
    fake = types.ModuleType("networkx")
    fake.node_link_graph = lambda data, edges=None: received.append((data, edges)) or "DiGraph"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "networkx", fake)
    assert cg.get_lineage_graph(1, as_nx_graph=True) == "DiGraph"
    assert received == [(graph, "links")]


def test_get_latest_roots_verifies_the_leaves(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any]
) -> None:
    # 1 was split into 2 and 3; 3 was edited into BIG. The server never linked 2 forward (a leaf
    # that is not current): it is replaced by the roots its supervoxels have now.
    graph = lineage(
        [(1, T0 - 300), (2, T0 - 200), (3, T0 - 200), (ROOT, T0 - 100)],
        [(1, 2), (1, 3), (3, ROOT)],
    )
    server.route("POST", f"{BASE}/root_timestamps", {"timestamp": [T0 - 300]})
    server.route("POST", f"{BASE}/lineage_graph_multiple", graph)
    current = {ROOT: True, 2: False, ROOT + 7: True}
    server.route(
        "POST",
        f"{BASE}/is_latest_roots",
        lambda request: httpx.Response(
            200, json={"is_latest": [current[i] for i in body(request)["node_ids"]]}
        ),
    )
    server.route("GET", f"{BASE}/node/2/leaves", {"leaf_ids": [21, 22]})
    server.route(
        "POST",
        f"{BASE}/roots_binary",
        httpx.Response(200, content=np.array([ROOT + 7, 0], dtype="<u8").tobytes()),
    )

    latest = cg.get_latest_roots(1, timestamp=WHEN)

    assert latest.dtype == np.int64
    assert latest.tolist() == [ROOT, ROOT + 7]
    assert query(server.only_request_to(f"{BASE}/lineage_graph_multiple")) == {
        "timestamp_past": str(T0 - 300),
        "timestamp_future": str(T0),
    }
    assert body(server.all(f"{BASE}/is_latest_roots")[0]) == {"node_ids": [2, ROOT]}
    assert server.only_request_to(f"{BASE}/roots_binary").content == np.array([21, 22], "<u8").tobytes()


def test_get_latest_roots_deprecated_timestamp_future(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any]
) -> None:
    server.route("POST", f"{BASE}/root_timestamps", {"timestamp": [T0 - 10]})
    server.route("POST", f"{BASE}/lineage_graph_multiple", lineage([(5, T0 - 10)], []))
    server.route("POST", f"{BASE}/is_latest_roots", {"is_latest": [True]})
    with pytest.warns(DeprecationWarning, match="timestamp_future"):
        assert cg.get_latest_roots(5, timestamp_future=WHEN).tolist() == [5]
    with pytest.raises(InvalidInputError):
        cg.get_latest_roots(5, timestamp=WHEN, timestamp_future=WHEN)


def test_get_latest_roots_in_the_past_takes_ancestors(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any]
) -> None:
    graph = lineage([(1, T0 - 300), (2, T0 - 250), (BIG, T0 + 100)], [(1, BIG), (2, BIG)])
    server.route("POST", f"{BASE}/root_timestamps", {"timestamp": [T0 + 100]})
    server.route("POST", f"{BASE}/lineage_graph_multiple", graph)
    server.route("POST", f"{BASE}/is_latest_roots", {"is_latest": [True, True]})
    assert cg.get_latest_roots(BIG, timestamp=WHEN).tolist() == [1, 2]
    assert query(server.only_request_to(f"{BASE}/lineage_graph_multiple")) == {
        "timestamp_past": str(T0),
        "timestamp_future": str(T0 + 100),
    }


def test_get_original_roots(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    graph = lineage([(1, T0 - 300), (2, T0 - 250), (BIG, T0)], [(1, BIG), (2, BIG)])
    server.route("POST", f"{BASE}/root_timestamps", {"timestamp": [T0]})
    server.route("POST", f"{BASE}/lineage_graph_multiple", graph)
    originals = cg.get_original_roots(BIG)
    assert originals.tolist() == [1, 2]
    assert query(server.only_request_to(f"{BASE}/lineage_graph_multiple")) == {
        "timestamp_future": str(T0)
    }


def test_suggest_latest_roots(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    server.route(
        "GET",
        f"/segmentation/table/{TABLE}/info",
        {
            "type": "segmentation",
            "data_type": "uint64",
            "num_channels": 1,
            "scales": [{"resolution": [8, 8, 40]}],
            "chunks_start_at_voxel_offset": True,
            "data_dir": "gs://b",
            "graph": {
                "chunk_size": [1, 1, 1],
                "bounding_box": [1, 1, 1],
                "n_bits_for_layer_id": 8,
                "cv_mip": 0,
                "n_layers": 7,
                "spatial_bit_masks": {},
            },
            "app": {"supported_api_versions": [1]},
            "sharded_mesh": True,
            "verify_mesh": False,
        },
    )
    server.route("GET", f"{BASE}/node/{BIG}/leaves", {"leaf_ids": [11, 12, 13, 14]})
    server.route(
        "POST",
        f"{BASE}/roots_binary",
        httpx.Response(200, content=np.array([HUGE, 5, HUGE, HUGE], "<u8").tobytes()),
    )
    assert cg.suggest_latest_roots(BIG, timestamp=WHEN) == HUGE
    assert query(server.only_request_to(f"{BASE}/node/{BIG}/leaves")) == {"stop_layer": "3"}
    roots, fractions = cg.suggest_latest_roots(
        BIG, timestamp=WHEN, stop_layer=2, return_all=True, return_fraction_overlap=True
    )
    assert roots.tolist() == [HUGE, 5]
    assert fractions.tolist() == [0.75, 0.25]


# ---------------------------------------------------------------- graph structure


def test_get_contact_sites(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    server.route(
        "GET", f"{BASE}/node/{BIG}/contact_sites", {"contact_sites": HUGE, "contact_site_metadata": 5}
    )
    sites = cg.get_contact_sites(BIG, [[0, 10], [0, 10], [0, 10]])
    assert sites == {"contact_sites": HUGE, "contact_site_metadata": 5}
    assert query(server.only_request_to(f"{BASE}/node/{BIG}/contact_sites")) == {
        "partners": "False",
        "bounds": "0-10_0-10_0-10",
    }


def test_find_path(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    server.route(
        "POST",
        f"{BASE}/graph/find_path",
        {"centroids_list": [[1, 2, 3], [4, 5, 6]], "failed_l2_ids": [HUGE], "l2_path": [ROOT, 3]},
    )
    centroids, path, failed = cg.find_path(BIG, np.array([1, 2, 3]), np.array([4.5, 5, 6]))
    request = server.only_request_to(f"{BASE}/graph/find_path")
    assert body(request) == [[BIG, 1.0, 2.0, 3.0], [BIG, 4.5, 5.0, 6.0]]
    assert query(request) == {"precision_mode": "False"}
    assert centroids.shape == (2, 3)
    assert path.tolist() == [ROOT, 3]
    assert failed.tolist() == [HUGE]
    assert path.dtype == np.int64  # as caveclient 8.2.1 types them
    assert failed.dtype == np.uint64
    with pytest.raises(InvalidInputError, match="src_pt"):
        cg.find_path(BIG, [1, 2], [1, 2, 3])


def test_get_subgraph(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    server.route(
        "GET",
        f"{BASE}/node/{BIG}/subgraph",
        {"nodes": [[1, ROOT], [2, 3]], "affinities": [0.5, 0.25], "areas": [10, 2_000_000_000]},
    )
    edges, affinities, areas = cg.get_subgraph(BIG, [[0, 1], [0, 1], [0, 1]])
    # Typed as caveclient 8.2.1 types them.
    assert edges.shape == (2, 2)
    assert edges.dtype == np.int64
    assert edges[0].tolist() == [1, ROOT]
    assert affinities.tolist() == [0.5, 0.25]
    assert areas.dtype == np.int32
    assert areas.tolist() == [10, 2_000_000_000]
    assert query(server.only_request_to(f"{BASE}/node/{BIG}/subgraph")) == {
        "bounds": "0-1_0-1_0-1",
    }
    # Values int32 cannot hold raise instead of wrapping.
    server.route(
        "GET",
        f"{BASE}/node/{BIG}/subgraph",
        {"nodes": [[1, 2]], "affinities": [0.5], "areas": [3_000_000_000]},
    )
    with pytest.raises(UnexpectedResponseError, match="int32"):
        cg.get_subgraph(BIG, [[0, 1], [0, 1], [0, 1]])


def test_level2_chunk_graph(server: FakeCAVEServer, cg: ChunkedGraphClient[Any]) -> None:
    path = f"{BASE}/node/{BIG}/lvl2_graph"
    server.route(
        "GET",
        path,
        httpx.Response(200, json={"edge_graph": [[BIG, HUGE]]}, headers={"Used-Bounds": "True"}),
    )
    edges = cg.level2_chunk_graph(BIG, bounds=[[0, 1], [0, 1], [0, 1]])
    assert edges == [[BIG, HUGE]]  # a list of [id, id] lists, as caveclient
    assert query(server.only_request_to(path)) == {"bounds": "0-1_0-1_0-1"}

    server.route(
        "GET", path, httpx.Response(200, json={"edge_graph": []}, headers={"Used-Bounds": "False"})
    )
    assert cg.level2_chunk_graph(BIG) == []
    with pytest.raises(ServerIncompatibilityError, match=r"2\.15\.0"):
        cg.level2_chunk_graph(BIG, bounds=[[0, 1], [0, 1], [0, 1]])


@pytest.mark.parametrize(
    ("version", "refused"),
    [("2.14.9", True), ("2.15.0", False), ("3.1.0", False)],
)
def test_bounds_are_refused_before_any_request_by_a_server_too_old_for_them(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any], version: str, refused: bool
) -> None:
    path = f"{BASE}/node/{BIG}/lvl2_graph"
    server.route("GET", "/segmentation/api/version", version)
    server.route(
        "GET", path, httpx.Response(200, json={"edge_graph": []}, headers={"Used-Bounds": "True"})
    )
    if refused:
        with pytest.raises(ServerIncompatibilityError, match=rf"2\.15\.0 or later.*{version}"):
            cg.level2_chunk_graph(BIG, bounds=[[0, 1], [0, 1], [0, 1]])
        assert server.all(path) == []
        assert cg.level2_chunk_graph(BIG) == []  # without bounds the old server is fine
    else:
        assert cg.level2_chunk_graph(BIG, bounds=[[0, 1], [0, 1], [0, 1]]) == []
    assert len(server.all("/segmentation/api/version")) == 1  # asked once, then kept


@pytest.mark.parametrize(
    ("version", "refused"),
    [("2.17.3", True), ("2.18.0", False), ("3.0.4", True), ("3.0.5", False), (None, False)],
)
def test_minimal_covering_nodes_needs_a_server_that_has_the_route(
    server: FakeCAVEServer, cg: ChunkedGraphClient[Any], version: str | None, refused: bool
) -> None:
    if version is not None:  # else the version route is missing (404): the answer decides
        server.route("GET", "/segmentation/api/version", version)
    path = f"{BASE}/minimal_covering_nodes"
    server.route("POST", path, httpx.Response(200, content=np.array([7], np.uint64).tobytes()))
    if refused:
        with pytest.raises(ServerIncompatibilityError, match="get_minimal_covering_nodes"):
            cg.get_minimal_covering_nodes([5])
        assert server.all(path) == []
    else:
        assert cg.get_minimal_covering_nodes([5]).tolist() == [7]


# ---------------------------------------------------------------- every method is here


def test_every_caveclient_method_exists() -> None:
    methods = {
        "get_roots", "get_root_id", "get_minimal_covering_nodes", "get_merge_log",
        "get_change_log", "get_user_operations", "get_tabular_change_log", "get_leaves_many",
        "get_leaves", "do_merge", "undo_operation", "execute_split", "preview_split",
        "get_children", "get_contact_sites", "find_path", "get_subgraph", "level2_chunk_graph",
        "remesh_level2_chunks", "get_operation_details", "get_lineage_graph", "get_latest_roots",
        "get_original_roots", "is_latest_roots", "suggest_latest_roots", "is_valid_nodes",
        "get_root_timestamps", "get_past_ids", "get_delta_roots", "get_oldest_timestamp",
    }  # fmt: skip
    assert len(methods) == 30
    assert all(isinstance(getattr(ChunkedGraphClient, name), api_method) for name in methods)
    properties = {"table_name", "timestamp", "segmentation_info", "base_resolution", "cloudvolume_path"}
    assert all(hasattr(ChunkedGraphClient, name) for name in properties)
