"""The materialization service (MaterializationEngine 5.26.4): versions, tables, queries, views."""

from __future__ import annotations

import ast
import gzip
import io
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from caveclient_gen.testing import InProcessTransport, LocalCAVE, LocalUser
from caveclient_gen.testing.chunkedgraph.segmentation.graph import SegmentationGraph
from caveclient_gen.testing.materialize.settings import (
    MaterializationSettings,
    configure_materialization,
)
from caveclient_gen.testing.materialize.versions import MaterializationTimeline

from ._spec_checks import SpecCheckedClient
from .conftest import REFERENCE, bearer

SYNAPSES = "synapses_pni_2"
NUCLEI = "nucleus_detection_v0"
CELL_TYPES = "allen_soma_coarse_cell_class_model_v2"
VIEW = "single_neurons"
TYPED = {"direct_sql_pandas": "true", "arrow_format": "true"}
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
LZ4_FRAME_MAGIC = b"\x04\x22\x4d\x18"


@pytest.fixture(scope="module")
def cave() -> LocalCAVE:
    return LocalCAVE(seed=3)


@pytest.fixture(scope="module")
def http(cave: LocalCAVE) -> Iterator[SpecCheckedClient]:
    """The superadmin's client; every exchange is checked against specs/materialize.yaml."""
    with SpecCheckedClient(cave, cave.token) as client:
        yield client


@pytest.fixture(scope="module")
def raw_http(cave: LocalCAVE) -> Iterator[httpx.Client]:
    """A client that leaves bodies unread, for byte-level checks of encoded bodies."""
    with httpx.Client(
        transport=InProcessTransport(cave.app), base_url=cave.url, headers=bearer(cave.token)
    ) as client:
        yield client


@pytest.fixture(scope="module")
def v3(cave: LocalCAVE) -> str:
    return f"/materialize/api/v3/datastack/{cave.datastack}"


@pytest.fixture(scope="module")
def v2(cave: LocalCAVE) -> str:
    return f"/materialize/api/v2/datastack/{cave.datastack}"


@pytest.fixture(scope="module")
def timeline(cave: LocalCAVE) -> MaterializationTimeline:
    return cave.deployment.component(MaterializationTimeline)


def query(
    http: httpx.Client,
    path: str,
    body: dict[str, Any],
    *,
    params: dict[str, str] | None = None,
    encoding: str = "zstd",
) -> httpx.Response:
    return http.post(path, json=body, params=params or TYPED, headers={"Accept-Encoding": encoding})


def frame_of(response: httpx.Response) -> pd.DataFrame:
    assert response.status_code == 200, response.text
    with pa.ipc.open_stream(response.content) as reader:
        return reader.read_all().to_pandas()


def embedded_error(response: httpx.Response) -> str:
    """The message of the services' 500 answer, which embeds any aborted status."""
    assert response.status_code == 500, response.text
    body = response.json()
    assert body["code"] == 500
    assert isinstance(body["traceback"], list)
    message: str = body["message"]
    return message


def _table_field(buffer: bytes, table: int, field: int) -> int | None:
    """Position of a field of a flatbuffer table, or None when it is absent."""
    vtable = table - struct.unpack_from("<i", buffer, table)[0]
    vtable_size = struct.unpack_from("<H", buffer, vtable)[0]
    if 4 + 2 * field >= vtable_size:
        return None
    offset = struct.unpack_from("<H", buffer, vtable + 4 + 2 * field)[0]
    return None if offset == 0 else table + offset


def _subtable(buffer: bytes, position: int) -> int:
    return position + struct.unpack_from("<I", buffer, position)[0]


def record_batch_codec(stream: bytes) -> str | None:
    """The buffer compression the record batch message of an IPC stream declares."""
    position = 0
    while position < len(stream):
        continuation, length = struct.unpack_from("<Ii", stream, position)
        assert continuation == 0xFFFFFFFF
        metadata = stream[position + 8 : position + 8 + length]
        message = struct.unpack_from("<I", metadata, 0)[0]
        header_type = _table_field(metadata, message, 1)
        body_length_at = _table_field(metadata, message, 3)
        body_length = (
            0 if body_length_at is None else struct.unpack_from("<q", metadata, body_length_at)[0]
        )
        if header_type is not None and metadata[header_type] == 3:  # a RecordBatch
            batch = _subtable(metadata, _table_field(metadata, message, 2) or 0)
            compression_at = _table_field(metadata, batch, 3)
            if compression_at is None:
                return None
            compression = _subtable(metadata, compression_at)
            codec_at = _table_field(metadata, compression, 0)
            return "ZSTD" if codec_at is not None and metadata[codec_at] == 1 else "LZ4_FRAME"
        position += 8 + length + body_length
    raise AssertionError("no record batch in the stream")


# -- the reference samples are read by the same helper ----------------------------------------


