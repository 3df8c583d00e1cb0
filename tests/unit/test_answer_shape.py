"""A well-formed answer of the wrong shape raises UnexpectedResponseError; correct ones pass."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from caveclient_gen.errors import UnexpectedResponseError

from .materialize_support import (
    SEGMENTATION,
    V3,
    FakeCAVE,
    arrow_response,
    standard_materialize,
    synapse_frame,
    table_metadata,
)

QUERY = f"{V3}/version/3/table/synapses/query"


@pytest.fixture
def fake() -> FakeCAVE:
    fake = FakeCAVE()
    standard_materialize(fake)
    return fake


def nucleus_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2],
            "volume": [1.0, 2.0],
            "pt_position_x": [1, 2],
            "pt_position_y": [1, 2],
            "pt_position_z": [1, 2],
            "pt_root_id": [5, 6],
        }
    )


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        (nucleus_frame(), "does not have"),  # another table's rows
        (synapse_frame().assign(pre_pt_root_id=["a", "b", "c"]), "should hold integer"),
        (synapse_frame().assign(created=[1, 2, 3]), "should hold datetime"),
        (synapse_frame().assign(size=["x", "y", "z"]), "should hold float"),
        (synapse_frame().drop(columns=["id"]), "lacks the columns ['id']"),
    ],
)
def test_answers_that_cannot_be_the_table_are_refused(
    fake: FakeCAVE, frame: pd.DataFrame, problem: str
) -> None:
    fake.route("POST", QUERY, arrow_response(frame))
    with pytest.raises(UnexpectedResponseError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        fake.materialize().query_table("synapses")


def test_a_selected_column_missing_is_refused(fake: FakeCAVE) -> None:
    fake.route("POST", QUERY, arrow_response(synapse_frame()[["id", "size"]]))
    with pytest.raises(UnexpectedResponseError, match="pre_pt_root_id"):
        fake.materialize().query_table("synapses", select_columns=["id", "size", "pre_pt_root_id"])


def test_correct_answers_pass(fake: FakeCAVE) -> None:
    """Selections, supervoxels brought with roots, nulls, whole positions and extra CRUD columns."""
    fake.route(
        "POST", QUERY, arrow_response(synapse_frame()[["id", "pre_pt_supervoxel_id", "pre_pt_root_id"]])
    )
    frame = fake.materialize().query_table("synapses", select_columns=["id", "pre_pt_root_id"])
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["id", "pre_pt_supervoxel_id", "pre_pt_root_id"]
    nulls = synapse_frame().assign(
        size=[np.nan] * 3, superceded_id=[np.nan, 4.0, np.nan], deleted=[None] * 3
    )
    fake.route("POST", QUERY, arrow_response(nulls))
    assert len(fake.materialize().query_table("synapses", split_positions=True)) == 3
    empty = synapse_frame().iloc[:0].astype(object)
    fake.route("POST", QUERY, arrow_response(empty))
    assert len(fake.materialize().query_table("synapses")) == 0


def test_counts_and_records_are_not_checked_as_rows(fake: FakeCAVE) -> None:
    fake.route("POST", QUERY, arrow_response(pd.DataFrame({"count": [3]})))
    counted = fake.materialize().query_table("synapses", get_counts=True)
    assert isinstance(counted, pd.DataFrame)
    assert counted["count"].tolist() == [3]
    fake.route("POST", QUERY, httpx.Response(200, json=[{"id": 1}]))
    assert fake.materialize().query_table("synapses", return_df=False) == [{"id": 1}]


def test_a_roots_answer_of_the_wrong_length_is_refused(fake: FakeCAVE) -> None:
    from caveclient_gen import CAVEclient

    answers: list[Any] = [b"\x01" * 12]
    fake.route(
        "POST", f"{SEGMENTATION}/roots_binary", lambda request: httpx.Response(200, content=answers[0])
    )
    client: CAVEclient = fake.client()
    with pytest.raises(UnexpectedResponseError, match="multiple of 8"):
        client.chunkedgraph.get_roots([1, 2])
    answers[0] = b"\x01" * 8
    with pytest.raises(UnexpectedResponseError, match="expected 2 ids"):
        client.chunkedgraph.get_roots([1, 2])


@pytest.mark.parametrize(
    ("frame", "header", "problem"),
    [
        (
            pd.DataFrame({"id_syn": [1], "id_nuc": [2], "extra": [3]}),
            "{'synapses': {'id': 'id_syn'}, 'nuclei': {'id': 'id_nuc'}}",
            "column 'extra' that no table",
        ),
        (
            pd.DataFrame({"id_syn": [1]}),
            "{'synapses': {'id': 'id_syn'}, 'cells': {'id': 'id_nuc'}}",
            "not part of the query",
        ),
        (
            pd.DataFrame({"id_syn": ["one"], "id_nuc": [2]}),
            "{'synapses': {'id': 'id_syn'}, 'nuclei': {'id': 'id_nuc'}}",
            "should hold integer",
        ),
        (
            pd.DataFrame({"volume_syn": [1.0]}),
            "{'synapses': {'volume': 'volume_syn'}}",
            "table 'synapses' does not have",
        ),
    ],
)
def test_join_answers_are_traced_to_their_tables(
    fake: FakeCAVE, frame: pd.DataFrame, header: str, problem: str
) -> None:
    fake.route(
        "GET", f"{V3}/version/3/table/nuclei/metadata", table_metadata("nuclei", "nucleus_detection")
    )
    fake.route("GET", "/schema/api/v2/type/nucleus_detection", httpx.Response(404, json={}))
    fake.route("POST", f"{V3}/version/3/query", arrow_response(frame, column_names=header))
    with pytest.raises(UnexpectedResponseError, match=problem):
        fake.materialize().join_query(
            [["synapses", "post_pt_root_id"], ["nuclei", "pt_root_id"]],
            suffixes={"synapses": "_syn", "nuclei": "_nuc"},
        )
