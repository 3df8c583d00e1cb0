"""Decoding materialization query answers: Arrow streams and JSON records into exact DataFrames."""

from __future__ import annotations

import gzip
import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from caveclient_gen._tables.frames import (
    CAVEServerWarning,
    arrow_to_frame,
    decode_query_body,
    merge_position_columns,
    parse_column_names,
    parse_resolution,
    position_groups,
    query_headers,
    raise_server_warnings,
    rescale_positions,
    stack_positions,
)
from caveclient_gen.errors import UnexpectedResponseError

from .materialize_support import SAMPLES, arrow_stream, synapse_frame

CASES = SAMPLES / "materialization-5.26.4.query.cases.json"
needs_samples = pytest.mark.skipif(not CASES.exists(), reason="reference samples not available")


# ---------------------------------------------------------------- Arrow


@pytest.mark.parametrize("compression", ["zstd", "lz4", None])
def test_arrow_streams_decode_with_exact_types(compression: str | None) -> None:
    frame = arrow_to_frame(arrow_stream(synapse_frame(), compression))
    assert list(frame.columns) == list(synapse_frame().columns)
    assert frame["id"].dtype == np.int64
    assert frame["pre_pt_root_id"].tolist() == [864691135000000001, 864691135000000002, 5]
    assert str(frame["created"].dtype) == "datetime64[ns, UTC]"
    assert frame["created"].iloc[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert frame["valid"].dtype == bool
    assert frame["size"].tolist() == [1.5, 2.5, 3.5]


def test_uint64_ids_beyond_int64_survive() -> None:
    big = np.array([2**64 - 1, 2**63 + 5], dtype=np.uint64)
    frame = arrow_to_frame(arrow_stream(pd.DataFrame({"root_id": big})))
    assert frame["root_id"].dtype == np.uint64
    assert frame["root_id"].tolist() == [2**64 - 1, 2**63 + 5]


def test_integer_columns_with_missing_values_stay_exact() -> None:
    table = pa.table({"root_id": pa.array([864691135000000001, None], pa.int64()), "x": [1, 2]})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    frame = arrow_to_frame(sink.getvalue().to_pybytes())
    assert str(frame["root_id"].dtype) == "Int64"
    assert frame["root_id"].iloc[0] == 864691135000000001
    assert pd.isna(frame["root_id"].iloc[1])
    assert list(frame.columns) == ["root_id", "x"]


def test_timezone_aware_arrow_timestamps_are_kept_in_utc() -> None:
    created = pd.to_datetime(["2024-01-01T05:00:00+05:00"]).astype("M8[ns, Asia/Karachi]")
    frame = arrow_to_frame(arrow_stream(pd.DataFrame({"created": created})))
    assert frame["created"].iloc[0] == pd.Timestamp("2024-01-01T00:00:00", tz="UTC")


def test_garbage_is_not_an_arrow_stream() -> None:
    with pytest.raises(UnexpectedResponseError):
        arrow_to_frame(b"\xff\xff\xff\xffnot arrow at all")
    with pytest.raises(UnexpectedResponseError):
        decode_query_body(b"<html>oops</html>", "text/html")


def test_content_type_dispatch() -> None:
    body = arrow_stream(synapse_frame())
    assert len(decode_query_body(body, "data.arrow")) == 3
    assert len(decode_query_body(body, "application/vnd.apache.arrow.stream")) == 3
    assert len(decode_query_body(body, None)) == 3  # recognized by its continuation marker
    records = json.dumps([{"id": 1, "root_id": 2**64 - 1}, {"id": 2, "root_id": 2**63}]).encode()
    frame = decode_query_body(records, "application/json")
    assert frame["root_id"].dtype == np.uint64
    assert frame["root_id"].tolist() == [2**64 - 1, 2**63]
    assert frame["id"].dtype == np.int64


# ---------------------------------------------------------------- positions


def test_positions_merge_into_rows_of_one_array() -> None:
    frame = merge_position_columns(arrow_to_frame(arrow_stream(synapse_frame())))
    # As caveclient 8.2.1: the merged columns at the end, in the order of their triples.
    assert list(frame.columns) == [
        "id",
        "created",
        "valid",
        "pre_pt_supervoxel_id",
        "pre_pt_root_id",
        "post_pt_supervoxel_id",
        "post_pt_root_id",
        "size",
        "pre_pt_position",
        "post_pt_position",
    ]
    cell = frame["pre_pt_position"].iloc[1]
    assert isinstance(cell, np.ndarray)
    assert cell.tolist() == [20, 21, 22]
    stacked = stack_positions(frame["pre_pt_position"])
    assert stacked.shape == (3, 3)
    assert stacked.dtype == np.int64
    # every cell is a view of one (N, 3) block: no per-row arrays were built
    assert frame["pre_pt_position"].iloc[0].base is frame["pre_pt_position"].iloc[2].base


def test_position_groups_need_the_three_axes_in_order() -> None:
    columns = ["a_x", "a_y", "a_z", "b_x", "b_z", "b_y", "c_x", "c_y"]
    assert position_groups(columns) == [("a", 0)]


def test_merge_keeps_attrs_and_leaves_frames_without_positions_alone() -> None:
    frame = pd.DataFrame({"id": [1]})
    frame.attrs["kept"] = True
    assert merge_position_columns(frame) is frame
    positions = pd.DataFrame({"p_x": [1], "p_y": [2], "p_z": [3]})
    positions.attrs["kept"] = True
    assert merge_position_columns(positions).attrs == {"kept": True}


def test_merged_positions_of_a_frame_without_rows_are_float64_as_caveclients() -> None:
    empty = pd.DataFrame({"id": pd.Series([], dtype="Int64"), **{f"p_{a}": [] for a in "xyz"}})
    merged = merge_position_columns(empty)
    assert list(merged.columns) == ["id", "p"]
    assert merged["p"].dtype == np.float64


def test_rescale_converts_split_positions_only() -> None:
    frame = arrow_to_frame(arrow_stream(synapse_frame()))
    scaled = rescale_positions(frame, [4, 4, 40], [1, 1, 1])
    assert scaled["pre_pt_position_x"].tolist() == [40, 80, 120]
    assert scaled["pre_pt_position_z"].tolist() == [480, 880, 1280]
    assert scaled["pre_pt_root_id"].tolist() == frame["pre_pt_root_id"].tolist()
    assert rescale_positions(frame, [4, 4, 40], [4, 4, 40]) is frame


def positions_stream(rows: int) -> tuple[bytes, dict[str, np.ndarray]]:
    generator = np.random.default_rng(1)
    columns: dict[str, np.ndarray] = {"id": np.arange(rows, dtype=np.int64)}
    for point in ("pre_pt", "post_pt", "ctr_pt"):
        for axis in "xyz":
            columns[f"{point}_position_{axis}"] = generator.integers(0, 10**6, rows)
    columns["pre_pt_root_id"] = generator.integers(2**60, 2**63 - 1, rows)
    return arrow_stream(pd.DataFrame(columns)), columns


def decode_counting_steps(body: bytes) -> tuple[pd.DataFrame, int]:
    """The decoded frame, and how many Python lines and calls decoding ran (each loop pass runs
    its lines again, so a step per row shows)."""
    steps = 0

    def count(_frame: FrameType, _event: str, _arg: object) -> Callable[..., object]:
        nonlocal steps
        steps += 1
        return count

    previous = sys.gettrace()  # a coverage tracer, say: put back afterwards
    sys.settrace(count)
    try:
        frame = merge_position_columns(arrow_to_frame(body))
    finally:
        sys.settrace(previous)
    return frame, steps


def test_decoding_a_million_rows_is_vectorized() -> None:
    """Steps are counted, not seconds (a machine's speed does not matter): decoding a million rows
    runs no more Python steps than decoding a thousand, so none runs per row."""
    rows = 1_000_000
    _, steps_for_few = decode_counting_steps(positions_stream(1_000)[0])
    body, columns = positions_stream(rows)
    frame, steps = decode_counting_steps(body)
    assert len(frame) == rows
    assert np.array_equal(stack_positions(frame["ctr_pt_position"])[:, 2], columns["ctr_pt_position_z"])
    assert np.array_equal(frame["pre_pt_root_id"].to_numpy(), columns["pre_pt_root_id"])
    assert steps <= steps_for_few + 1000, f"{steps} steps for {rows} rows, {steps_for_few} for 1000"


# ---------------------------------------------------------------- headers


def test_headers_one_line_per_warning_and_resolution_value() -> None:
    headers = httpx.Headers(
        [
            ("warning", 'Table Owner Notice on synapses: do not use, it is "draft"'),
            ("warning", '201 - "Limited query to 200000 rows'),
            ("dataframe_resolution", "4.0"),
            ("dataframe_resolution", "4.0"),
            ("dataframe_resolution", "40.0"),
            ("column_names", "{'synapses': {'id': 'id'}}"),
        ]
    )
    parsed = query_headers(headers)
    assert parsed.warnings == (
        'Table Owner Notice on synapses: do not use, it is "draft"',
        '201 - "Limited query to 200000 rows',
    )
    assert parsed.dataframe_resolution == [4.0, 4.0, 40.0]
    assert parsed.column_names == "{'synapses': {'id': 'id'}}"


def test_folded_resolution_and_absent_headers() -> None:
    assert parse_resolution(["4.0, 4.0, 40.0"]) == [4.0, 4.0, 40.0]
    assert parse_resolution([]) is None
    assert parse_resolution(["a, b, c"]) is None
    empty = query_headers(httpx.Headers())
    assert (empty.warnings, empty.dataframe_resolution, empty.column_names) == ((), None, None)


def test_column_names_header_is_a_python_repr() -> None:
    text = "{'syn': {'id': 'id_syn', 'pre_pt_root_id': 'pre_pt_root_id'}}"
    assert parse_column_names(text) == {"syn": {"id": "id_syn", "pre_pt_root_id": "pre_pt_root_id"}}
    assert parse_column_names("__import__('os')") == {}
    assert parse_column_names(None) == {}


def test_server_warnings_become_python_warnings_unless_silenced() -> None:
    with pytest.warns(CAVEServerWarning, match="Limited query"):
        raise_server_warnings(['201 - "Limited query to 10 rows'])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        raise_server_warnings(["ignored"], log_warning=False)
    assert issubclass(CAVEServerWarning, UserWarning)


# ---------------------------------------------------------------- the server's own bodies


def _sample_cases() -> list[dict[str, object]]:
    if not CASES.exists():
        return []
    cases: list[dict[str, object]] = json.loads(CASES.read_text())["cases"]
    return cases


@needs_samples
@pytest.mark.parametrize("case", _sample_cases(), ids=lambda case: str(case["case"]))
def test_real_server_bodies_decode(case: dict[str, object]) -> None:
    content = (Path(SAMPLES) / str(case["body_file"])).read_bytes()
    headers = httpx.Headers([tuple(pair) for pair in case["response_headers"]])  # type: ignore[attr-defined]
    if headers.get("content-encoding") == "gzip":
        content = gzip.decompress(content)
    frame = decode_query_body(content, headers.get("content-type"))
    assert frame["id"].tolist() == [1, 2]
    assert frame["pre_pt_root_id"].tolist() == [864691135000000001, 864691135000000002]
    merged = merge_position_columns(frame)
    assert merged["pre_pt_position"].iloc[0].tolist() == [100, 300, 10]
    parsed = query_headers(headers)
    assert parsed.dataframe_resolution == [4.0, 4.0, 40.0]
    assert parse_column_names(parsed.column_names)["synapses"]["id"] == "id"
    if "data.arrow" in str(headers.get("content-type")):
        assert str(frame["created"].dtype) == "datetime64[ns, UTC]"
        assert frame["created"].iloc[1] == pd.Timestamp("2023-01-02T12:00:00", tz="UTC")


def test_big_filters_in_attrs_do_not_slow_every_frame_operation() -> None:
    import copy

    from caveclient_gen._tables.query_filters import single_table_filters

    ids = list(range(1_000_000))
    filters = single_table_filters("t", {"filter_in_dict": {"root_id": np.array(ids)}})
    recorded = filters.attrs()
    assert recorded["inclusive"]["root_id"] == ids
    assert json.loads(json.dumps(recorded))["inclusive"]["root_id"][-1] == 999_999
    assert copy.deepcopy(recorded)["inclusive"]["root_id"] is recorded["inclusive"]["root_id"]


def test_the_servers_nullable_pandas_dtypes_are_kept_as_caveclient_keeps_them() -> None:
    """5.26.4 reads SQL with dtype_backend="numpy_nullable", so its stream's pandas metadata asks
    for Int64/boolean/Float32 whatever the data; caveclient's read_pandas honours it, so do we."""
    sent = pd.DataFrame(
        {
            "id": pd.array([1, 2], dtype="Int64"),
            "pre_pt_root_id": pd.array([864691135000000001, 2**63 - 1], dtype="Int64"),
            "superceded_id": pd.array([None, 5], dtype="Int64"),
            "valid": pd.array([True, False], dtype="boolean"),
            "flag": pd.array([True, None], dtype="boolean"),
            "size": pd.array([1.5, None], dtype="Float32"),
            "pt_position_x": pd.array([1, 2], dtype="Int32"),
            "pt_position_y": pd.array([3, 4], dtype="Int32"),
            "pt_position_z": pd.array([5, 6], dtype="Int32"),
        }
    )
    frame = arrow_to_frame(arrow_stream(sent))
    assert [str(dtype) for dtype in frame.dtypes] == [
        "Int64",
        "Int64",
        "Int64",
        "boolean",
        "boolean",
        "Float32",
        "Int32",
        "Int32",
        "Int32",
    ]
    assert frame["pre_pt_root_id"].tolist() == [864691135000000001, 2**63 - 1]
    assert frame["superceded_id"].iloc[1] == 5
    assert pd.isna(frame["size"].iloc[1])
    merged = merge_position_columns(frame)
    assert list(merged.columns)[-1] == "pt_position"
    assert merged["pt_position"].iloc[1].dtype == np.int64
    assert merged["pt_position"].iloc[1].tolist() == [2, 4, 6]