@pytest.mark.parametrize(
    ("sample", "codec"),
    [
        ("arrow_zstd.arrow", "ZSTD"),
        ("arrow_lz4.arrow", "LZ4_FRAME"),
        ("arrow_no_arrow_format_flag.arrow", None),
    ],
)
def test_codec_reader_agrees_with_the_real_server_samples(sample: str, codec: str | None) -> None:
    path = REFERENCE / "samples" / f"materialization-5.26.4.query.{sample}"
    if not path.exists():
        pytest.skip(f"reference sample {path} is not available")
    assert record_batch_codec(path.read_bytes()) == codec


# -- service probes and versions ---------------------------------------------------------------


def test_version_probes_need_no_token(cave: LocalCAVE) -> None:
    with httpx.Client(transport=InProcessTransport(cave.app), base_url=cave.url) as anonymous:
        assert anonymous.get("/materialize/version").text == '"5.26.4"\n'
        assert anonymous.get("/materialize/api/versions").json() == [2, 3]


def test_versions_list_valid_ones_unless_expired_asked(http: httpx.Client, v2: str, v3: str) -> None:
    assert http.get(f"{v2}/versions", params={"expired": "true"}).json() == [2, 3]
    assert http.get(f"{v3}/versions").json() == [2, 3]
    assert http.get(f"{v3}/versions", params={"expired": "true"}).json() == [1, 2, 3]


def test_version_metadata_has_the_analysis_version_shape(
    http: httpx.Client, v3: str, timeline: MaterializationTimeline, cave: LocalCAVE
) -> None:
    records = http.get(f"{v3}/metadata", params={"expired": "True"}).json()
    assert [r["status"] for r in records] == ["EXPIRED", "AVAILABLE", "AVAILABLE"]
    assert [r["valid"] for r in records] == [False, True, True]
    assert [r["is_merged"] for r in records] == [False, False, True]
    assert list(records[0]) == [
        "id",
        "datastack",
        "version",
        "time_stamp",
        "valid",
        "expires_on",
        "status",
        "is_merged",
    ]
    # Fractional seconds appear only when they are not zero.
    assert "." not in records[0]["time_stamp"]
    assert records[1]["time_stamp"].endswith(".123456")
    assert records[2]["time_stamp"].endswith(".654321")
    for record in records:
        stamp = datetime.fromisoformat(record["time_stamp"])
        assert stamp == timeline.version_times[record["version"]]
    graph = cave.deployment.component(SegmentationGraph)
    edits = sorted(t.replace(tzinfo=None) for t in graph.edit_times()[: graph.seeded_epoch])
    older = datetime.fromisoformat(records[1]["time_stamp"])
    assert edits[0] < older < edits[-1], "version 2 must sit between edits"
    assert datetime.fromisoformat(records[0]["time_stamp"]) < edits[0]


def test_unknown_version_answers_bare_strings_or_embedded_404(
    http: httpx.Client, v2: str, v3: str
) -> None:
    missing = http.get(f"{v3}/version/42")
    assert (missing.status_code, missing.json()) == (404, "No version found")
    assert http.get(f"{v2}/version/3").json()["version"] == 3
    # v2 versions are unsigned: a negative one matches no route at all.
    html = http.get(f"{v2}/version/-1")
    assert html.status_code == 404
    assert html.headers["content-type"].startswith("text/html")
    tables = http.get(f"{v2}/version/42/tables")
    assert embedded_error(tables) == "404 Not Found: version 42 does not exist for minnie65_local "


# -- tables ------------------------------------------------------------------------------------


def test_tables_and_counts_follow_the_version_timestamps(
    http: httpx.Client, v2: str, cave: LocalCAVE
) -> None:
    assert http.get(f"{v2}/version/3/tables").json() == [SYNAPSES, NUCLEI, CELL_TYPES]
    older = http.get(f"{v2}/version/2/table/{SYNAPSES}/count").json()
    latest = http.get(f"{v2}/version/3/table/{SYNAPSES}/count").json()
    assert 0 < older < latest <= 20_000
    expired = http.get(f"{v2}/version/1/table/{SYNAPSES}/count")
    assert 'database "minnie65_local__mat1" does not exist' in embedded_error(expired)
    unknown = http.get(f"{v2}/version/3/table/nope/count")
    assert embedded_error(unknown).startswith("404 Not Found: Analysis table 'nope' not found")


def test_v3_twins_of_the_v2_table_routes(http: httpx.Client, v2: str, v3: str) -> None:
    assert http.get(f"{v3}/version/3/tables").json() == http.get(f"{v2}/version/3/tables").json()
    count = http.get(f"{v3}/version/3/table/{SYNAPSES}/count").json()
    assert count == http.get(f"{v2}/version/3/table/{SYNAPSES}/count").json()
    missing = http.get(f"{v3}/version/42/tables")
    assert (missing.status_code, missing.text) == (404, "null\n")


