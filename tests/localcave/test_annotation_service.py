"""The annotation engine (AnnotationEngine 4.35.0): tables, metadata, permissions and rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pytest

from caveclient_gen.testing import LocalCAVE, LocalUser
from caveclient_gen.testing.chunkedgraph.segmentation.graph import SegmentationGraph

from ._spec_checks import SpecCheckedClient
from .conftest import bearer

RESOLUTION = {"voxel_resolution_x": 4.0, "voxel_resolution_y": 4.0, "voxel_resolution_z": 40.0}


@pytest.fixture(scope="module")
def cave() -> LocalCAVE:
    return LocalCAVE(seed=11)


@pytest.fixture(scope="module")
def http(cave: LocalCAVE) -> Iterator[SpecCheckedClient]:
    """The superadmin's client; every exchange is checked against specs/."""
    with SpecCheckedClient(cave, cave.token) as client:
        yield client


@pytest.fixture(scope="module")
def tables(cave: LocalCAVE) -> str:
    return f"/annotation/api/v2/aligned_volume/{cave.aligned_volume}/table"


@pytest.fixture(scope="module")
def editor(cave: LocalCAVE) -> dict[str, str]:
    """A user who may edit the aligned volume but owns none of the tables."""
    token = cave.add_user(
        LocalUser("editor", permissions={cave.aligned_volume: ("view", "edit")}, groups=("lab",))
    )
    return bearer(token)


def create(
    http: httpx.Client, tables: str, name: str, schema: str = "cell_type_local", **metadata: Any
) -> httpx.Response:
    body = {
        "table_name": name,
        "schema_type": schema,
        "metadata": {"description": f"{name} for tests", **RESOLUTION, **metadata},
    }
    return http.post(tables, json=body)


def embedded_error(response: httpx.Response) -> str:
    assert response.status_code == 500, response.text
    body = response.json()
    assert body["code"] == 500
    assert isinstance(body["traceback"], list)
    message: str = body["message"]
    return message


def voxel_points(cave: LocalCAVE, count: int, seed: int) -> list[list[float]]:
    graph = cave.deployment.component(SegmentationGraph)
    nanometres, _ = graph.sample_points(np.random.default_rng(seed), count)
    voxels: list[list[float]] = np.floor(nanometres / np.array([4.0, 4.0, 40.0])).tolist()
    return voxels


def cell(position: list[float], cell_type: str = "BC") -> dict[str, Any]:
    return {"pt": {"position": position}, "cell_type": cell_type, "classification_system": "test"}


# -- tables ------------------------------------------------------------------------------------


def test_api_versions(http: httpx.Client) -> None:
    response = http.get("/annotation/api/versions")
    assert (response.status_code, response.text) == (200, "[2]\n")


def test_the_synthetic_tables_are_listed(http: httpx.Client, tables: str) -> None:
    listed = http.get(tables).json()
    assert listed[:3] == [
        "synapses_pni_2",
        "nucleus_detection_v0",
        "allen_soma_coarse_cell_class_model_v2",
    ]


def test_create_table_answers_its_name_as_html_text(http: httpx.Client, tables: str) -> None:
    response = create(http, tables, "created_cells", notice_text="work in progress")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == "created_cells"
    assert "created_cells" in http.get(tables).json()


def test_table_metadata_answers_201_with_the_owner_notice(
    http: httpx.Client, tables: str, cave: LocalCAVE
) -> None:
    create(http, tables, "noticed_cells", notice_text="check before use")
    response = http.get(f"{tables}/noticed_cells")
    assert response.status_code == 201
    assert response.headers["warning"] == "Table Owner Notice: check before use"
    metadata = response.json()
    assert list(metadata)[:6] == ["id", "schema_type", "table_name", "valid", "created", "deleted"]
    assert metadata["user_id"] == str(cave.deployment.identity.account_named("admin").id)
    assert (metadata["read_permission"], metadata["write_permission"]) == ("PUBLIC", "PRIVATE")
    assert metadata["deleted"] is None
    assert "pcg_table_name" not in metadata
    datetime.fromisoformat(metadata["created"])
    plain = http.get(f"{tables}/synapses_pni_2")
    assert plain.status_code == 201
    assert "warning" not in plain.headers
    # With a segmentation table its row wins: name, id and times describe that table.
    assert plain.json()["table_name"] == "synapses_pni_2__minnie3_v1"
    assert plain.json()["annotation_table"] == "synapses_pni_2"


