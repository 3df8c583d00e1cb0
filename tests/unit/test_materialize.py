"""client.materialize against a fake local server: exact requests, typed results, refused input."""

from __future__ import annotations

import asyncio
import gzip
import json
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from caveclient_gen import InvalidInputError, NotFoundError
from caveclient_gen.errors import CAVEServerWarning, OffsetPagingWarning
from caveclient_gen.services.materialize import (
    MaterializationClient,
    convert_timestamp,
    string_format_timestamp,
)

from .materialize_support import (
    ANNOTATION,
    LOCAL,
    SAMPLES,
    SEGMENTATION,
    SYNAPSE_SCHEMA,
    V2,
    V3,
    FakeCAVE,
    arrow_response,
    arrow_stream,
    body_of,
    roots_valid_since,
    standard_materialize,
    synapse_frame,
    table_metadata,
)

QUERY = f"{V3}/version/3/table/synapses/query"
WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


@pytest.fixture
def fake() -> FakeCAVE:
    fake = FakeCAVE()
    standard_materialize(fake)
    return fake


def version_record(version: int, stamp: str, **changes: Any) -> dict[str, Any]:
    record = {
        "id": version + 100,
        "datastack": "ds",
        "version": version,
        "time_stamp": stamp,
        "valid": True,
        "expires_on": None,
        "status": "AVAILABLE",
        "is_merged": True,
    }
    record.update(changes)
    return record


def query_params(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


# ---------------------------------------------------------------- versions and tables


def test_get_versions_asks_the_v3_route(fake: FakeCAVE) -> None:
    client = fake.materialize()
    assert client.get_versions() == [1, 2, 3]
    assert client.get_versions(expired=True) == [1, 2, 3]
    first, second = fake.sent("GET", f"{V3}/versions")
    assert first.url.params["expired"] == "False"
    assert second.url.params["expired"] == "True"
    assert first.url.host == "local.test"
    assert first.headers["authorization"] == "Bearer t0ken"


def test_most_recent_version_and_no_versions(fake: FakeCAVE) -> None:
    assert fake.materialize().most_recent_version() == 3
    empty = FakeCAVE()
    empty.route("GET", f"{V3}/versions", [])
    with pytest.raises(NotFoundError, match="no valid materialization version"):
        empty.materialize().most_recent_version()


def test_get_tables_uses_the_v2_route_at_the_latest_version(fake: FakeCAVE) -> None:
    fake.route("GET", f"{V2}/version/3/tables", ["synapses", "nuclei"])
    assert fake.materialize().get_tables() == ["synapses", "nuclei"]
    assert fake.paths() == [
        "GET /info/api/v2/datastack/full/ds",
        f"GET {V3}/versions",
        f"GET {V2}/version/3/tables",
    ]


def test_get_annotation_count(fake: FakeCAVE) -> None:
    fake.route("GET", f"{V2}/version/2/table/synapses/count", 12345)
    fake.route("GET", f"{V2}/version/3/table/synapses/count", httpx.Response(200, content=b"null"))
    client = fake.materialize()
    assert client.get_annotation_count("synapses", version=2) == 12345
    assert client.get_annotation_count("synapses") is None


def test_version_metadata_times_are_utc_with_or_without_microseconds(fake: FakeCAVE) -> None:
    fake.route("GET", f"{V3}/version/2", version_record(2, "2024-01-01T00:00:00"))
    fake.route(
        "GET",
        f"{V3}/version/3",
        version_record(3, "2024-02-01T10:20:30.123456", expires_on="2024-03-01T00:00:00"),
    )
    client = fake.materialize()
    two = client.get_version_metadata(2)
    assert two["time_stamp"] == datetime(2024, 1, 1, tzinfo=UTC)
    assert two["expires_on"] is None
    three = client.get_version_metadata()
    assert three["time_stamp"] == datetime(2024, 2, 1, 10, 20, 30, 123456, tzinfo=UTC)
    assert three["expires_on"] == datetime(2024, 3, 1, tzinfo=UTC)
    assert client.get_timestamp(2) == datetime(2024, 1, 1, tzinfo=UTC)


def test_versions_metadata_cached_per_client_and_per_argument(fake: FakeCAVE) -> None:
    fake.route("GET", f"{V3}/metadata", [version_record(1, "2024-01-01T00:00:00")])
    client = fake.materialize()
    first = client.get_versions_metadata()
    first[0]["version"] = 99  # the caller's copy; the cache keeps its own
    assert client.get_versions_metadata()[0]["version"] == 1
    client.get_versions_metadata(expired=True)
    assert len(fake.sent("GET", f"{V3}/metadata")) == 2
    fake.materialize().get_versions_metadata()  # another client: its own cache
    assert len(fake.sent("GET", f"{V3}/metadata")) == 3


def test_table_metadata_folds_voxel_resolution_and_is_cached(fake: FakeCAVE) -> None:
    client = fake.materialize()
    meta = client.get_table_metadata("synapses")
    assert meta["voxel_resolution"] == [4.0, 4.0, 40.0]
    assert "voxel_resolution_x" not in meta
    assert meta["schema_type"] == "synapse"
    client.get_table_metadata("synapses")
    assert len(fake.sent("GET", f"{V3}/version/3/table/synapses/metadata")) == 1


def test_tables_metadata_and_its_empty_404(fake: FakeCAVE) -> None:
    fake.route("GET", f"{V3}/version/3/tables/metadata", [table_metadata("synapses")])
    fake.route("GET", f"{V3}/version/2/tables/metadata", httpx.Response(404, json=[]))
    client = fake.materialize()
    assert [m["table_name"] for m in client.get_tables_metadata()] == ["synapses"]
    assert client.get_tables_metadata(version=2) == []
    # the per-table entries came with the list: no separate metadata request
    client.get_table_metadata("synapses")
    assert fake.sent("GET", f"{V3}/version/3/table/synapses/metadata") == []


# ---------------------------------------------------------------- the version property


def test_version_resolves_to_the_latest_once(fake: FakeCAVE) -> None:
    client = fake.materialize()
    assert client.version == 3
    assert client.version == 3
    assert len(fake.sent("GET", f"{V3}/versions")) == 1


def test_version_set_is_checked_lazily_against_expired_versions(fake: FakeCAVE) -> None:
    client = fake.materialize()
    client.version = 2
    assert fake.requests == []  # setting makes no request
    assert client.version == 2
    check = fake.only("GET", f"{V3}/versions")
    assert check.url.params["expired"] == "True"
    client.version = 9
    with pytest.raises(InvalidInputError, match="9 is not a materialization version"):
        client.get_tables()
    client.version = None  # back to the latest
    fake.route("GET", f"{V2}/version/3/tables", [])
    assert client.get_tables() == []
    with pytest.raises(InvalidInputError):
        client.version = "two"


def test_the_clients_version_wins_and_sets_its_timestamp(fake: FakeCAVE) -> None:
    fake.route("GET", f"{V3}/version/2", version_record(2, "2024-01-01T00:00:00"))
    fake.route("GET", f"{V2}/version/2/tables", ["synapses"])
    client = fake.materialize(version=2)
    assert client.get_tables() == ["synapses"]
    assert client._core.timestamp == datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidInputError, match="created with a version"):
        client.version = 3