def test_same_seed_same_data_other_seed_other_data() -> None:
    def first_rows(seed: int) -> tuple[pd.DataFrame, list[Any]]:
        cave = LocalCAVE(seed=seed)
        configure_materialization(cave.deployment, synapse_count=200)
        with httpx.Client(
            transport=InProcessTransport(cave.app), base_url=cave.url, headers=bearer(cave.token)
        ) as http:
            base = f"/materialize/api/v3/datastack/{cave.datastack}"
            versions = http.get(f"{base}/metadata", params={"expired": "true"}).json()
            return frame_of(query(http, f"{base}/version/3/table/{SYNAPSES}/query", {})), versions

    frame, versions = first_rows(21)
    again, versions_again = first_rows(21)
    other, _ = first_rows(22)
    pd.testing.assert_frame_equal(frame, again)
    assert versions == versions_again
    assert not frame["pre_pt_supervoxel_id"].equals(other["pre_pt_supervoxel_id"])


def test_table_metadata_v3_merges_the_annotation_and_segmentation_rows(
    http: httpx.Client, v3: str
) -> None:
    record = http.get(f"{v3}/version/3/table/{SYNAPSES}/metadata").json()
    assert record["table_name"] == SYNAPSES
    assert record["schema"] == record["schema_type"] == "synapse"
    assert record["aligned_volume"] == "minnie65_phase3"
    assert (record["voxel_resolution_x"], record["voxel_resolution_z"]) == (4.0, 40.0)
    assert record["pcg_table_name"] == "minnie3_v1"
    assert "annotation_table" not in record
    assert "deleted" not in record
    missing = http.get(f"{v3}/version/3/table/nope/metadata")
    assert missing.status_code == 404
    assert missing.json() == "No table named 'nope' found for version '3' in datastack 'minnie65_local'"
    everything = http.get(f"{v3}/version/2/tables/metadata").json()
    assert [r["table_name"] for r in everything] == [SYNAPSES, NUCLEI, CELL_TYPES]


def test_table_metadata_v2_names_the_segmentation_table_and_sends_the_notice(
    http: httpx.Client, v2: str
) -> None:
    synapses = http.get(f"{v2}/version/3/table/{SYNAPSES}/metadata").json()
    assert synapses["table_name"] == f"{SYNAPSES}__minnie3_v1"
    assert synapses["annotation_table"] == SYNAPSES
    cell_types = http.get(f"{v2}/version/3/table/{CELL_TYPES}/metadata")
    assert cell_types.headers["warning"].startswith(f"Table Owner Notice on {CELL_TYPES}: ")
    assert cell_types.json()["reference_table"] == NUCLEI


def test_unique_string_values(http: httpx.Client, v3: str) -> None:
    values = http.get(f"{v3}/table/{CELL_TYPES}/unique_string_values").json()
    assert set(values) == {"classification_system", "cell_type"}
    assert "aibs_coarse_excitatory" in values["classification_system"]
    assert http.get(f"{v3}/table/{SYNAPSES}/unique_string_values").json() == {}


# -- the wire format ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept_encoding", "params", "codec"),
    [
        ("zstd", TYPED, "ZSTD"),
        ("lz4", TYPED, "LZ4_FRAME"),
        ("zstd, lz4", TYPED, "LZ4_FRAME"),
        ("identity", TYPED, None),
        ("zstd", {**TYPED, "ipc_compress": "false"}, None),
    ],
)
def test_arrow_streams_are_compressed_inside_as_accept_encoding_says(
    http: httpx.Client, v3: str, accept_encoding: str, params: dict[str, str], codec: str | None
) -> None:
    response = query(
        http,
        f"{v3}/version/3/table/{SYNAPSES}/query",
        {"limit": 50},
        params=params,
        encoding=accept_encoding,
    )
    assert response.headers["content-type"] == "data.arrow"
    assert "content-encoding" not in response.headers
    assert response.content[:4] == b"\xff\xff\xff\xff"
    assert int(response.headers["content-length"]) == len(response.content)
    assert record_batch_codec(response.content) == codec
    assert (ZSTD_MAGIC in response.content) == (codec == "ZSTD")
    assert (LZ4_FRAME_MAGIC in response.content) == (codec == "LZ4_FRAME")
    assert len(frame_of(response)) == 50


def test_gzip_is_applied_to_the_whole_body_only_when_accepted(raw_http: httpx.Client, v3: str) -> None:
    path = f"{v3}/version/3/table/{SYNAPSES}/query"
    with raw_http.stream(
        "POST", path, json={"limit": 20}, params=TYPED, headers={"Accept-Encoding": "gzip"}
    ) as response:
        raw = b"".join(response.iter_raw())
        headers = response.headers
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert int(headers["content-length"]) == len(raw)
    stream = gzip.decompress(raw)
    assert record_batch_codec(stream) is None
    assert len(pa.ipc.open_stream(stream).read_all()) == 20