@pytest.mark.parametrize(
    ("name", "schema", "metadata", "message"),
    [
        ("synapses_pni_2", "synapse", {}, "400 Bad Request: Table synapses_pni_2 already exists"),
        ("Bad-Name", "synapse", {}, "400 Bad Request: Table name error: Invalid table name."),
        ("1234", "synapse", {}, "400 Bad Request: Table name error: Invalid table name."),
        (
            "odd_schema",
            "no_such_schema",
            {},
            "400 Bad Request: Schema type: no_such_schema is not a known annotation type",
        ),
        (
            "wrong_reference",
            "cell_type_local",
            {"table_metadata": {"reference_table": "nucleus_detection_v0"}},
            "400 Bad Request: Reference table must be a ReferenceAnnotation schema type",
        ),
    ],
)
def test_refused_table_creations_are_500s_with_the_status_inside(
    http: httpx.Client, tables: str, name: str, schema: str, metadata: dict[str, Any], message: str
) -> None:
    assert embedded_error(create(http, tables, name, schema, **metadata)).startswith(message)


def test_a_body_that_misses_the_schema_is_refused(http: httpx.Client, tables: str) -> None:
    response = http.post(
        tables, json={"table_name": "x", "schema_type": "synapse", "metadata": {**RESOLUTION}}
    )
    assert embedded_error(response) == (
        "400 Bad Request: Error parsing request body: "
        "{'metadata': {'description': ['Missing data for required field.']}}"
    )


def test_only_the_owner_updates_or_deletes_a_table(
    http: httpx.Client, tables: str, editor: dict[str, str]
) -> None:
    create(http, tables, "owned_cells")
    change = {"table_name": "owned_cells", "metadata": {"notice_text": "new notice"}}
    refused = http.put(tables, json=change, headers=editor)
    assert embedded_error(refused) == (
        "401 Unauthorized: You cannot do this because you are not the owner of this table"
    )
    updated = http.put(tables, json=change)
    assert updated.status_code == 200
    assert updated.json()["notice_text"] == "new notice"
    cleared = http.put(tables, json={"table_name": "owned_cells", "metadata": {"notice_text": ""}})
    assert cleared.json()["notice_text"] is None
    assert embedded_error(http.delete(f"{tables}/owned_cells", headers=editor)).startswith("401")
    assert http.delete(f"{tables}/owned_cells").json() is True
    assert http.get(f"{tables}/owned_cells").json()["deleted"] is not None


def test_unknown_table_is_a_500(http: httpx.Client, tables: str) -> None:
    assert embedded_error(http.get(f"{tables}/nope")) == "'NoneType' object has no attribute 'get'"


def test_writes_need_edit_permission_on_the_dataset(
    http: httpx.Client, tables: str, cave: LocalCAVE
) -> None:
    viewer = bearer(cave.token_for("viewer"))
    refused = http.post(tables, json={"table_name": "x"}, headers=viewer)
    assert refused.status_code == 403
    assert refused.json()["error"] == "missing_permission"
    assert http.get(tables, headers=viewer).status_code == 200


# -- annotations -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cells(http: httpx.Client, tables: str) -> str:
    assert create(http, tables, "test_cells").status_code == 200
    return f"{tables}/test_cells/annotations"


def test_insert_then_read_back(http: httpx.Client, cells: str, cave: LocalCAVE) -> None:
    points = voxel_points(cave, 3, seed=1)
    ids = http.post(cells, json={"annotations": [cell(p) for p in points]}).json()
    assert len(ids) == 3
    assert ids == sorted(ids)
    records = http.get(cells, params={"annotation_ids": ",".join(map(str, ids))}).json()
    assert [r["id"] for r in records] == ids
    first = records[0]
    assert first["pt_position"] == [int(v) for v in points[0]]
    assert first["cell_type"] == "BC"
    assert first["valid"] is True
    assert first["deleted"] == "None"
    assert first["superceded_id"] is None
    assert " " in first["created"]  # Python's str() of a datetime
    assert not any(key.endswith(("supervoxel_id", "root_id")) for key in first)