def test_desired_resolution_defaults_to_the_clients(fake: FakeCAVE) -> None:
    client = fake.materialize(desired_resolution=[1, 1, 1])
    assert client.desired_resolution == [1.0, 1.0, 1.0]
    client.desired_resolution = None
    assert client.desired_resolution is None
    with pytest.raises(InvalidInputError):
        client.desired_resolution = [1, 2]


def test_properties_that_need_the_datastack_record(fake: FakeCAVE) -> None:
    client = fake.materialize()
    assert client.datastack_name == "ds"
    assert client.homepage == f"{LOCAL}/materialize/views/datastack/ds"
    assert client.synapse_table == "synapses"
    client.synapse_table = "other_synapses"
    assert client.synapse_table == "other_synapses"


# ---------------------------------------------------------------- query_table


def test_query_table_sends_exactly_what_the_server_expects(fake: FakeCAVE) -> None:
    fake.route(
        "POST",
        QUERY,
        arrow_response(
            synapse_frame(),
            warnings=["Table Owner Notice on synapses: be careful"],
            column_names="{'synapses': {'id': 'id'}}",
        ),
    )
    client = fake.materialize()
    with pytest.warns(OffsetPagingWarning), pytest.warns(CAVEServerWarning, match="be careful"):
        frame = client.query_table(
            "synapses",
            filter_in_dict={"pre_pt_root_id": np.array([864691135000000001, 5], dtype=np.uint64)},
            filter_equal_dict={"valid": True},
            filter_greater_dict={"size": 1},
            filter_spatial_dict={"pre_pt_position": [[0, 0, 0], [100, 100, 100]]},
            filter_regex_dict={"valid": "t.*"},
            select_columns=["id", "pre_pt_root_id", "pre_pt_position", "size"],
            limit=10,
            offset=5,
            random_sample=1000,
        )
    request = fake.only("POST", QUERY)
    assert request.headers["accept-encoding"] == "zstd"
    assert request.headers["content-type"] == "application/json"
    assert query_params(request) == {
        "return_pyarrow": "True",
        "arrow_format": "True",
        "random_sample": "1000",
        "split_positions": "True",
        "direct_sql_pandas": "True",
    }
    assert body_of(request) == {
        "filter_in_dict": {"synapses": {"pre_pt_root_id": [864691135000000001, 5]}},
        "filter_equal_dict": {"synapses": {"valid": True}},
        "filter_greater_dict": {"synapses": {"size": 1}},
        "filter_spatial_dict": {"synapses": {"pre_pt_position": [[0, 0, 0], [100, 100, 100]]}},
        "filter_regex_dict": {"synapses": {"valid": "t.*"}},
        "select_columns": ["id", "pre_pt_root_id", "pre_pt_position", "size"],
        "offset": 5,
        "limit": 10,
    }
    assert isinstance(frame, pd.DataFrame)
    assert frame["pre_pt_root_id"].dtype == np.int64
    assert frame["pre_pt_root_id"].tolist() == [864691135000000001, 864691135000000002, 5]
    assert str(frame["created"].dtype) == "datetime64[ns, UTC]"
    assert frame["pre_pt_position"].iloc[0].tolist() == [10, 11, 12]
    assert "pre_pt_position_x" not in frame.columns