def test_json_records_when_arrow_is_declined(http: httpx.Client, v3: str) -> None:
    response = query(
        http,
        f"{v3}/version/3/table/{SYNAPSES}/query",
        {"limit": 3},
        params={**TYPED, "return_pyarrow": "false"},
        encoding="gzip",
    )
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-encoding"] == "gzip"
    records = response.json()
    assert len(records) == 3
    assert {"pre_pt_position_x", "pre_pt_root_id", "size", "created"} <= set(records[0])
    assert isinstance(records[0]["created"], int)  # epoch milliseconds, as DataFrame.to_json writes


def test_frame_matches_the_server_types_and_headers(http: httpx.Client, v3: str) -> None:
    response = query(http, f"{v3}/version/3/table/{SYNAPSES}/query", {"limit": 5})
    assert response.headers.get_list("dataframe_resolution") == ["4.0", "4.0", "40.0"]
    names = ast.literal_eval(response.headers["column_names"])
    assert names[SYNAPSES]["pre_pt_position"] == "pre_pt_position"
    assert response.headers.get_list("warning") == ['201 - "Limited query to 5 rows']
    schema = pa.ipc.open_stream(response.content).schema
    assert b"pandas" in schema.metadata
    assert schema.field("id").type == pa.int64()
    assert schema.field("created").type == pa.timestamp("ns", tz="UTC")
    assert schema.field("pre_pt_position_x").type == pa.int32()
    assert schema.field("size").type == pa.float32()
    frame = frame_of(response)
    # Split positions, supervoxels before roots, and no deleted column (merged table order).
    assert list(frame.columns) == [
        "id",
        "created",
        "superceded_id",
        "valid",
        "pre_pt_position_x",
        "pre_pt_position_y",
        "pre_pt_position_z",
        "pre_pt_supervoxel_id",
        "pre_pt_root_id",
        "post_pt_position_x",
        "post_pt_position_y",
        "post_pt_position_z",
        "post_pt_supervoxel_id",
        "post_pt_root_id",
        "ctr_pt_position_x",
        "ctr_pt_position_y",
        "ctr_pt_position_z",
        "size",
    ]
    assert str(frame["id"].dtype) == "Int64"


def test_split_version_lists_segmentation_columns_last(http: httpx.Client, v3: str) -> None:
    frame = frame_of(query(http, f"{v3}/version/2/table/{NUCLEI}/query", {"limit": 2}))
    assert list(frame.columns)[-2:] == ["pt_supervoxel_id", "pt_root_id"]


def test_arrow_format_false_replaces_the_warnings(http: httpx.Client, v3: str) -> None:
    response = query(
        http,
        f"{v3}/version/3/table/{CELL_TYPES}/query",
        {"limit": 2},
        params={"direct_sql_pandas": "true"},
    )
    (warning,) = response.headers.get_list("warning")
    assert warning.startswith("Response is in pyarrow IPC format.")


def test_legacy_csv_path_mangles_types_and_warns(http: httpx.Client, v3: str) -> None:
    response = query(
        http,
        f"{v3}/version/3/table/{CELL_TYPES}/query",
        {"limit": 2},
        params={"arrow_format": "true"},
    )
    limit, notice, legacy = response.headers.get_list("warning")
    assert limit == '201 - "Limited query to 2 rows'
    assert notice.startswith(f"Table Owner Notice on {CELL_TYPES}: ")
    assert legacy.startswith("Query was executed using streaming via CSV")
    assert "\n" not in legacy
    frame = frame_of(response)
    assert set(frame["valid"]) == {"t"}
    assert frame["id"].dtype == np.int64


def test_desired_resolution_converts_positions(http: httpx.Client, v3: str) -> None:
    path = f"{v3}/version/3/table/{SYNAPSES}/query"
    voxels = frame_of(query(http, path, {"limit": 10}))
    response = query(http, path, {"limit": 10, "desired_resolution": [1, 1, 1]})
    assert response.headers.get_list("dataframe_resolution") == ["1.0", "1.0", "1.0"]
    nanometres = frame_of(response)
    assert np.array_equal(
        nanometres["pre_pt_position_z"].to_numpy(float), voxels["pre_pt_position_z"].to_numpy(float) * 40
    )
    assert np.array_equal(
        nanometres["ctr_pt_position_x"].to_numpy(float), voxels["ctr_pt_position_x"].to_numpy(float) * 4
    )


# -- filters -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synapses(http: httpx.Client, v3: str) -> pd.DataFrame:
    return frame_of(query(http, f"{v3}/version/3/table/{SYNAPSES}/query", {}))


def filtered(http: httpx.Client, v3: str, kind: str, column: str, value: Any) -> pd.DataFrame:
    body = {kind: {SYNAPSES: {column: value}}}
    return frame_of(query(http, f"{v3}/version/3/table/{SYNAPSES}/query", body))


