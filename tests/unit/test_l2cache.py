"""client.l2cache against a mock transport: exact requests, chunked fetches, NaN-filled tables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from caveclient_gen import CAVEclient, InvalidInputError, ServerError, _defaults
from caveclient_gen._http.plan import api_method
from caveclient_gen.services.l2cache import L2CacheClient

from .fake_cave import FakeCAVEServer, Handler, client_served_by

LOCAL = "https://local.test"
TABLE = "minnie3_v1"
ATTRIBUTES = f"/l2cache/api/v1/table/{TABLE}/attributes"
METADATA = "/l2cache/api/v1/attribute_metadata"
MAPPING = "/l2cache/api/v1/table_mapping"
RECORD = {
    "local_server": LOCAL,
    "segmentation_source": f"graphene://{LOCAL}/segmentation/table/{TABLE}",
    "aligned_volume": {"id": 1, "name": "minnie65"},
}
FLAT = {
    "local_server": LOCAL,
    "segmentation_source": "precomputed://gs://bucket/seg",
    "aligned_volume": {"id": 1, "name": "minnie65"},
}
BIG = 2**63 + 99
FULL = {
    "area_nm2": 120,
    "chunk_intersect_count": [[1, 2, 3], [4, 5, 6]],
    "max_dt_nm": 40,
    "mean_dt_nm": 12.5,
    "pca": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
    "pca_val": [3.0, 2.0, 1.0],
    "rep_coord_nm": [100, 200, 300],
    "size_nm3": 5000,
}


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def attributes_handler(data: dict[int, dict[str, Any]]) -> Handler:
    """Answers like the server: every requested id, {} for those not in the cache."""

    def answer(request: httpx.Request) -> httpx.Response:
        ids = body(request)["l2_ids"]
        return httpx.Response(200, json={str(i): data.get(i, {}) for i in ids})

    return answer


@pytest.fixture
def server() -> FakeCAVEServer:
    return FakeCAVEServer()


@pytest.fixture
def client(server: FakeCAVEServer) -> Iterator[CAVEclient]:
    with client_served_by(server, info_cache={"ds": dict(RECORD), "flat": dict(FLAT)}) as cave:
        yield cave


@pytest.fixture
def l2(client: CAVEclient) -> L2CacheClient[Any]:
    return L2CacheClient(client._core)


def test_construction_makes_no_request(server: FakeCAVEServer, client: CAVEclient) -> None:
    L2CacheClient(client._core)
    assert server.requests == []


def test_every_caveclient_method_exists() -> None:
    methods = {"get_l2data", "get_l2data_table", "cache_metadata", "table_mapping", "has_cache"}
    assert all(isinstance(getattr(L2CacheClient, name), api_method) for name in methods)
    assert hasattr(L2CacheClient, "attributes")


def test_get_l2data_request_and_result(server: FakeCAVEServer, l2: L2CacheClient[Any]) -> None:
    server.route("POST", ATTRIBUTES, attributes_handler({BIG: FULL}))
    data = l2.get_l2data([BIG, 7, BIG], attributes=["size_nm3", "rep_coord_nm"])
    (request,) = server.all(ATTRIBUTES)
    assert body(request) == {"l2_ids": [BIG, 7]}  # exact above 2^63, duplicates once
    assert request.headers["content-type"] == "application/json"
    assert dict(request.url.params) == {
        "attribute_names": "size_nm3,rep_coord_nm",
        "int64_as_str": "False",
        "update_cache": "True",
    }
    assert data == {str(BIG): FULL, "7": {}}


def test_get_l2data_in_chunks(
    server: FakeCAVEServer, l2: L2CacheClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    server.route("POST", ATTRIBUTES, attributes_handler({i: {"size_nm3": i} for i in range(50)}))
    monkeypatch.setattr(_defaults, "L2CACHE_CHUNK_SIZE", 7)
    data = l2.get_l2data(np.arange(50, dtype=np.uint64))
    requests = server.all(ATTRIBUTES)
    assert len(requests) == 8
    assert sorted(i for r in requests for i in body(r)["l2_ids"]) == list(range(50))
    assert "attribute_names" not in dict(requests[0].url.params)
    assert data == {str(i): {"size_nm3": i} for i in range(50)}


def test_get_l2data_refuses_bad_input(server: FakeCAVEServer, l2: L2CacheClient[Any]) -> None:
    with pytest.raises(InvalidInputError, match="attributes"):
        l2.get_l2data([1], attributes="size_nm3")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="attributes"):
        l2.get_l2data([1], attributes=["a,b"])
    with pytest.raises(InvalidInputError, match="l2_ids"):
        l2.get_l2data([1.5])
    assert l2.get_l2data([]) == {}
    assert server.requests == []


def test_get_l2data_server_error(server: FakeCAVEServer, l2: L2CacheClient[Any]) -> None:
    server.route(
        "POST",
        ATTRIBUTES,
        httpx.Response(
            500,
            json={"timestamp": "t", "duration": 1, "code": 500, "message": "unknown attribute foo"},
        ),
    )
    with pytest.raises(ServerError, match="unknown attribute foo"):
        l2.get_l2data([1], attributes=["foo"])


def test_get_l2data_table_fills_missing_rows_with_nan(
    server: FakeCAVEServer, l2: L2CacheClient[Any]
) -> None:
    partial = {"size_nm3": 10, "rep_coord_nm": [1, 2, 3]}  # no pca: left out by the server
    server.route("POST", ATTRIBUTES, attributes_handler({BIG: FULL, 5: partial}))
    table = l2.get_l2data_table([5, BIG, 6])

    assert table.index.name == "l2_id"
    assert table.index.dtype == np.uint64
    assert table.index.tolist() == [5, BIG, 6]
    assert list(table.columns) == [
        "size_nm3",
        "area_nm2",
        "max_dt_nm",
        "mean_dt_nm",
        "rep_coord_nm_x",
        "rep_coord_nm_y",
        "rep_coord_nm_z",
        "pca_0_x",
        "pca_0_y",
        "pca_0_z",
        "pca_1_x",
        "pca_1_y",
        "pca_1_z",
        "pca_2_x",
        "pca_2_y",
        "pca_2_z",
        "pca_val_0",
        "pca_val_1",
        "pca_val_2",
        "chunk_intersect_count_x_bottom",
        "chunk_intersect_count_y_bottom",
        "chunk_intersect_count_z_bottom",
        "chunk_intersect_count_x_top",
        "chunk_intersect_count_y_top",
        "chunk_intersect_count_z_top",
    ]
    assert table.loc[6].isna().all()  # not in the cache: NaN, never uninitialised memory
    assert table.loc[5, "size_nm3"] == 10
    assert table.loc[5, "rep_coord_nm_z"] == 3
    assert np.isnan(table.loc[5, "pca_1_y"])
    assert table.loc[BIG, "pca_1_y"] == 1
    assert table.loc[BIG, "chunk_intersect_count_x_top"] == 4
    assert table.loc[BIG, "pca_val_2"] == 1.0
    assert all(dtype == np.float64 for dtype in table.dtypes)


def test_get_l2data_table_without_splitting(server: FakeCAVEServer, l2: L2CacheClient[Any]) -> None:
    server.route("POST", ATTRIBUTES, attributes_handler({1: {"rep_coord_nm": [1, 2, 3], "size_nm3": 4}}))
    table = l2.get_l2data_table([1, 2], attributes=["rep_coord_nm", "size_nm3"], split_columns=False)
    assert list(table.columns) == ["rep_coord_nm", "size_nm3"]
    assert table.loc[1, "rep_coord_nm"] == [1, 2, 3]  # the answer's list, as caveclient's cells
    assert pd.isna(table.loc[2, "rep_coord_nm"])
    assert np.isnan(table.loc[2, "size_nm3"])


def test_get_l2data_table_columns_come_in_the_answers_order(
    server: FakeCAVEServer, l2: L2CacheClient[Any]
) -> None:
    # The service answers features in its own (sorted) order; caveclient's columns follow it.
    server.route(
        "POST", ATTRIBUTES, attributes_handler({1: {"area_nm2": 2, "max_dt_nm": 3, "size_nm3": 4}})
    )
    table = l2.get_l2data_table([1], attributes=["size_nm3", "area_nm2", "max_dt_nm"])
    assert list(table.columns) == ["area_nm2", "max_dt_nm", "size_nm3"]


def test_get_l2data_table_of_nothing_cached(server: FakeCAVEServer, l2: L2CacheClient[Any]) -> None:
    server.route("POST", ATTRIBUTES, attributes_handler({}))
    table = l2.get_l2data_table([3, 4], attributes=["size_nm3", "pca"])
    assert table.index.tolist() == [3, 4]
    assert list(table.columns) == ["size_nm3", *[f"pca_{r}_{a}" for r in range(3) for a in "xyz"]]
    assert table.isna().all().all()


def test_cache_metadata_and_attributes(server: FakeCAVEServer, l2: L2CacheClient[Any]) -> None:
    metadata = {"size_nm3": "<class 'numpy.uint32'>", "pca": "<class 'numpy.float16'>"}
    server.route("GET", METADATA, metadata)
    assert l2.cache_metadata() == metadata
    assert l2.attributes == ["size_nm3", "pca"]
    assert l2.attributes == ["size_nm3", "pca"]
    assert len(server.all(METADATA)) == 2  # cache_metadata() once, attributes once (then kept)
    assert all(not request.url.params for request in server.all(METADATA))


def test_table_mapping_and_has_cache(server: FakeCAVEServer, l2: L2CacheClient[Any]) -> None:
    mapping = {TABLE: {"l2cache_id": "l2_minnie", "cv_path": f"graphene://{LOCAL}/x"}}
    server.route("GET", MAPPING, mapping)
    assert l2.table_mapping() == mapping
    assert l2.has_cache() is True
    assert len(server.all(MAPPING)) == 1  # kept
    assert l2.has_cache("flat") is False  # not a graphene:// segmentation


def test_has_cache_for_other_tables(server: FakeCAVEServer, l2: L2CacheClient[Any]) -> None:
    server.route("GET", MAPPING, {"other_table": {"l2cache_id": "x", "cv_path": "y"}})
    assert l2.has_cache() is False


def test_has_cache_without_a_table_mapping(server: FakeCAVEServer, l2: L2CacheClient[Any]) -> None:
    with pytest.warns(UserWarning, match="no table mapping"):
        assert l2.has_cache() is False
    assert len(server.all(MAPPING)) == 1


def test_default_url_mapping(server: FakeCAVEServer, l2: L2CacheClient[Any]) -> None:
    assert l2.default_url_mapping == {"l2cache_server_address": LOCAL, "table_id": TABLE}
    assert server.requests == []