def test_query_table_records_the_query_in_attrs(fake: FakeCAVE) -> None:
    fake.route("POST", QUERY, arrow_response(synapse_frame(), column_names="{'synapses': {}}"))
    frame = fake.materialize().query_table("synapses", filter_equal_dict={"size": 1.5}, limit=3)
    assert isinstance(frame, pd.DataFrame)
    attrs = frame.attrs
    assert attrs["datastack_name"] == "ds"
    assert attrs["join_query"] is False
    assert attrs["table_name"] == "synapses"
    assert attrs["table_schema_type"] == "synapse"
    assert attrs["table_voxel_resolution"] == [4.0, 4.0, 40.0]
    assert attrs["table_description"] == "the synapses table"
    assert attrs["dataframe_resolution"] == [4.0, 4.0, 40.0]
    assert attrs["filters"]["equal"] == {"size": 1.5}
    assert attrs["filters"]["inclusive"] is None
    assert attrs["limit"] == 3
    assert attrs["offset"] is None
    assert attrs["live_query"] is False
    assert attrs["timestamp"] is None
    assert attrs["materialization_version"] == 3
    assert attrs["column_names"] == "{'synapses': {}}"
    json.dumps(attrs)  # JSON-compatible, as caveclient's


def test_metadata_false_and_no_reference_merge_send_only_the_query(fake: FakeCAVE) -> None:
    fake.route("POST", QUERY, arrow_response(synapse_frame()))
    frame = fake.materialize().query_table(
        "synapses", metadata=False, merge_reference=False, split_positions=True
    )
    assert isinstance(frame, pd.DataFrame)
    assert frame.attrs == {}
    assert "pre_pt_position_x" in frame.columns
    assert fake.sent("GET", f"{V3}/version/3/table/synapses/metadata") == []


@pytest.mark.parametrize("compression", ["lz4", None])
def test_other_in_stream_compressions_decode(fake: FakeCAVE, compression: str | None) -> None:
    fake.route("POST", QUERY, arrow_response(synapse_frame(), compression=compression))
    frame = fake.materialize().query_table("synapses", metadata=False)
    assert isinstance(frame, pd.DataFrame)
    assert frame["id"].tolist() == [1, 2, 3]


def test_http_gzip_of_an_uncompressed_stream_decodes(fake: FakeCAVE) -> None:
    body = gzip.compress(arrow_stream(synapse_frame(), None))
    headers = {"content-type": "data.arrow", "content-encoding": "gzip"}
    fake.route("POST", QUERY, lambda request: httpx.Response(200, content=body, headers=headers))
    frame = fake.materialize().query_table("synapses", metadata=False)
    assert isinstance(frame, pd.DataFrame)
    assert frame["size"].tolist() == [1.5, 2.5, 3.5]


def test_return_df_false_asks_for_gzip_json_records(fake: FakeCAVE) -> None:
    rows = [{"id": 1, "pre_pt_root_id": 2**63 + 1}, {"id": 2, "pre_pt_root_id": 7}]
    fake.route("POST", QUERY, httpx.Response(200, json=rows))
    records = fake.materialize().query_table("synapses", return_df=False, metadata=False)
    request = fake.only("POST", QUERY)
    assert request.headers["accept-encoding"] == "gzip"
    assert request.url.params["return_pyarrow"] == "False"
    assert request.url.params["arrow_format"] == "False"
    assert records == rows


def test_exclusions_are_applied_to_the_rows_received(fake: FakeCAVE) -> None:
    """The 5.26.4 server ignores filter_notin_dict; rows it returns anyway are removed."""
    fake.route("POST", QUERY, arrow_response(synapse_frame()))
    client = fake.materialize()
    frame = client.query_table("synapses", filter_out_dict={"post_pt_root_id": [7, 8]})
    assert body_of(fake.only("POST", QUERY))["filter_notin_dict"] == {
        "synapses": {"post_pt_root_id": [7, 8]}
    }
    assert isinstance(frame, pd.DataFrame)
    assert frame["id"].tolist() == [2]
    rows = [{"id": 1, "post_pt_root_id": 7}, {"id": 2, "post_pt_root_id": 9}]
    fake.route("POST", QUERY, httpx.Response(200, json=rows))
    records = client.query_table("synapses", filter_out_dict={"post_pt_root_id": [7]}, return_df=False)
    assert records == [{"id": 2, "post_pt_root_id": 9}]