@pytest.mark.usefixtures("settings")
def test_every_filter_kind(http: httpx.Client, v3: str, synapses: pd.DataFrame, cave: LocalCAVE) -> None:
    roots = synapses["post_pt_root_id"].value_counts().index[:2].tolist()
    inside = filtered(http, v3, "filter_in_dict", "post_pt_root_id", roots)
    assert len(inside) == synapses["post_pt_root_id"].isin(roots).sum() > 0
    configure_materialization(cave.deployment, exclusion_filter_applied=True)  # the idealised option
    outside = filtered(http, v3, "filter_notin_dict", "post_pt_root_id", roots)
    assert len(outside) == len(synapses) - len(inside)
    size = float(synapses["size"].median())
    expectations = {
        "filter_equal_dict": synapses["size"] == size,
        "filter_greater_dict": synapses["size"] > size,
        "filter_less_dict": synapses["size"] < size,
        "filter_greater_equal_dict": synapses["size"] >= size,
        "filter_less_equal_dict": synapses["size"] <= size,
    }
    for kind, expected in expectations.items():
        assert len(filtered(http, v3, kind, "size", size)) == expected.sum() > 0, kind


def test_spatial_filter_takes_a_box_in_voxels(
    http: httpx.Client, v3: str, synapses: pd.DataFrame
) -> None:
    points = synapses[["pre_pt_position_x", "pre_pt_position_y", "pre_pt_position_z"]].to_numpy(float)
    low, high = np.percentile(points, 25, axis=0), np.percentile(points, 75, axis=0)
    box = [low.tolist(), high.tolist()]
    found = filtered(http, v3, "filter_spatial_dict", "pre_pt_position", box)
    expected = np.all((points >= low) & (points <= high), axis=1).sum()
    assert len(found) == expected > 0
    reversed_box = filtered_error(http, v3, "filter_spatial_dict", "pre_pt_position", [box[1], box[0]])
    assert reversed_box.startswith("min bounds:")


def filtered_error(http: httpx.Client, v3: str, kind: str, column: str, value: Any) -> str:
    body = {kind: {SYNAPSES: {column: value}}}
    return embedded_error(query(http, f"{v3}/version/3/table/{SYNAPSES}/query", body))


def test_regex_filter_on_strings_only(http: httpx.Client, v3: str) -> None:
    body = {"filter_regex_dict": {CELL_TYPES: {"cell_type": "^5P"}}}
    found = frame_of(query(http, f"{v3}/version/3/table/{CELL_TYPES}/query", body))
    assert len(found) > 0
    assert found["cell_type"].str.startswith("5P").all()
    error = filtered_error(http, v3, "filter_regex_dict", "size", "1")
    assert error == "Regex filter is only supported on string columns"


@pytest.fixture
def settings(cave: LocalCAVE) -> Iterator[MaterializationSettings]:
    """The module deployment's settings, restored after the test."""
    current = MaterializationSettings.of(cave.deployment)
    saved = (current.query_limit_size, current.exclusion_filter_applied)
    yield current
    current.query_limit_size, current.exclusion_filter_applied = saved


def test_exclusion_filter_is_ignored_by_default_like_the_5_26_4_server(
    http: httpx.Client, v3: str, synapses: pd.DataFrame
) -> None:
    excluded = {"filter_notin_dict": {SYNAPSES: {"id": synapses["id"].tolist()[:10]}}}
    path = f"{v3}/version/3/table/{SYNAPSES}/query"
    assert len(frame_of(query(http, path, excluded))) == len(synapses)


def test_exclusion_filter_is_applied_when_idealised(synapses: pd.DataFrame) -> None:
    idealised = LocalCAVE(seed=3, idealised=["exclusion_filters"])
    excluded = {"filter_notin_dict": {SYNAPSES: {"id": synapses["id"].tolist()[:10]}}}
    path = f"/materialize/api/v3/datastack/{idealised.datastack}/version/3/table/{SYNAPSES}/query"
    with SpecCheckedClient(idealised, idealised.token) as http:
        assert len(frame_of(query(http, path, excluded))) == len(synapses) - 10


def test_select_columns_brings_supervoxels_with_roots(http: httpx.Client, v3: str) -> None:
    body = {"select_columns": ["id", "post_pt_root_id", "size"], "limit": 3}
    frame = frame_of(query(http, f"{v3}/version/3/table/{SYNAPSES}/query", body))
    assert list(frame.columns) == ["id", "post_pt_supervoxel_id", "post_pt_root_id", "size"]
    unknown = {"select_columns": ["nope"]}
    message = embedded_error(query(http, f"{v3}/version/3/table/{SYNAPSES}/query", unknown))
    assert message == f"nope not in model or models for {SYNAPSES}"


def test_offset_limit_count_and_random_sample(
    http: httpx.Client, v3: str, synapses: pd.DataFrame
) -> None:
    path = f"{v3}/version/3/table/{SYNAPSES}/query"
    page = frame_of(query(http, path, {"offset": 10, "limit": 5}))
    assert page["id"].tolist() == synapses["id"].tolist()[10:15]
    counted = frame_of(query(http, path, {}, params={**TYPED, "count": "true"}))
    assert counted["count"].tolist() == [len(synapses)]
    sampled = frame_of(query(http, path, {}, params={**TYPED, "random_sample": "2000"}))
    assert 1000 < len(sampled) < 3000
    assert set(sampled["id"]) <= set(synapses["id"])


