"""client.materialize.tables / .views: query builders per table, filters built by caveclient's rules."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta

import httpx
import pandas as pd
import pytest

from caveclient_gen import InvalidInputError
from caveclient_gen._tables.table_manager import TableManager, ViewManager
from caveclient_gen.errors import InvalidInequalityException

from .materialize_support import (
    V3,
    FakeCAVE,
    arrow_response,
    body_of,
    roots_valid_since,
    schema_documents,
    standard_materialize,
    synapse_frame,
    table_metadata,
)

WHEN = datetime(2024, 5, 6, tzinfo=UTC)
QUERY = f"{V3}/version/3/table/synapses/query"


@pytest.fixture
def fake() -> FakeCAVE:
    fake = FakeCAVE()
    standard_materialize(fake)
    fake.route(
        "GET",
        f"{V3}/version/3/tables/metadata",
        [
            table_metadata("synapses"),
            table_metadata("nuclei", "nucleus_detection", description="nucleus detections"),
            table_metadata("cell_types", "cell_type_reference", reference_table="nuclei"),
        ],
    )
    fake.route("GET", "/schema/api/v2/types_all", schema_documents())
    fake.route("POST", QUERY, arrow_response(synapse_frame()))
    return fake


def test_the_manager_is_built_from_two_requests_once(fake: FakeCAVE) -> None:
    client = fake.materialize()
    tables = client.tables
    assert isinstance(tables, TableManager)
    assert client.tables is tables
    assert fake.paths() == [
        "GET /info/api/v2/datastack/full/ds",
        f"GET {V3}/versions",
        f"GET {V3}/version/3/tables/metadata",
        "GET /schema/api/v2/types_all",
    ]


def test_the_manager_lists_and_finds_tables(fake: FakeCAVE) -> None:
    tables = fake.materialize().tables
    assert tables.table_names == ["cell_types", "nuclei", "synapses"]
    assert len(tables) == 3
    assert "nuclei" in tables
    assert "axons" not in tables
    assert tables.find("NUC") == ["nuclei"]
    assert {"cell_types", "nuclei", "synapses", "find", "table_names"} <= set(dir(tables))
    assert tables["nuclei"] is tables.nuclei
    assert "nucleus detections" in tables._repr_html_()
    with pytest.raises(AttributeError, match="did you mean"):
        _ = tables.synapse
    with pytest.raises(KeyError):
        _ = tables["synapse"]


def test_builders_describe_their_fields(fake: FakeCAVE) -> None:
    synapses = fake.materialize().tables.synapses
    assert synapses.fields == [
        "post_pt_root_id",
        "pre_pt_root_id",
        "id",
        "size",
        "valid",
        "post_pt_position_bbox",
        "pre_pt_position_bbox",
        "ctr_pt_position_bbox",
    ]
    assert synapses.numeric_fields == ["id", "size"]
    assert synapses.spatial_fields == [
        "post_pt_position_bbox",
        "pre_pt_position_bbox",
        "ctr_pt_position_bbox",
    ]
    assert list(inspect.signature(synapses).parameters) == synapses.fields
    assert synapses.__doc__ == "the synapses table"
    query = synapses(pre_pt_root_id=5)
    assert query.pre_pt_root_id == 5
    assert query.size is None
    assert {"pre_pt_root_id", "size", "query", "live_query"} <= set(dir(query))
    assert repr(query) == "synapses(pre_pt_root_id=5)"


def test_keyword_filters_follow_caveclients_rules(fake: FakeCAVE) -> None:
    tables = fake.materialize().tables
    frame = tables.synapses(
        pre_pt_root_id=[1, 2],
        valid=True,
        size={">": 1, "<=": 5},
        pre_pt_position_bbox=[[0, 0, 0], [10, 10, 10]],
    ).query(limit=2, split_positions=True)
    assert body_of(fake.only("POST", QUERY)) == {
        "filter_in_dict": {"synapses": {"pre_pt_root_id": [1, 2]}},
        "filter_equal_dict": {"synapses": {"valid": True}},
        "filter_greater_dict": {"synapses": {"size": 1}},
        "filter_less_equal_dict": {"synapses": {"size": 5}},
        "filter_spatial_dict": {"synapses": {"pre_pt_position": [[0, 0, 0], [10, 10, 10]]}},
        "limit": 2,
    }
    assert isinstance(frame, pd.DataFrame)
    assert "pre_pt_position_x" in frame.columns


def test_get_all_queries_without_filters(fake: FakeCAVE) -> None:
    frame = fake.materialize().tables.synapses.get_all(limit=1, metadata=False)
    assert body_of(fake.only("POST", QUERY)) == {"limit": 1}
    assert isinstance(frame, pd.DataFrame)


@pytest.mark.parametrize(
    ("filters", "kind", "message"),
    [
        ({"nope": 1}, InvalidInputError, "is not a column of 'synapses'"),
        ({"pre_pt_root_id": {">": 3}}, InvalidInequalityException, "not numeric"),
        ({"size": {"!=": 3}}, InvalidInputError, "unknown filter kind"),
        ({"pre_pt_root_id": []}, InvalidInputError, "empty list"),
    ],
)
def test_bad_keyword_filters_are_refused(
    fake: FakeCAVE, filters: dict[str, object], kind: type[Exception], message: str
) -> None:
    tables = fake.materialize().tables
    with pytest.raises(kind, match=message):
        tables.synapses(**filters)
    assert [r for r in fake.requests if r.method == "POST"] == []


def test_reference_tables_offer_both_tables_columns_and_join(fake: FakeCAVE) -> None:
    fake.route("POST", f"{V3}/version/3/query", arrow_response(pd.DataFrame({"id": [1]})))
    cell_types = fake.materialize().tables.cell_types
    assert cell_types.fields == [
        "pt_root_id",
        "id",
        "valid",
        "volume",
        "pt_position_bbox",
        "bb_end_position_bbox",
        "bb_start_position_bbox",
        "id_ref",
        "cell_type",
        "classification_system",
        "valid_ref",
    ]
    cell_types(cell_type="L2", pt_root_id=[1, 2], id_ref={">": 10}).query()
    assert body_of(fake.only("POST", f"{V3}/version/3/query")) == {
        "filter_in_dict": {"nuclei": {"pt_root_id": [1, 2]}},
        "filter_equal_dict": {"cell_types": {"cell_type": "L2"}},
        "filter_greater_dict": {"cell_types": {"id": 10}},
        "tables": [["cell_types", "target_id"], ["nuclei", "id"]],
        "suffix_map": {"cell_types": "_ref", "nuclei": ""},
    }


def test_live_queries_go_to_the_server_side_live_route(fake: FakeCAVE) -> None:
    roots_valid_since(fake, WHEN - timedelta(days=30))
    fake.route("POST", f"{V3}/query", arrow_response(synapse_frame()))
    tables = fake.materialize().tables
    tables.synapses(pre_pt_root_id=5).live_query(WHEN, allow_missing_lookups=True)
    request = fake.only("POST", f"{V3}/query")
    assert body_of(request) == {
        "table": "synapses",
        "timestamp": "2024-05-06T00:00:00+00:00",
        "filter_equal_dict": {"synapses": {"pre_pt_root_id": 5}},
    }
    assert request.url.params["allow_missing_lookups"] == "True"
    tables.cell_types(cell_type="L2").query(timestamp=WHEN)
    reference = fake.sent("POST", f"{V3}/query")[1]
    assert body_of(reference) == {
        "table": "cell_types",
        "timestamp": "2024-05-06T00:00:00+00:00",
        "join_tables": [["cell_types", "target_id", "nuclei", "id"]],
        "filter_equal_dict": {"cell_types": {"cell_type": "L2"}},
        "suffixes": {"cell_types": "_ref", "nuclei": ""},
    }


def test_views_are_fetched_once_and_queried(fake: FakeCAVE) -> None:
    view_meta = {
        "id": 1,
        "description": "proofread cells",
        "datastack_name": "ds",
        "voxel_resolution_x": 4.0,
        "voxel_resolution_y": 4.0,
        "voxel_resolution_z": 40.0,
        "notice_text": None,
        "live_compatible": False,
    }
    schema = {
        "id": {"type": "integer"},
        "pt_position": {"type": "SpatialPoint"},
        "tag": {"type": "string"},
        "score": {"type": "float"},
    }
    fake.route("GET", f"{V3}/version/3/views", {"cells": view_meta})
    fake.route("GET", f"{V3}/version/3/views/schemas", {"cells": schema})
    fake.route("GET", f"{V3}/version/3/views/cells/schema", schema)
    fake.route("GET", f"{V3}/version/3/views/cells/metadata", view_meta)
    fake.route("POST", f"{V3}/version/3/views/cells/query", arrow_response(pd.DataFrame({"id": [1]})))
    client = fake.materialize()
    views = client.views
    assert isinstance(views, ViewManager)
    assert client.views is views  # caveclient fetched the views again on every access
    assert len(fake.sent("GET", f"{V3}/version/3/views")) == 1
    assert views.table_names == ["cells"]
    assert views.cells.fields == ["id", "tag", "score", "pt_position_bbox"]
    assert views.cells.numeric_fields == ["id", "score"]
    views.cells(tag=["a", "b"], score={"<": 0.5}, pt_position_bbox=[[0, 0, 0], [1, 1, 1]]).query()
    assert body_of(fake.only("POST", f"{V3}/version/3/views/cells/query")) == {
        "filter_in_dict": {"cells": {"tag": ["a", "b"]}},
        "filter_less_dict": {"cells": {"score": 0.5}},
        "filter_spatial_dict": {"cells": {"pt_position": [[0, 0, 0], [1, 1, 1]]}},
    }
    with pytest.raises(AttributeError, match="no view named"):
        _ = views.nope


def test_tables_unavailable_schema_leaves_builders_without_fields(fake: FakeCAVE) -> None:
    fake.route("GET", "/schema/api/v2/types_all", httpx.Response(200, json={}))
    tables = fake.materialize().tables
    assert tables.synapses.fields == []
    with pytest.raises(InvalidInputError, match="is not a column"):
        tables.synapses(size=1)