def test_counts_and_silenced_warnings(fake: FakeCAVE) -> None:
    fake.route(
        "POST", QUERY, arrow_response(pd.DataFrame({"count": [42]}), warnings=["noise"], resolution=None)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = fake.materialize().query_table("synapses", get_counts=True, log_warning=False)
    assert fake.only("POST", QUERY).url.params["count"] == "True"
    assert isinstance(frame, pd.DataFrame)
    assert frame["count"].tolist() == [42]


def test_desired_resolution_is_sent_and_applied_when_the_server_did_not(fake: FakeCAVE) -> None:
    fake.route("POST", QUERY, arrow_response(synapse_frame(), resolution=None))
    client = fake.materialize(desired_resolution=[1, 1, 1])
    frame = client.query_table("synapses", split_positions=True)
    assert body_of(fake.only("POST", QUERY))["desired_resolution"] == [1.0, 1.0, 1.0]
    assert isinstance(frame, pd.DataFrame)
    assert frame["pre_pt_position_x"].tolist() == [40.0, 80.0, 120.0]
    assert frame["pre_pt_position_z"].tolist() == [480.0, 880.0, 1280.0]
    assert frame.attrs["dataframe_resolution"] == [1.0, 1.0, 1.0]


def test_positions_converted_by_the_server_are_left_alone(fake: FakeCAVE) -> None:
    fake.route("POST", QUERY, arrow_response(synapse_frame(), resolution=[1, 1, 1]))
    frame = fake.materialize().query_table(
        "synapses", desired_resolution=[1, 1, 1], split_positions=True
    )
    assert isinstance(frame, pd.DataFrame)
    assert frame["pre_pt_position_x"].tolist() == [10, 20, 30]


def test_reference_tables_are_joined_to_their_target(fake: FakeCAVE) -> None:
    fake.route(
        "GET",
        f"{V3}/version/3/table/cell_types/metadata",
        table_metadata("cell_types", "cell_type_reference", reference_table="nuclei"),
    )
    fake.route(
        "GET", f"{V3}/version/3/table/nuclei/metadata", table_metadata("nuclei", "nucleus_detection")
    )
    fake.route("GET", "/schema/api/v2/type/cell_type_reference", httpx.Response(503))
    fake.route("POST", f"{V3}/version/3/query", arrow_response(pd.DataFrame({"id": [1], "id_ref": [2]})))
    frame = fake.materialize().query_table("cell_types", filter_equal_dict={"cell_type": "L2"})
    request = fake.only("POST", f"{V3}/version/3/query")
    assert body_of(request) == {
        "filter_equal_dict": {"cell_types": {"cell_type": "L2"}},
        "tables": [["cell_types", "target_id"], ["nuclei", "id"]],
        "suffix_map": {"cell_types": "", "nuclei": "_ref"},
    }
    assert isinstance(frame, pd.DataFrame)
    assert frame.attrs["join_query"] is True
    assert frame.attrs["tables"]["nuclei"]["join_column"] == "id"
    assert frame.attrs["tables"]["cell_types"]["table_reference_table"] == "nuclei"


# ---------------------------------------------------------------- refused before sending


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ({"filter_in_dict": {"no_such_column": [1]}}, "filter_in_dict"),
        ({"filter_equal_dict": {"size": [1, 2]}}, "filter_equal_dict['size']"),
        ({"filter_equal_dict": {"size": {">": 3}}}, "filter_equal_dict['size']"),
        ({"filter_in_dict": {"pre_pt_root_id": 5}}, "filter_in_dict['pre_pt_root_id']"),
        (
            {"filter_in_dict": {"pre_pt_root_id": [1.0, float("nan")]}},
            "filter_in_dict['pre_pt_root_id']",
        ),
        ({"filter_greater_dict": {"size": float("inf")}}, "filter_greater_dict['size']"),
        ({"filter_spatial_dict": {"pre_pt_position": [[0, 0], [1, 1]]}}, "filter_spatial_dict"),
        ({"filter_spatial_dict": {"pre_pt_position": [[5, 5, 5], [1, 1, 1]]}}, "filter_spatial_dict"),
        ({"filter_spatial_dict": {"size": [[0, 0, 0], [1, 1, 1]]}}, "filter_spatial_dict"),
        ({"filter_regex_dict": {"valid": 3}}, "filter_regex_dict['valid']"),
        ({"filter_in_dict": ["pre_pt_root_id"]}, "filter_in_dict"),
        ({"filter_greater_dict": {"created": datetime(2024, 1, 1)}}, "filter_greater_dict"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"random_sample": 0}, "random_sample"),
        ({"desired_resolution": [1, 1]}, "desired_resolution"),
        ({"select_columns": ["id", "nope"]}, "select_columns"),
        ({"select_columns": "id"}, "select_columns"),
        ({"timestamp": WHEN, "materialization_version": 2}, "timestamp"),
        ({"timestamp": datetime(2024, 1, 1)}, "timestamp"),
    ],
)
def test_bad_input_is_refused_before_the_query_is_sent(
    fake: FakeCAVE, arguments: dict[str, Any], parameter: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        fake.materialize().query_table("synapses", **arguments)
    assert raised.value.parameter.startswith(parameter)
    assert [r for r in fake.requests if r.method == "POST"] == []


def test_unknown_filter_columns_are_named_with_the_tables_columns(fake: FakeCAVE) -> None:
    with pytest.raises(InvalidInputError, match=r"has no column 'pre_root'.*pre_pt_root_id"):
        fake.materialize().query_table("synapses", filter_in_dict={"pre_root": [1]})


def test_aware_datetimes_are_sent_as_iso_strings(fake: FakeCAVE) -> None:
    fake.route("POST", QUERY, arrow_response(synapse_frame()))
    fake.materialize().query_table("synapses", filter_greater_dict={"created": WHEN}, metadata=False)
    body = body_of(fake.only("POST", QUERY))
    assert body["filter_greater_dict"] == {"synapses": {"created": "2024-05-06T07:08:09+00:00"}}


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(404, json="No table found"),
        httpx.Response(500, json={"code": 500, "message": "404 Not Found: table gone not in version"}),
    ],
)
def test_a_missing_table_is_named_and_nothing_queried(fake: FakeCAVE, answer: httpx.Response) -> None:
    fake.route("GET", f"{V3}/version/3/table/gone/metadata", answer)
    with pytest.raises(
        NotFoundError, match="table 'gone' does not exist in datastack 'ds' at version 3"
    ):
        fake.materialize().query_table("gone")
    assert [r for r in fake.requests if r.method == "POST"] == []