@pytest.mark.usefixtures("settings")
def test_server_row_limit_and_its_warning(http: httpx.Client, v3: str, cave: LocalCAVE) -> None:
    configure_materialization(cave.deployment, query_limit_size=100)
    response = query(http, f"{v3}/version/3/table/{SYNAPSES}/query", {"limit": 1000})
    assert len(frame_of(response)) == 100
    assert response.headers.get_list("warning") == ['201 - "Limited query to 100 rows']
    info = http.get(f"{v3}/version/3/table/{SYNAPSES}/info")
    assert (info.status_code, info.json()) == (400, "Table too large to return info")


# -- joins -------------------------------------------------------------------------------------


def test_join_with_suffix_map_merges_a_reference_table(http: httpx.Client, v3: str) -> None:
    body = {
        "tables": [[CELL_TYPES, "target_id"], [NUCLEI, "id"]],
        "suffix_map": {CELL_TYPES: "", NUCLEI: "_ref"},
        "limit": 10,
    }
    response = query(http, f"{v3}/version/3/query", body)
    frame = frame_of(response)
    assert (frame["target_id"] == frame["id_ref"]).all()
    assert {"cell_type", "volume", "pt_root_id", "pt_position_x"} <= set(frame.columns)
    assert "deleted" not in frame
    assert "superceded_id_ref" not in frame
    names = ast.literal_eval(response.headers["column_names"])
    assert names[NUCLEI]["id"] == "id_ref"
    assert response.headers.get_list("warning")[0].startswith("Table Owner Notice on")


def test_join_without_suffixes_uses_the_default_suffix_letters(http: httpx.Client, v3: str) -> None:
    body = {"tables": [[CELL_TYPES, "target_id"], [NUCLEI, "id"]], "limit": 2}
    frame = frame_of(query(http, f"{v3}/version/3/query", body))
    assert {"idx", "idy", "validx", "validy"} <= set(frame.columns)


def test_v2_queries_fail_after_running_as_in_5_26_4(http: httpx.Client, v2: str) -> None:
    simple = http.post(f"{v2}/version/3/table/{SYNAPSES}/query", json={"limit": 1})
    assert embedded_error(simple) == "'ipc_compress'"
    join = http.post(
        f"{v2}/version/3/query", json={"tables": [[CELL_TYPES, "target_id"], [NUCLEI, "id"]]}
    )
    assert embedded_error(join) == "'ipc_compress'"
    missing = http.post(f"{v2}/version/3/table/nope/query", json={})
    assert embedded_error(missing).startswith("404 Not Found:")


# -- live queries and root ids over time -------------------------------------------------------


def test_frozen_root_ids_are_those_of_the_version_and_live_ones_those_of_now(
    http: httpx.Client, v3: str, cave: LocalCAVE, timeline: MaterializationTimeline
) -> None:
    graph = cave.deployment.component(SegmentationGraph)
    older = frame_of(query(http, f"{v3}/version/2/table/{SYNAPSES}/query", {}))
    moment = timeline.version_times[2].replace(tzinfo=UTC)
    supervoxels = older["pre_pt_supervoxel_id"].to_numpy(np.uint64)
    assert np.array_equal(
        older["pre_pt_root_id"].to_numpy(np.uint64), graph.roots_at(supervoxels, moment)
    )
    now = datetime.now(UTC)
    live = frame_of(query(http, f"{v3}/query", {"table": SYNAPSES, "timestamp": now.isoformat()}))
    merged = older.merge(live, on="id", suffixes=("_then", "_now"))
    changed = merged["pre_pt_root_id_then"] != merged["pre_pt_root_id_now"]
    assert changed.any(), "edits after version 2 must change some root ids"
    assert (merged["pre_pt_supervoxel_id_then"] == merged["pre_pt_supervoxel_id_now"]).all()
    assert np.array_equal(
        live["pre_pt_root_id"].to_numpy(np.uint64),
        graph.roots_at(live["pre_pt_supervoxel_id"].to_numpy(np.uint64), now),
    )
    # A live query at the version's own moment sees what the version froze.
    at_version = frame_of(
        query(
            http,
            f"{v3}/query",
            {"table": SYNAPSES, "timestamp": (moment + timedelta(seconds=1)).isoformat()},
        )
    )
    assert set(at_version["id"]) == set(older["id"])