def test_update_supersedes_the_row_with_a_new_id(
    http: httpx.Client, cells: str, cave: LocalCAVE
) -> None:
    (old_id,) = http.post(cells, json={"annotations": [cell(voxel_points(cave, 1, seed=2)[0])]}).json()
    position = voxel_points(cave, 1, seed=3)[0]
    mapping = http.put(cells, json={"annotations": [{"id": old_id, **cell(position, "MC")}]}).json()
    new_id = mapping[str(old_id)]
    assert new_id != old_id
    old, new = http.get(cells, params={"annotation_ids": f"{old_id},{new_id}"}).json()
    assert (old["valid"], old["superceded_id"], old["cell_type"]) == (False, new_id, "BC")
    assert old["deleted"] != "None"
    assert (new["valid"], new["superceded_id"], new["cell_type"]) == (True, None, "MC")
    again = http.put(cells, json={"annotations": [{"id": old_id, **cell(position)}]})
    assert embedded_error(again).startswith(
        f"409 Conflict: Error update ID {old_id} -> Annotation with ID {old_id} has already been "
        f"superseded by annotation ID {new_id}"
    )
    missing = http.put(cells, json={"annotations": [{"id": 10**9, **cell(position)}]})
    assert embedded_error(missing) == "400 Bad Request: No row was found when one was required"


def test_reference_rows_are_updated_in_place(http: httpx.Client, tables: str) -> None:
    create(
        http,
        tables,
        "nucleus_labels",
        "cell_type_reference",
        table_metadata={"reference_table": "nucleus_detection_v0"},
    )
    rows = f"{tables}/nucleus_labels/annotations"
    label = {"target_id": 1, "cell_type": "BC", "classification_system": "test"}
    (row_id,) = http.post(rows, json={"annotations": [label]}).json()
    mapping = http.put(rows, json={"annotations": [{**label, "id": row_id, "cell_type": "MC"}]}).json()
    assert mapping == {str(row_id): row_id}
    (record,) = http.get(rows, params={"annotation_ids": str(row_id)}).json()
    assert (record["cell_type"], record["valid"], record["superceded_id"]) == ("MC", True, None)


def test_delete_marks_rows_and_counts_keep_them(http: httpx.Client, cells: str, cave: LocalCAVE) -> None:
    ids = http.post(cells, json={"annotations": [cell(p) for p in voxel_points(cave, 2, seed=4)]}).json()
    before = http.get(cells.replace("/annotations", "/count")).json()
    deleted = http.request("DELETE", cells, json={"annotation_ids": [ids[0], 10**9]})
    assert deleted.json() == [ids[0]]
    (record,) = http.get(cells, params={"annotation_ids": str(ids[0])}).json()
    assert (record["valid"], record["deleted"] != "None") == (False, True)
    assert http.get(cells.replace("/annotations", "/count")).json() == before
    none = http.request("DELETE", cells, json={"annotation_ids": [10**9]})
    assert (none.status_code, none.json()) == (404, f"annotation_id [{10**9}] not in table test_cells")


@pytest.mark.parametrize(
    ("annotations", "prefix"),
    [
        ([{"pt": {"position": [1, 2, 3]}}], "422 Unprocessable Entity: {'classification_system': "),
        (
            [{**cell([1, 2, 3]), "pt": {"position": [1, 2, 3], "oops": 1}}],
            "422 Unprocessable Entity: {'pt': ",
        ),
        ([{**cell([1, 2, 3]), "pt": {"position": "here"}}], "404 Not Found: position 'here'"),
        (
            [cell([1, 2, 3])] * 10_001,
            "413 Request Entity Too Large: 10000 -> The insertion limit is 10000",
        ),
    ],
)
def test_bad_annotations_are_refused(
    http: httpx.Client, cells: str, annotations: list[Any], prefix: str
) -> None:
    assert embedded_error(http.post(cells, json={"annotations": annotations})).startswith(prefix)