def test_a_table_missing_from_the_known_list_is_refused_without_a_request(fake: FakeCAVE) -> None:
    fake.route("GET", f"{V3}/version/3/tables/metadata", [table_metadata("synapses")])
    client = fake.materialize()
    client.get_tables_metadata()
    with pytest.raises(NotFoundError, match="'synapse'"):
        client.query_table("synapse")
    assert fake.sent("GET", f"{V3}/version/3/table/synapse/metadata") == []


def test_an_unavailable_schema_service_does_not_block_queries(fake: FakeCAVE) -> None:
    fake.route("GET", "/schema/api/v2/type/synapse", httpx.Response(503, json={"message": "down"}))
    fake.route("POST", QUERY, arrow_response(synapse_frame()))
    frame = fake.materialize().query_table("synapses", filter_in_dict={"anything": [1]})
    assert isinstance(frame, pd.DataFrame)


# ---------------------------------------------------------------- join_query


def test_join_query_body_and_records(fake: FakeCAVE) -> None:
    fake.route(
        "GET", f"{V3}/version/3/table/nuclei/metadata", table_metadata("nuclei", "nucleus_detection")
    )
    rows = [{"id_syn": 1, "id_nuc": 2}]
    fake.route("POST", f"{V3}/version/3/query", httpx.Response(200, json=rows))
    result = fake.materialize().join_query(
        [["synapses", "post_pt_root_id"], ["nuclei", "pt_root_id"]],
        filter_in_dict={"nuclei": {"pt_root_id": [1, 2]}},
        select_columns={"synapses": ["id"], "nuclei": ["id"]},
        suffixes={"synapses": "_syn", "nuclei": "_nuc"},
        return_df=False,
        metadata=False,
    )
    assert result == rows  # caveclient returned None here
    request = fake.only("POST", f"{V3}/version/3/query")
    assert body_of(request) == {
        "filter_in_dict": {"nuclei": {"pt_root_id": [1, 2]}},
        "select_column_map": {"synapses": ["id"], "nuclei": ["id"]},
        "tables": [["synapses", "post_pt_root_id"], ["nuclei", "pt_root_id"]],
        "suffix_map": {"synapses": "_syn", "nuclei": "_nuc"},
    }
    assert request.headers["accept-encoding"] == "gzip"


def test_join_query_frame_attrs_and_suffixed_exclusions(fake: FakeCAVE) -> None:
    fake.route(
        "GET", f"{V3}/version/3/table/nuclei/metadata", table_metadata("nuclei", "nucleus_detection")
    )
    fake.route("GET", "/schema/api/v2/type/nucleus_detection", httpx.Response(404, json={}))
    frame_sent = pd.DataFrame({"id_syn": [1, 2], "id_nuc": [10, 20]})
    fake.route(
        "POST",
        f"{V3}/version/3/query",
        arrow_response(
            frame_sent, column_names="{'synapses': {'id': 'id_syn'}, 'nuclei': {'id': 'id_nuc'}}"
        ),
    )
    frame = fake.materialize().join_query(
        [["synapses", "post_pt_root_id"], ["nuclei", "pt_root_id"]],
        filter_out_dict={"nuclei": {"id": [20]}},
        suffixes={"synapses": "_syn", "nuclei": "_nuc"},
    )
    assert isinstance(frame, pd.DataFrame)
    assert frame["id_nuc"].tolist() == [10]
    assert frame.attrs["join_query"] is True
    assert frame.attrs["tables"]["nuclei"]["table_name"] == "nuclei"
    assert frame.attrs["tables"]["synapses"]["suffix"] == "_syn"
    assert frame.attrs["filters"]["exclusive"] == {"nuclei": {"id": [20]}}


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ({"tables": [["synapses", "id"]]}, "tables"),
        ({"tables": "synapses"}, "tables"),
        ({"filter_in_dict": {"other": {"id": [1]}}}, "filter_in_dict"),
        ({"filter_in_dict": {"synapses": [1]}}, "filter_in_dict"),
        ({"suffixes": {"other": "_x"}}, "suffixes"),
    ],
)
def test_join_query_bad_input(fake: FakeCAVE, arguments: dict[str, Any], parameter: str) -> None:
    options: dict[str, Any] = {"tables": [["synapses", "id"], ["nuclei", "id"]], **arguments}
    with pytest.raises(InvalidInputError) as raised:
        fake.materialize().join_query(**options)
    assert raised.value.parameter.startswith(parameter)
    assert [r for r in fake.requests if r.method == "POST"] == []


# ---------------------------------------------------------------- live_live_query