def test_live_query_filters_on_roots_valid_at_the_moment(
    http: httpx.Client, v3: str, cave: LocalCAVE, timeline: MaterializationTimeline
) -> None:
    graph = cave.deployment.component(SegmentationGraph)
    older = frame_of(query(http, f"{v3}/version/2/table/{SYNAPSES}/query", {}))
    now = datetime.now(UTC)
    alive_now = set(graph.roots_alive_at(now).tolist())
    retired = next(int(r) for r in older["post_pt_root_id"] if int(r) not in alive_now)
    current = next(int(r) for r in older["post_pt_root_id"] if int(r) in alive_now)
    body = {
        "table": SYNAPSES,
        "timestamp": now.isoformat(),
        "filter_in_dict": {SYNAPSES: {"post_pt_root_id": [current]}},
        "select_columns": {SYNAPSES: ["id", "post_pt_root_id"]},
    }
    found = frame_of(query(http, f"{v3}/query", body))
    assert list(found.columns) == ["id", "post_pt_root_id"]
    assert len(found) > 0
    assert (found["post_pt_root_id"] == current).all()
    body["filter_in_dict"] = {SYNAPSES: {"post_pt_root_id": [retired]}}
    message = embedded_error(query(http, f"{v3}/query", body))
    assert message.startswith(
        "400 Bad Request: Some root_ids passed are not valid at the query timestamp"
    )
    body["filter_in_dict"] = {SYNAPSES: {"post_pt_root_id": [retired, current]}}
    allowed = query(http, f"{v3}/query", body, params={**TYPED, "allow_invalid_root_ids": "true"})
    assert allowed.headers.get_list("warning")[0].startswith("Some root_ids passed are not valid")
    assert len(frame_of(allowed)) == len(found)


def test_live_query_requires_table_and_timestamp(http: httpx.Client, v3: str) -> None:
    message = embedded_error(query(http, f"{v3}/query", {"table": SYNAPSES}))
    assert message == (
        "400 Bad Request: Error parsing request body: "
        "{'timestamp': ['Missing data for required field.']}"
    )
    unknown = embedded_error(query(http, f"{v3}/query", {"table": SYNAPSES, "timestamp": "x", "foo": 1}))
    assert "'foo': ['Unknown field.']" in unknown
    assert "Not a valid datetime." in unknown


def test_aborts_come_back_as_500_with_the_status_inside(http: httpx.Client, v3: str) -> None:
    assert embedded_error(query(http, f"{v3}/version/9/table/{SYNAPSES}/query", {})) == (
        "404 Not Found: version 9 not found in minnie65_local"
    )
    assert embedded_error(query(http, f"{v3}/version/1/table/{SYNAPSES}/query", {})).startswith(
        "(psycopg2.OperationalError)"
    )


# -- views -------------------------------------------------------------------------------------


def test_views_metadata_schema_and_query(http: httpx.Client, v3: str) -> None:
    views = http.get(f"{v3}/version/3/views").json()
    assert list(views) == [VIEW]
    assert views[VIEW]["live_compatible"] is True
    assert "table_name" not in views[VIEW]
    metadata = http.get(f"{v3}/version/3/views/{VIEW}/metadata").json()
    assert metadata["table_name"] == VIEW
    assert metadata["voxel_resolution_z"] == 40.0
    schema = http.get(f"{v3}/version/3/views/{VIEW}/schema").json()
    assert schema["pt_position"] == {"type": "SpatialPoint"}
    assert schema["cell_type"] == {"type": "string"}
    assert http.get(f"{v3}/version/0/views/schemas").json() == {VIEW: schema}
    frame = frame_of(query(http, f"{v3}/version/3/views/{VIEW}/query", {}))
    assert frame["pt_root_id"].is_unique
    assert (frame["pt_root_id"] != 0).all()
    chosen = frame["cell_type"].dropna().iloc[0]
    body = {"filter_equal_dict": {VIEW: {"cell_type": chosen}}}
    typed = frame_of(query(http, f"{v3}/version/3/views/{VIEW}/query", body))
    assert len(typed) == (frame["cell_type"] == chosen).sum()
    counted = frame_of(
        query(http, f"{v3}/version/0/views/{VIEW}/query", {}, params={**TYPED, "count": "true"})
    )
    assert counted["count"].iloc[0] > 0


# -- neuroglancer documents --------------------------------------------------------------------


def test_segment_properties_of_a_reference_table(http: httpx.Client, v3: str) -> None:
    document = http.get(
        f"{v3}/version/3/table/{CELL_TYPES}/info", params={"label_columns": "cell_type,id"}
    ).json()
    assert document["@type"] == "neuroglancer_segment_properties"
    inline = document["inline"]
    kinds = {prop["id"]: prop for prop in inline["properties"]}
    assert kinds["label"]["values"][0].count("_") >= 1
    assert "aibs_coarse_excitatory" in kinds["tags"]["tags"]
    assert kinds["volume"]["data_type"] == "float32"
    assert all(len(prop["values"]) == len(inline["ids"]) for prop in inline["properties"])
    live = http.get(f"{v3}/table/{NUCLEI}/info").json()
    assert live["inline"]["ids"]
    assert all(value.isdigit() for value in live["inline"]["ids"])