def test_annotation_ids_must_be_given(http: httpx.Client, cells: str) -> None:
    assert embedded_error(http.get(cells)) == "'NoneType' object is not iterable"


def test_private_writes_are_for_the_owner(
    http: httpx.Client, tables: str, editor: dict[str, str], cave: LocalCAVE
) -> None:
    rows = f"{tables}/synapses_pni_2/annotations"
    body = {
        "annotations": [
            {
                "pre_pt": {"position": [1, 2, 3]},
                "post_pt": {"position": [1, 2, 3]},
                "ctr_pt": {"position": [1, 2, 3]},
            }
        ]
    }
    assert embedded_error(http.post(rows, json=body, headers=editor)) == (
        "401 Unauthorized: Unauthorized: The table can only be written to by owner"
    )
    create(http, tables, "group_cells", write_permission="GROUP", read_permission="GROUP")
    group_rows = f"{tables}/group_cells/annotations"
    refused = http.post(group_rows, json={"annotations": [cell([1, 2, 3])]}, headers=editor)
    assert embedded_error(refused).startswith("401 Unauthorized: Unauthorized: You cannot write")
    unreadable = http.get(f"{tables}/group_cells/count", headers=editor)
    assert embedded_error(unreadable).startswith("401 Unauthorized: Unauthorized: You cannot read")
    create(http, tables, "public_cells", write_permission="PUBLIC")
    public_rows = f"{tables}/public_cells/annotations"
    assert http.post(public_rows, json={"annotations": [cell([1, 2, 3])]}, headers=editor).json() == [1]


# -- shared with the materialization service ---------------------------------------------------


def test_live_queries_see_new_rows_with_looked_up_segmentation(
    http: httpx.Client, tables: str, cave: LocalCAVE
) -> None:
    create(http, tables, "looked_up_cells")
    rows = f"{tables}/looked_up_cells/annotations"
    points = voxel_points(cave, 4, seed=9)
    ids = http.post(rows, json={"annotations": [cell(p) for p in points]}).json()
    (superseded,) = ids[:1]
    http.put(rows, json={"annotations": [{"id": superseded, **cell(points[0], "MC")}]})
    now = datetime.now(UTC)
    response = http.post(
        f"/materialize/api/v3/datastack/{cave.datastack}/query",
        json={"table": "looked_up_cells", "timestamp": now.isoformat()},
        params={"direct_sql_pandas": "true", "arrow_format": "true"},
    )
    assert response.status_code == 200, response.text
    frame = pa.ipc.open_stream(response.content).read_all().to_pandas()
    assert superseded not in set(frame["id"])
    assert len(frame) == 4
    graph = cave.deployment.component(SegmentationGraph)
    positions = frame[["pt_position_x", "pt_position_y", "pt_position_z"]].to_numpy(float)
    supervoxels = graph.supervoxels_at(positions, [4.0, 4.0, 40.0])
    assert np.array_equal(frame["pt_supervoxel_id"].to_numpy(np.uint64), supervoxels)
    assert np.array_equal(frame["pt_root_id"].to_numpy(np.uint64), graph.roots_at(supervoxels, now))
    assert (frame["pt_root_id"] != 0).all()
    frozen = http.get(f"/materialize/api/v2/datastack/{cave.datastack}/version/3/tables").json()
    assert "looked_up_cells" not in frozen, "versions are frozen before the table existed"
    metadata = http.get(f"{tables}/looked_up_cells").json()
    assert metadata["table_name"] == "looked_up_cells__minnie3_v1"
    assert metadata["pcg_table_name"] == "minnie3_v1"


def test_every_exchange_of_this_module_matches_the_specs(http: SpecCheckedClient) -> None:
    # The spec records the real text/html label of a created table's name on the response rather
    # than on its media entry, where the validator looks for it.
    known = "POST /annotation/api/v2/aligned_volume/minnie65_phase3/table -> 200: media type 'text/html'"
    assert [problem for problem in http.problems if not problem.startswith(known)] == []
