"""live_query: client-side time travel of a frozen version, with the chunkedgraph calls it makes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from caveclient_gen import InvalidInputError
from caveclient_gen.errors import UnexpectedResponseError

from .materialize_support import (
    SEGMENTATION,
    V3,
    FakeCAVE,
    arrow_response,
    body_of,
    standard_materialize,
    table_metadata,
)

WHEN = datetime(2024, 2, 15, 12, 0, tzinfo=UTC)
V2_TIME = datetime(2024, 2, 1, tzinfo=UTC)
CURRENT = 900  # the root the user filters on, valid at WHEN
QUERY_V2 = f"{V3}/version/2/table/synapses/query"


def versions_metadata() -> list[dict[str, Any]]:
    def record(version: int, stamp: str) -> dict[str, Any]:
        return {
            "id": version,
            "datastack": "ds",
            "version": version,
            "time_stamp": stamp,
            "valid": True,
            "expires_on": None,
            "status": "AVAILABLE",
            "is_merged": True,
        }

    return [
        record(3, "2024-03-01T00:00:00.500000"),
        record(1, "2024-01-01T00:00:00"),
        record(2, "2024-02-01T00:00:00"),  # no microseconds: caveclient's parser failed on these
    ]


def frozen_rows() -> pd.DataFrame:
    """Rows of version 2: pre roots 100 (became 900) and 101 (split into 900 and 950 since)."""
    return pd.DataFrame(
        {
            "id": [1, 2, 3],
            "pre_pt_supervoxel_id": np.array([1001, 1011, 1012], dtype=np.int64),
            "pre_pt_root_id": np.array([100, 101, 101], dtype=np.int64),
            "pre_pt_position_x": [1, 2, 3],
            "pre_pt_position_y": [4, 5, 6],
            "pre_pt_position_z": [7, 8, 9],
            "post_pt_supervoxel_id": np.array([3001, 3011, 3002], dtype=np.int64),
            "post_pt_root_id": np.array([300, 301, 300], dtype=np.int64),
        }
    )


LATEST = {100: False, 101: False, 300: True, 301: False, 900: True, 950: True, 77: False}
ROOT_OF_SUPERVOXEL = {1001: 900, 1011: 900, 1012: 950, 3011: 302}


def is_latest(request: httpx.Request) -> httpx.Response:
    ids = json.loads(request.content)["node_ids"]
    return httpx.Response(200, json={"is_latest": [LATEST[i] for i in ids]})


def root_timestamps(request: httpx.Request) -> httpx.Response:
    ids = json.loads(request.content)["node_ids"]
    created = datetime(2024, 2, 10, tzinfo=UTC).timestamp()
    return httpx.Response(200, json={"timestamp": [created for _ in ids]})


def roots_binary(request: httpx.Request) -> httpx.Response:
    supervoxels = np.frombuffer(request.content, dtype="<u8")
    roots = np.array([ROOT_OF_SUPERVOXEL[int(s)] for s in supervoxels], dtype="<u8")
    return httpx.Response(200, content=roots.tobytes())


@pytest.fixture
def fake() -> FakeCAVE:
    fake = FakeCAVE()
    standard_materialize(fake)
    fake.route("GET", f"{V3}/metadata", versions_metadata())
    fake.route("POST", f"{SEGMENTATION}/is_latest_roots", is_latest)
    fake.route("POST", f"{SEGMENTATION}/root_timestamps", root_timestamps)
    fake.route(
        "GET",
        f"{SEGMENTATION}/past_id_mapping",
        {"past_id_map": {str(CURRENT): [100, 101]}, "future_id_map": {"100": CURRENT}},
    )
    fake.route("POST", f"{SEGMENTATION}/roots_binary", roots_binary)
    fake.route("POST", QUERY_V2, arrow_response(frozen_rows()))
    return fake


def test_live_query_travels_from_the_version_before_to_the_timestamp(fake: FakeCAVE) -> None:
    frame = fake.materialize().live_query(
        "synapses",
        WHEN,
        filter_equal_dict={"pre_pt_root_id": CURRENT},
        filter_out_dict={"post_pt_root_id": [0]},
    )
    # the filter root was checked at WHEN (zero, "no root", is never looked up)
    checks = fake.sent("POST", f"{SEGMENTATION}/is_latest_roots")
    assert body_of(checks[0]) == {"node_ids": [CURRENT]}
    assert float(checks[0].url.params["timestamp"]) == WHEN.timestamp()
    assert body_of(fake.only("POST", f"{SEGMENTATION}/root_timestamps")) == {"node_ids": [CURRENT]}
    mapping = fake.only("GET", f"{SEGMENTATION}/past_id_mapping")
    assert body_of(mapping) == {"root_ids": [CURRENT]}
    assert float(mapping.url.params["timestamp_past"]) == V2_TIME.timestamp()
    assert float(mapping.url.params["timestamp_future"]) == WHEN.timestamp()
    # the query ran on version 2 with the equality turned into the roots of that time; the
    # exclusion is applied to the rows brought forward, on the roots of WHEN
    assert body_of(fake.only("POST", QUERY_V2)) == {
        "filter_in_dict": {"synapses": {"pre_pt_root_id": [100, 101]}},
    }
    # stale roots were looked up again from their supervoxels, at WHEN
    assert body_of(checks[1]) == {"node_ids": [101, 300, 301, 900]}
    lookup = fake.only("POST", f"{SEGMENTATION}/roots_binary")
    assert np.frombuffer(lookup.content, dtype="<u8").tolist() == [1011, 1012, 3011]
    assert float(lookup.url.params["timestamp"]) == WHEN.timestamp()
    # row 3's supervoxel is on root 950 now: post-filtering drops it
    assert frame["id"].tolist() == [1, 2]
    assert frame["pre_pt_root_id"].tolist() == [CURRENT, CURRENT]
    assert frame["post_pt_root_id"].tolist() == [300, 302]
    assert frame["pre_pt_root_id"].dtype == np.int64
    assert frame["pre_pt_position"].iloc[1].tolist() == [2, 5, 8]
    assert frame.attrs["live_query"] is True
    assert frame.attrs["timestamp"] == WHEN.strftime("%Y-%m-%dT%H:%M:%S.%f")
    assert frame.attrs["materialization_version"] is None
    assert frame.attrs["filters"]["equal"] == {"pre_pt_root_id": CURRENT}


def test_without_post_filter_rows_of_the_split_off_root_stay(fake: FakeCAVE) -> None:
    frame = fake.materialize().live_query(
        "synapses", WHEN, filter_equal_dict={"pre_pt_root_id": CURRENT}, post_filter=False
    )
    assert frame["pre_pt_root_id"].tolist() == [CURRENT, CURRENT, 950]


def test_a_torn_roots_answer_is_an_unexpected_response(fake: FakeCAVE) -> None:
    """12 bytes for 4 supervoxels: no partial id array becomes a root id."""
    fake.route("POST", f"{SEGMENTATION}/roots_binary", httpx.Response(200, content=b"\x01" * 12))
    with pytest.raises(UnexpectedResponseError, match="roots_binary"):
        fake.materialize().live_query("synapses", WHEN, filter_equal_dict={"pre_pt_root_id": CURRENT})


def test_query_table_with_a_timestamp_is_a_live_query(fake: FakeCAVE) -> None:
    frame = fake.materialize().query_table("synapses", timestamp=WHEN, split_positions=True)
    assert isinstance(frame, pd.DataFrame)
    assert frame["pre_pt_root_id"].tolist() == [CURRENT, CURRENT, 950]
    assert "pre_pt_position_x" in frame.columns
    assert fake.sent("GET", f"{SEGMENTATION}/past_id_mapping") == []  # no root filter to translate


def test_a_timestamp_equal_to_a_version_is_a_frozen_query(fake: FakeCAVE) -> None:
    frame = fake.materialize().live_query("synapses", V2_TIME)
    assert frame["pre_pt_root_id"].tolist() == [100, 101, 101]
    assert frame.attrs["materialization_version"] == 2
    assert not [r for r in fake.requests if r.url.path.startswith(SEGMENTATION)]


def test_a_timestamp_before_every_version_is_refused(fake: FakeCAVE) -> None:
    with pytest.raises(InvalidInputError, match="before every available materialization version"):
        fake.materialize().live_query("synapses", datetime(2023, 1, 1, tzinfo=UTC))
    assert [r for r in fake.requests if r.method == "POST"] == []


def test_roots_not_valid_at_the_timestamp_are_refused_before_querying(fake: FakeCAVE) -> None:
    with pytest.raises(InvalidInputError, match=r"\[77\] are no longer roots"):
        fake.materialize().live_query("synapses", WHEN, filter_in_dict={"pre_pt_root_id": [77, CURRENT]})
    assert fake.sent("POST", QUERY_V2) == []


def test_naive_timestamps_are_refused(fake: FakeCAVE) -> None:
    with pytest.raises(InvalidInputError, match="no timezone"):
        fake.materialize().live_query("synapses", datetime(2024, 2, 15))
    assert [r for r in fake.requests if r.method == "POST"] == []


def test_map_filters_is_public(fake: FakeCAVE) -> None:
    filters, future = fake.materialize().map_filters(
        [{"pre_pt_root_id": [CURRENT]}, None, {"size": 3}], WHEN, V2_TIME
    )
    assert filters == [{"pre_pt_root_id": [100, 101]}, None, {"size": 3}]
    assert future == {100: CURRENT}


def test_live_query_of_a_reference_table_joins_at_the_version(fake: FakeCAVE) -> None:
    fake.route(
        "GET",
        f"{V3}/version/2/table/cell_types/metadata",
        table_metadata("cell_types", "cell_type_reference", reference_table="synapses"),
    )
    fake.route("GET", "/schema/api/v2/type/cell_type_reference", httpx.Response(404, json={}))
    fake.route("POST", f"{V3}/version/2/query", arrow_response(frozen_rows()))
    frame = fake.materialize().live_query("cell_types", WHEN)
    assert body_of(fake.only("POST", f"{V3}/version/2/query"))["tables"] == [
        ["cell_types", "target_id"],
        ["synapses", "id"],
    ]
    assert frame["pre_pt_root_id"].tolist() == [CURRENT, CURRENT, 950]


def test_the_async_client_runs_the_same_live_query(fake: FakeCAVE) -> None:
    import asyncio

    from caveclient_gen.services.materialize import MaterializationClient

    async def run() -> pd.DataFrame:
        async with fake.async_client() as client:
            materialize = MaterializationClient(client._core)
            return await materialize.live_query(
                "synapses", WHEN, filter_equal_dict={"pre_pt_root_id": CURRENT}
            )

    frame = asyncio.run(run())
    assert frame["id"].tolist() == [1, 2]
    assert frame["post_pt_root_id"].tolist() == [300, 302]