def test_live_live_query_body_params_and_attrs(fake: FakeCAVE) -> None:
    roots_valid_since(fake, WHEN - timedelta(days=30))
    fake.route("POST", f"{V3}/query", arrow_response(synapse_frame()))
    frame = fake.materialize().live_live_query(
        "synapses",
        WHEN,
        joins=[["synapses", "post_pt_root_id", "nuclei", "pt_root_id"]],
        filter_equal_dict={"synapses": {"pre_pt_root_id": 5}},
        filter_regex_dict={"nuclei": {"cell_type": "^L"}},
        select_columns={"synapses": ["id", "pre_pt_root_id"]},
        suffixes={"synapses": "", "nuclei": "_nuc"},
        desired_resolution=[4, 4, 40],
        allow_missing_lookups=True,
        random_sample=50,
    )
    request = fake.only("POST", f"{V3}/query")
    assert body_of(fake.only("POST", f"{SEGMENTATION}/is_latest_roots"))["node_ids"] == [5]
    assert body_of(request) == {
        "table": "synapses",
        "timestamp": "2024-05-06T07:08:09+00:00",
        "join_tables": [["synapses", "post_pt_root_id", "nuclei", "pt_root_id"]],
        "filter_equal_dict": {"synapses": {"pre_pt_root_id": 5}},
        "filter_regex_dict": {"nuclei": {"cell_type": "^L"}},
        "desired_resolution": [4.0, 4.0, 40.0],
        "select_columns": {"synapses": ["id", "pre_pt_root_id"]},
        "suffixes": {"synapses": "", "nuclei": "_nuc"},
    }
    params = query_params(request)
    assert params["allow_missing_lookups"] == "True"
    assert params["allow_invalid_root_ids"] == "False"
    assert params["random_sample"] == "50"
    assert params["direct_sql_pandas"] == "True"
    assert request.headers["accept-encoding"] == "zstd"
    assert frame.attrs["live_query"] is True
    assert frame.attrs["timestamp"] == "2024-05-06T07:08:09.000000"  # caveclient's format
    assert frame.attrs["materialization_version"] is None
    assert "column_names" not in frame.attrs


def test_live_live_query_metadata_falls_back_to_the_annotation_engine(fake: FakeCAVE) -> None:
    fake.route("GET", f"{V3}/version/3/table/fresh/metadata", httpx.Response(404, json="No table"))
    annotation_meta = {
        k: v for k, v in table_metadata("fresh").items() if k not in ("aligned_volume", "schema")
    } | {"deleted": None}
    fake.route("GET", f"{ANNOTATION}/table/fresh", httpx.Response(201, json=annotation_meta))
    fake.route("POST", f"{V3}/query", arrow_response(synapse_frame()))
    frame = fake.materialize().live_live_query("fresh", WHEN)
    assert frame.attrs["table_name"] == "fresh"
    assert frame.attrs["table_voxel_resolution"] == [4.0, 4.0, 40.0]


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ({"timestamp": datetime(2024, 1, 1)}, "timestamp"),
        ({"joins": [["synapses", "id"]]}, "joins"),
        ({"select_columns": ["id"]}, "select_columns"),
        ({"filter_in_dict": {"nuclei": {"id": [1]}}}, "filter_in_dict"),
        ({"filter_in_dict": {"synapses": {"nope": [1]}}}, "filter_in_dict"),
    ],
)
def test_live_live_query_bad_input(fake: FakeCAVE, arguments: dict[str, Any], parameter: str) -> None:
    options: dict[str, Any] = {"timestamp": WHEN, **arguments}
    with pytest.raises(InvalidInputError) as raised:
        fake.materialize().live_live_query("synapses", **options)
    assert raised.value.parameter.startswith(parameter)
    assert [r for r in fake.requests if r.method == "POST"] == []


# ---------------------------------------------------------------- synapse_query


def test_synapse_query_builds_its_filters_and_removes_autapses(fake: FakeCAVE) -> None:
    fake.route("POST", QUERY, arrow_response(synapse_frame()))
    frame = fake.materialize().synapse_query(
        pre_ids=np.uint64(864691135000000002),
        post_ids=[7, 864691135000000002],
        bounding_box=[[0, 0, 0], [50, 50, 50]],
        include_zeros=False,
    )
    body = body_of(fake.only("POST", QUERY))
    assert body == {
        "filter_in_dict": {"synapses": {"post_pt_root_id": [7, 864691135000000002]}},
        "filter_notin_dict": {"synapses": {"pre_pt_root_id": [0], "post_pt_root_id": [0]}},
        "filter_equal_dict": {"synapses": {"pre_pt_root_id": 864691135000000002}},
        "filter_spatial_dict": {"synapses": {"post_pt_position": [[0, 0, 0], [50, 50, 50]]}},
    }
    assert frame["id"].tolist() == [1, 3]  # row 2 is an autapse
    assert frame.attrs["remove_autapses"] is True
    assert frame.attrs["table_name"] == "synapses"


def test_synapse_query_records_its_empty_id_filters_as_caveclient(fake: FakeCAVE) -> None:
    fake.route("POST", QUERY, arrow_response(synapse_frame()))
    frame = fake.materialize().synapse_query(post_ids=864691135000000002)
    # caveclient builds both id filters as dicts and records the unused one as {}.
    assert frame.attrs["filters"]["inclusive"] == {}
    assert frame.attrs["filters"]["equal"] == {"post_pt_root_id": 864691135000000002}
    assert frame.attrs["filters"]["exclusive"] is None


