"""client.annotation against a fake annotation engine: exact requests, results, batch uploads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from caveclient_gen import InvalidInputError, NotFoundError
from caveclient_gen.errors import CAVEServerWarning
from caveclient_gen.services.annotation import (
    AnnotationClient,
    AnnotationUploadError,
    StagedAnnotations,
)

from .materialize_support import ANNOTATION, SYNAPSE_SCHEMA, FakeCAVE, body_of

TABLE = f"{ANNOTATION}/table"
ROWS = f"{ANNOTATION}/table/synapses/annotations"


def annotation_metadata(**changes: Any) -> dict[str, Any]:
    record = {
        "id": 3,
        "schema_type": "synapse",
        "table_name": "synapses",
        "valid": True,
        "created": "2024-01-01T00:00:00",
        "deleted": None,
        "user_id": "12",
        "description": "synapses",
        "notice_text": None,
        "reference_table": None,
        "flat_segmentation_source": None,
        "voxel_resolution_x": 4.0,
        "voxel_resolution_y": 4.0,
        "voxel_resolution_z": 40.0,
        "read_permission": "PUBLIC",
        "write_permission": "PRIVATE",
        "last_modified": "2024-01-02T00:00:00",
    }
    record.update(changes)
    return record


def synapse_row(size: float) -> dict[str, Any]:
    return {
        "pre_pt_position": [1, 2, 3],
        "post_pt_position": [4, 5, 6],
        "ctr_pt_position": [7, 8, 9],
        "size": size,
    }


@pytest.fixture
def fake() -> FakeCAVE:
    return FakeCAVE()


# ---------------------------------------------------------------- tables


def test_get_tables_is_keyed_by_aligned_volume(fake: FakeCAVE) -> None:
    fake.route("GET", TABLE, ["synapses", "cells"])
    client = fake.annotation()
    assert client.get_tables() == ["synapses", "cells"]
    fake.route("GET", "/annotation/api/v2/aligned_volume/other/table", ["x"])
    assert client.get_tables(aligned_volume_name="other") == ["x"]
    assert fake.sent("GET", TABLE)[0].url.host == "local.test"
    assert client.aligned_volume_name == "vol"


def test_get_tables_with_a_timestamp_warns_instead_of_failing(fake: FakeCAVE) -> None:
    fake.route("GET", TABLE, ["synapses"])
    client = fake.annotation()
    with pytest.warns(UserWarning, match="ignores timestamp"):
        assert client.get_tables(timestamp=datetime(2024, 1, 1, tzinfo=UTC)) == ["synapses"]
    with pytest.raises(InvalidInputError, match="timezone"):
        client.get_tables(timestamp=datetime(2024, 1, 1))


def test_count_metadata_and_delete(fake: FakeCAVE) -> None:
    fake.route("GET", f"{TABLE}/synapses/count", 17)
    fake.route(
        "GET",
        f"{TABLE}/synapses",
        httpx.Response(
            201,
            json=annotation_metadata(notice_text="draft"),
            headers={"warning": "Table Owner Notice: draft"},
        ),
    )
    fake.route("DELETE", f"{TABLE}/synapses", True)
    client = fake.annotation()
    assert client.get_annotation_count("synapses") == 17
    with pytest.warns(CAVEServerWarning, match="draft"):
        meta = client.get_table_metadata("synapses")
    assert meta["voxel_resolution"] == [4.0, 4.0, 40.0]
    assert "voxel_resolution_x" not in meta
    assert client.delete_table("synapses") is True


def test_create_table_body(fake: FakeCAVE) -> None:
    fake.route(
        "POST", TABLE, httpx.Response(200, text="my_cells", headers={"content-type": "text/html"})
    )
    name = fake.annotation().create_table(
        "my_cells",
        "cell_type_reference",
        "cell types of nuclei",
        voxel_resolution=np.array([4, 4, 40]),
        reference_table="nuclei",
        track_target_id_updates=True,
        user_id=12,
        notice_text="None",
        read_permission="GROUP",
    )
    assert name == "my_cells"
    assert body_of(fake.only("POST", TABLE)) == {
        "table_name": "my_cells",
        "schema_type": "cell_type_reference",
        "metadata": {
            "description": "cell types of nuclei",
            "voxel_resolution_x": 4.0,
            "voxel_resolution_y": 4.0,
            "voxel_resolution_z": 40.0,
            "user_id": "12",
            "table_metadata": {"reference_table": "nuclei", "track_target_id_updates": True},
            "read_permission": "GROUP",
            "write_permission": "PRIVATE",
            "notice_text": "",
        },
    }


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ({"table_name": "My-Table"}, "table_name"),
        ({"table_name": "1cells"}, "table_name"),
        ({"read_permission": "EVERYONE"}, "read_permission"),
        ({"write_permission": "public"}, "write_permission"),
        ({"voxel_resolution": [4, 4]}, "voxel_resolution"),
        ({"description": " "}, "description"),
    ],
)
def test_create_table_refuses_bad_input(
    fake: FakeCAVE, arguments: dict[str, Any], parameter: str
) -> None:
    options: dict[str, Any] = {
        "table_name": "cells",
        "schema_name": "cell_type_local",
        "description": "cells",
        "voxel_resolution": [4, 4, 40],
        **arguments,
    }
    with pytest.raises(InvalidInputError) as raised:
        fake.annotation().create_table(**options)
    assert raised.value.parameter == parameter
    assert fake.requests == []


def test_update_metadata_sends_only_what_changes(fake: FakeCAVE) -> None:
    fake.route("PUT", TABLE, annotation_metadata(description="new"))
    record = fake.annotation().update_metadata("synapses", description="new", write_permission="GROUP")
    assert body_of(fake.only("PUT", TABLE)) == {
        "table_name": "synapses",
        "metadata": {"description": "new", "write_permission": "GROUP"},
    }
    assert record["description"] == "new"
    assert record["voxel_resolution_x"] == 4.0


# ---------------------------------------------------------------- rows


def test_get_annotation_fetches_long_id_lists_in_chunks(fake: FakeCAVE) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        ids = [int(i) for i in request.url.params["annotation_ids"].split(",")]
        rows = [{"id": i, "created": "2024-01-01 00:00:00", "deleted": "None"} for i in ids]
        return httpx.Response(200, json=rows)

    fake.route("GET", ROWS, answer)
    ids = np.arange(1, 451, dtype=np.int64)
    rows = fake.annotation().get_annotation("synapses", ids)
    assert [row["id"] for row in rows] == list(range(1, 451))
    lengths = sorted(len(r.url.params["annotation_ids"].split(",")) for r in fake.sent("GET", ROWS))
    assert lengths == [50, 400]
    assert fake.annotation().get_annotation("synapses", 7)[0]["id"] == 7
    with pytest.raises(InvalidInputError, match="annotation_ids"):
        fake.annotation().get_annotation("synapses", [])


def test_post_annotation_sends_plain_json_and_is_not_replayed(fake: FakeCAVE) -> None:
    fake.route("POST", ROWS, [11, 12])
    row = {"pre_pt": {"position": np.array([1, 2, 3])}, "size": np.float64(1.5), "valid": np.bool_(True)}
    assert fake.annotation().post_annotation("synapses", [row, {"size": float("nan")}]) == [11, 12]
    assert body_of(fake.only("POST", ROWS)) == {
        "annotations": [
            {"pre_pt": {"position": [1, 2, 3]}, "size": 1.5, "valid": True},
            {"size": None},
        ]
    }
    failing = FakeCAVE()
    failing.route("POST", ROWS, httpx.Response(503, json={"message": "busy"}))
    with pytest.raises(Exception, match="busy"):
        failing.annotation(max_retries=3).post_annotation("synapses", {"size": 1.0})
    assert len(failing.sent("POST", ROWS)) == 1  # a write is never replayed blindly


def test_post_annotation_refuses_more_than_the_server_takes(fake: FakeCAVE) -> None:
    with pytest.raises(InvalidInputError, match="stage_annotations"):
        fake.annotation().post_annotation("synapses", [{"size": 1.0}] * 10_001)
    with pytest.raises(InvalidInputError):
        fake.annotation().post_annotation("synapses", "not rows")
    assert fake.requests == []


def test_dataframe_rows_become_nested_points(fake: FakeCAVE) -> None:
    fake.route("POST", ROWS, [1])
    fake.route("PUT", ROWS, {"5": 6})
    frame = pd.DataFrame({"pt_position": [np.array([1, 2, 3])], "cell_type": ["L2"]})
    assert AnnotationClient.process_position_columns(frame, None) == [
        {"cell_type": "L2", "pt": {"position": [1, 2, 3]}}
    ]
    assert AnnotationClient.process_position_columns(frame, {"pt_position": "soma"}) == [
        {"cell_type": "L2", "soma": {"position": [1, 2, 3]}}
    ]
    client = fake.annotation()
    assert client.post_annotation_df("synapses", frame, ["pt_position"]) == [1]
    assert client.update_annotation_df("synapses", frame.assign(id=5), None) == {"5": 6}
    assert body_of(fake.only("PUT", ROWS)) == {
        "annotations": [{"cell_type": "L2", "id": 5, "pt": {"position": [1, 2, 3]}}]
    }
    with pytest.raises(InvalidInputError, match="no columns"):
        AnnotationClient.process_position_columns(frame, ["nope_position"])


def test_update_and_delete(fake: FakeCAVE) -> None:
    fake.route("PUT", ROWS, {"5": 50, "6": 60})
    fake.route("DELETE", ROWS, [5, 6])
    client = fake.annotation()
    mapping = client.update_annotation("synapses", [{"id": 5, "size": 1.0}, {"id": 6}])
    assert mapping == {"5": 50, "6": 60}  # old ids as the server's JSON keys, as caveclient
    with pytest.raises(InvalidInputError, match="needs the integer `id`"):
        client.update_annotation("synapses", {"size": 1.0})
    assert client.delete_annotation("synapses", np.array([5, 6])) == [5, 6]
    deleted = fake.only("DELETE", ROWS)
    assert body_of(deleted) == {"annotation_ids": [5, 6]}
    fake.route("DELETE", ROWS, httpx.Response(404, json="annotation_id [7] not in table synapses"))
    with pytest.raises(NotFoundError, match=r"\[7\] not in table"):
        client.delete_annotation("synapses", 7)


# ---------------------------------------------------------------- staging and uploads


def staged_with(fake: FakeCAVE, rows: int, **options: Any) -> StagedAnnotations:
    fake.route("GET", f"{TABLE}/synapses", httpx.Response(201, json=annotation_metadata()))
    fake.route("GET", "/schema/api/v2/type/synapse", SYNAPSE_SCHEMA)
    stage = fake.annotation().stage_annotations("synapses", **options)
    for index in range(rows):
        row = synapse_row(float(index))
        if stage.is_update:
            row["id"] = 100 + index
        stage.add(**row)
    return stage


def test_stage_annotations_takes_the_tables_schema_and_resolution(fake: FakeCAVE) -> None:
    stage = staged_with(fake, 1, annotation_resolution=[1, 1, 1])
    assert stage.table_name == "synapses"
    assert stage.annotation_list[0]["pre_pt"]["position"] == pytest.approx([0.25, 0.5, 0.075])
    assert fake.paths()[-2:] == [f"GET {TABLE}/synapses", "GET /schema/api/v2/type/synapse"]
    only_schema = fake.annotation().stage_annotations(schema_name="synapse")
    assert only_schema.table_name is None
    with pytest.raises(InvalidInputError, match="table_name or a schema_name"):
        fake.annotation().stage_annotations()


def test_upload_in_batches_marks_rows_and_returns_ids(fake: FakeCAVE) -> None:
    counter = iter(range(1000, 2000))

    def insert(request: httpx.Request) -> httpx.Response:
        count = len(json.loads(request.content)["annotations"])
        return httpx.Response(200, json=[next(counter) for _ in range(count)])

    fake.route("POST", ROWS, insert)
    stage = staged_with(fake, 5)
    client = fake.annotation()
    assert client.upload_staged_annotations(stage, batch_size=2, progress=False) == [
        1000,
        1001,
        1002,
        1003,
        1004,
    ]
    assert [len(body_of(r)["annotations"]) for r in fake.sent("POST", ROWS)] == [2, 2, 1]
    assert body_of(fake.sent("POST", ROWS)[2])["annotations"][0]["size"] == 4.0
    assert stage.annotation_dataframe(include_tracking=True)["new_id"].tolist() == [
        1000,
        1001,
        1002,
        1003,
        1004,
    ]
    assert client.upload_staged_annotations(stage) == []  # nothing left to upload


@pytest.mark.parametrize(
    ("failure", "outcome"),
    [
        (
            httpx.Response(500, json={"code": 500, "message": "422 Unprocessable Entity: bad row"}),
            "rejected",
        ),
        (httpx.Response(502, text="bad gateway"), "unknown"),
    ],
)
def test_a_failed_batch_reports_exactly_what_was_written(
    fake: FakeCAVE, failure: httpx.Response, outcome: str
) -> None:
    attempts: list[int] = []

    def insert(request: httpx.Request) -> httpx.Response:
        attempts.append(len(json.loads(request.content)["annotations"]))
        if len(attempts) == 2:
            return httpx.Response(failure.status_code, content=failure.content, headers=failure.headers)
        start = 10 * len(attempts)
        return httpx.Response(200, json=list(range(start, start + attempts[-1])))

    fake.route("POST", ROWS, insert)
    stage = staged_with(fake, 5)
    client = fake.annotation(max_retries=3)
    with pytest.raises(AnnotationUploadError) as raised:
        client.upload_staged_annotations(stage, batch_size=2, progress=False)
    error = raised.value
    assert error.written == [10, 11]
    assert error.failed_rows == [2, 3]
    assert error.remaining_rows == [4]
    assert error.batch_outcome == outcome
    assert attempts == [2, 2]  # the failed batch was not sent again
    assert "after 2 rows were written" in str(error)
    assert stage._pending_rows() == [2, 3, 4]
    # once the cause is fixed, a new call uploads what is left, and only that
    client.upload_staged_annotations(stage, batch_size=2, progress=False)
    assert attempts == [2, 2, 2, 1]
    assert stage._pending_rows() == []


def test_staged_updates_return_old_to_new_ids(fake: FakeCAVE) -> None:
    def replace(request: httpx.Request) -> httpx.Response:
        ids = [row["id"] for row in json.loads(request.content)["annotations"]]
        return httpx.Response(200, json={str(i): i + 1000 for i in ids})

    fake.route("PUT", ROWS, replace)
    stage = staged_with(fake, 3, update=True)
    mapping = fake.annotation().upload_staged_annotations(stage, batch_size=2, progress=False)
    assert mapping == {"100": 1100, "101": 1101, "102": 1102}  # string keys, as caveclient 8.2.1
    tracked = stage.annotation_dataframe(include_tracking=True)
    assert tracked["id"].tolist() == [100, 101, 102]
    assert tracked["new_id"].tolist() == [1100, 1101, 1102]


def test_upload_refuses_what_cannot_be_uploaded(fake: FakeCAVE) -> None:
    stage = StagedAnnotations(SYNAPSE_SCHEMA)
    client = fake.annotation()
    with pytest.raises(InvalidInputError, match="table_name"):
        client.upload_staged_annotations(stage)
    stage.table_name = "synapses"
    with pytest.raises(InvalidInputError, match="batch_size"):
        client.upload_staged_annotations(stage, batch_size=20_000)
    with pytest.raises(InvalidInputError, match="StagedAnnotations"):
        client.upload_staged_annotations([{"size": 1}])
    assert fake.requests == []


def test_the_async_client_uploads_staged_rows(fake: FakeCAVE) -> None:
    import asyncio

    from caveclient_gen.services.annotation import AnnotationClient

    fake.route("GET", f"{TABLE}/synapses", httpx.Response(201, json=annotation_metadata()))
    fake.route("GET", "/schema/api/v2/type/synapse", SYNAPSE_SCHEMA)
    fake.route("POST", ROWS, [7])

    async def run() -> Any:
        async with fake.async_client() as client:
            annotation = AnnotationClient(client._core)
            stage = await annotation.stage_annotations("synapses")
            stage.add(**synapse_row(1.0))
            return await annotation.upload_staged_annotations(stage, progress=False)

    assert asyncio.run(run()) == [7]