def test_precomputed_annotation_info(http: httpx.Client, v3: str) -> None:
    synapses = http.get(f"{v3}/table/{SYNAPSES}/precomputed/info").json()
    assert synapses["annotation_type"] == "line"
    assert [r["id"] for r in synapses["relationships"]] == ["pre_pt_root_id", "post_pt_root_id"]
    assert synapses["spatial"][0]["key"] == "spatial_overview"
    nuclei = http.get(f"{v3}/table/{NUCLEI}/precomputed/info").json()
    assert nuclei["annotation_type"] == "point"
    assert all(
        upper > lower for lower, upper in zip(nuclei["lower_bound"], nuclei["upper_bound"], strict=True)
    )
    cell_types = http.get(f"{v3}/table/{CELL_TYPES}/precomputed/info").json()
    enumerated = {p["id"]: p for p in cell_types["properties"] if p["type"] == "uint32"}
    assert enumerated["cell_type"]["enum_labels"] == sorted(enumerated["cell_type"]["enum_labels"])


# -- workflow triggers -------------------------------------------------------------------------


def test_workflow_triggers_need_edit_permission(http: httpx.Client, cave: LocalCAVE) -> None:
    base = "/materialize/api/v2/materialize/run"
    ingest = f"{base}/ingest_annotations/datastack/{cave.datastack}/{SYNAPSES}"
    lookup = f"{base}/lookup_svid/datastack/{cave.datastack}/{SYNAPSES}"
    assert (http.post(ingest).status_code, http.post(ingest).text) == (200, "200\n")
    assert http.post(lookup, json={"annotation_ids": [1, 2]}).json() == 200
    assert http.post(lookup, json={}).json() == 200
    viewer = bearer(cave.token_for("viewer"))
    refused = http.post(ingest, headers=viewer)
    assert refused.status_code == 403
    assert refused.json()["error"] == "missing_permission"
    editor = cave.add_user(LocalUser("mat_editor", permissions={cave.aligned_volume: ("view", "edit")}))
    assert http.post(lookup, json={"annotation_ids": "x"}, headers=bearer(editor)).status_code == 500


def test_private_tables_are_read_by_their_owner_only(
    cave: LocalCAVE, http: httpx.Client, v3: str
) -> None:
    volume = cave.aligned_volume
    table = "private_notes"
    created = http.post(
        f"/annotation/api/v2/aligned_volume/{volume}/table",
        json={
            "table_name": table,
            "schema_type": "bound_tag",
            "metadata": {
                "description": "mine",
                "voxel_resolution_x": 4,
                "voxel_resolution_y": 4,
                "voxel_resolution_z": 40,
                "read_permission": "PRIVATE",
            },
        },
    )
    assert created.status_code == 200
    reader = cave.add_user(LocalUser("mat_reader", permissions={volume: ("view",)}))
    now = datetime.now(UTC).isoformat()
    refused = http.post(
        f"{v3}/query", json={"table": table, "timestamp": now}, params=TYPED, headers=bearer(reader)
    )
    assert embedded_error(refused) == (
        "401 Unauthorized: Unauthorized: The table can only be read by its owner"
    )
    assert frame_of(query(http, f"{v3}/query", {"table": table, "timestamp": now})).empty


def test_restricted_datastack_needs_its_own_permission(http: httpx.Client, cave: LocalCAVE) -> None:
    path = f"/materialize/api/v3/datastack/{cave.restricted_datastack}/versions"
    assert http.get(path).json() == [2, 3]
    refused = http.get(path, headers=bearer(cave.token_for("viewer")))
    assert refused.status_code == 403


def test_module_reads_the_reference_gzip_sample_like_ours() -> None:
    path = REFERENCE / "samples" / "materialization-5.26.4.query.arrow_uncompressed_gzip_http.arrow.gz"
    if not path.exists():
        pytest.skip("reference sample not available")
    stream = gzip.decompress(path.read_bytes())
    assert record_batch_codec(stream) is None
    assert pa.ipc.open_stream(io.BytesIO(stream)).read_all().num_rows == 2


# Exchanges of this module that specs/ leaves out on purpose.
_OUTSIDE_THE_SPEC = (
    "GET /materialize/api/v2/datastack/minnie65_local/version/-1 -> 404: media type 'text/html'",
    "/version/3/tables -> 200: no spec documents this route",
    "/version/42/tables -> 404: no spec documents this route",
    "/version/3/table/synapses_pni_2/count -> 200: no spec documents this route",
    # Created through the annotation engine, whose spec records the real text/html label on the
    # response rather than on its media entry, where the validator looks for it.
    "POST /annotation/api/v2/aligned_volume/minnie65_phase3/table -> 200: media type 'text/html'",
)


def test_every_exchange_of_this_module_matches_the_spec(http: SpecCheckedClient) -> None:
    unexpected = [
        problem for problem in http.problems if not any(known in problem for known in _OUTSIDE_THE_SPEC)
    ]
    assert unexpected == []