def test_synapse_query_keeps_autapses_on_request(fake: FakeCAVE) -> None:
    fake.route("POST", QUERY, arrow_response(synapse_frame()))
    frame = fake.materialize().synapse_query(remove_autapses=False, metadata=False)
    assert frame["id"].tolist() == [1, 2, 3]
    with pytest.raises(InvalidInputError, match="pre_ids"):
        fake.materialize().synapse_query(pre_ids=[-1])


# ---------------------------------------------------------------- views


def test_views_metadata_schema_and_query(fake: FakeCAVE) -> None:
    view_meta = {
        "id": 3,
        "description": "a view",
        "datastack_name": "ds",
        "voxel_resolution_x": 4.0,
        "voxel_resolution_y": 4.0,
        "voxel_resolution_z": 40.0,
        "notice_text": None,
        "live_compatible": True,
    }
    schema = {
        "id": {"type": "integer"},
        "pt_position": {"type": "SpatialPoint"},
        "tag": {"type": "string"},
    }
    fake.route("GET", f"{V3}/version/3/views", {"cells": view_meta})
    fake.route("GET", f"{V3}/version/3/views/cells/metadata", view_meta | {"table_name": "cells"})
    fake.route("GET", f"{V3}/version/3/views/cells/schema", schema)
    fake.route("GET", f"{V3}/version/3/views/schemas", {"cells": schema})
    fake.route("GET", f"{V3}/version/2/views/schemas", httpx.Response(404, json={}))
    view_rows = pd.DataFrame(
        {"id": [1], "pt_position_x": [1], "pt_position_y": [2], "pt_position_z": [3]}
    )
    fake.route("POST", f"{V3}/version/3/views/cells/query", arrow_response(view_rows))
    client = fake.materialize()
    assert client.get_views() == {"cells": view_meta}
    assert client.get_view_metadata("cells")["table_name"] == "cells"
    assert client.get_view_schema("cells")["pt_position"] == {"type": "SpatialPoint"}
    assert client.get_view_schemas() == {"cells": schema}
    assert client.get_view_schemas(materialization_version=2) == {}
    frame = client.query_view("cells", filter_equal_dict={"tag": "a"}, limit=5)
    request = fake.only("POST", f"{V3}/version/3/views/cells/query")
    assert body_of(request) == {"filter_equal_dict": {"cells": {"tag": "a"}}, "limit": 5}
    assert isinstance(frame, pd.DataFrame)
    assert frame["pt_position"].iloc[0].tolist() == [1, 2, 3]
    assert frame.attrs["dataframe_resolution"] == [4.0, 4.0, 40.0]
    assert frame.attrs["table_name"] == "cells"
    with pytest.raises(InvalidInputError, match="has no column 'nope'"):
        client.query_view("cells", filter_equal_dict={"nope": 1})


# ---------------------------------------------------------------- the rest


def test_unique_string_values(fake: FakeCAVE) -> None:
    fake.route("GET", f"{V3}/table/cells/unique_string_values", {"cell_type": ["L2", None]})
    assert fake.materialize().get_unique_string_values("cells") == {"cell_type": ["L2", None]}


def test_workflows_are_writes_with_their_bodies(fake: FakeCAVE) -> None:
    ingest = "/materialize/api/v2/materialize/run/ingest_annotations/datastack/ds/synapses"
    lookup = "/materialize/api/v2/materialize/run/lookup_svid/datastack/ds/synapses"
    fake.route("POST", ingest, 200)
    fake.route("POST", lookup, 200)
    client = fake.materialize()
    assert client.ingest_annotation_table("synapses") == 200
    assert client.lookup_supervoxel_ids("synapses", annotation_ids=np.array([1, 2])) == 200
    assert client.lookup_supervoxel_ids("synapses") == 200
    first, second = fake.sent("POST", lookup)
    assert body_of(first) == {"annotation_ids": [1, 2]}
    assert body_of(second) == {}


def test_neuroglancer_paths_and_infos(fake: FakeCAVE) -> None:
    info = {
        "@type": "neuroglancer_annotations_v1",
        "dimensions": {"x": [1e-9, "m"]},
        "lower_bound": [0, 0, 0],
        "upper_bound": [1, 1, 1],
        "annotation_type": "point",
        "properties": [],
        "relationships": [],
        "by_id": {"key": "by_id"},
        "spatial": [],
    }
    segprops = {"@type": "neuroglancer_segment_properties", "inline": {"ids": ["1"], "properties": []}}
    fake.route("GET", f"{V3}/table/synapses/precomputed/info", info)
    fake.route("GET", f"{V3}/version/3/table/synapses/info", segprops)
    client = fake.materialize()
    assert client.neuroglancer_annotation_path("synapses") == (
        f"precomputed://middleauth+{LOCAL}{V3}/table/synapses/precomputed"
    )
    assert client.neuroglancer_annotation_path("synapses", for_neuroglancer=False) == (
        f"{LOCAL}{V3}/table/synapses/precomputed"
    )
    assert client.neuroglancer_annotation_info("synapses") == info
    assert client.neuroglancer_segprop_path("synapses", materialization_version=2) == (
        f"precomputed://middleauth+{LOCAL}{V3}/version/2/table/synapses"
    )
    assert client.neuroglancer_segprop_info("synapses") == segprops


def test_the_async_client_awaits_the_same_plans(fake: FakeCAVE) -> None:
    fake.route("POST", QUERY, arrow_response(synapse_frame()))

    async def run() -> Any:
        async with fake.async_client() as client:
            materialize = MaterializationClient(client._core)
            assert await materialize.version == 3
            return await materialize.query_table("synapses", filter_in_dict={"pre_pt_root_id": [5]})

    frame = asyncio.run(run())
    assert frame["id"].tolist() == [1, 2, 3]
    assert fake.only("POST", QUERY).headers["accept-encoding"] == "zstd"


def test_caveclient_timestamp_helpers() -> None:
    assert convert_timestamp(0.0) == datetime(1970, 1, 1, tzinfo=UTC)  # caveclient: naive local
    assert convert_timestamp("2024-01-01T00:00:00") == datetime(2024, 1, 1, tzinfo=UTC)
    assert convert_timestamp(datetime(2024, 1, 1)) == datetime(2024, 1, 1, tzinfo=UTC)
    before = datetime.now(UTC)
    now = convert_timestamp("now")
    assert before <= now <= datetime.now(UTC)  # read at the call, however long the call takes
    assert string_format_timestamp(WHEN) == "2024-05-06T07:08:09.000000"
    with pytest.raises(InvalidInputError):
        convert_timestamp("yesterday")


def test_no_tables_is_an_empty_list_but_an_unknown_version_is_an_error(fake: FakeCAVE) -> None:
    fake.route("GET", f"{V2}/version/3/tables", httpx.Response(404, content=b"null"))
    fake.route(
        "GET",
        f"{V2}/version/9/tables",
        httpx.Response(500, json={"code": 500, "message": "404 Not Found: version 9 not in ds"}),
    )
    client = fake.materialize()
    assert client.get_tables() == []
    with pytest.raises(NotFoundError, match="version 9 not in ds") as raised:
        client.get_tables(version=9)
    assert raised.value.wire_status == 500


SAMPLE_CASES = SAMPLES / "materialization-5.26.4.query.cases.json"


@pytest.mark.skipif(not SAMPLE_CASES.exists(), reason="reference samples not available")
@pytest.mark.parametrize("case_name", ["arrow_zstd", "arrow_lz4", "arrow_uncompressed_gzip_http"])
def test_the_servers_own_answers_through_the_client(fake: FakeCAVE, case_name: str) -> None:
    cases = {case["case"]: case for case in json.loads(SAMPLE_CASES.read_text())["cases"]}
    case = cases[case_name]
    body = (SAMPLES / case["body_file"]).read_bytes()
    headers = [tuple(pair) for pair in case["response_headers"] if pair[0] != "Content-Length"]
    fake.route("POST", QUERY, lambda request: httpx.Response(200, content=body, headers=headers))
    with pytest.warns(CAVEServerWarning, match="example notice"):
        frame = fake.materialize().query_table("synapses")
    assert isinstance(frame, pd.DataFrame)
    assert frame["pre_pt_root_id"].tolist() == [864691135000000001, 864691135000000002]
    assert frame["pre_pt_position"].iloc[1].tolist() == [200, 400, 20]
    assert frame["created"].iloc[0] == pd.Timestamp("2023-01-01", tz="UTC")
    assert frame.attrs["dataframe_resolution"] == [4.0, 4.0, 40.0]
    assert frame.attrs["column_names"].startswith("{'synapses': {'id': 'id'")


def test_the_async_table_manager_awaits_its_queries(fake: FakeCAVE) -> None:
    fake.route("GET", f"{V3}/version/3/tables/metadata", [table_metadata("synapses")])
    fake.route("GET", "/schema/api/v2/types_all", {"synapse": SYNAPSE_SCHEMA})
    fake.route("POST", QUERY, arrow_response(synapse_frame()))

    async def run() -> Any:
        async with fake.async_client() as client:
            tables = await MaterializationClient(client._core).tables
            return await tables.synapses(pre_pt_root_id=[5]).query(limit=1)

    frame = asyncio.run(run())
    assert frame["id"].tolist() == [1, 2, 3]
    assert body_of(fake.only("POST", QUERY)) == {
        "filter_in_dict": {"synapses": {"pre_pt_root_id": [5]}},
        "limit": 1,
    }


def test_live_live_query_refuses_roots_not_valid_then_before_sending(fake: FakeCAVE) -> None:
    roots_valid_since(fake, WHEN - timedelta(days=30), current={6})
    fake.route("POST", f"{V3}/query", arrow_response(synapse_frame()))
    with pytest.raises(InvalidInputError, match=r"\[5\] are no longer roots then"):
        fake.materialize().live_live_query(
            "synapses", WHEN, filter_in_dict={"synapses": {"pre_pt_root_id": [5, 6]}}
        )
    assert fake.sent("POST", f"{V3}/query") == []
    fake.materialize().live_live_query(
        "synapses",
        WHEN,
        filter_in_dict={"synapses": {"pre_pt_root_id": [5, 6]}},
        allow_invalid_root_ids=True,
    )
    assert len(fake.sent("POST", f"{V3}/query")) == 1
