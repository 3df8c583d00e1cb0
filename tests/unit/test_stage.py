"""StagedAnnotations and its schema validator, without any server."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from caveclient_gen import InvalidInputError
from caveclient_gen._tables.schema_columns import main_definition, referenced_definition
from caveclient_gen._tables.stage import SchemaValidator, StagedAnnotations

from .materialize_support import SCHEMA_SAMPLES, SYNAPSE_SCHEMA

needs_samples = pytest.mark.skipif(not SCHEMA_SAMPLES.exists(), reason="schema samples not available")

ENUM_SCHEMA: dict[str, Any] = {
    "definitions": {
        "BoundSpatialPoint": SYNAPSE_SCHEMA["definitions"]["BoundSpatialPoint"],
        "FlyCellType": {
            "type": "object",
            "required": ["cell_type", "hemisphere", "pt"],
            "properties": {
                "pt": {"type": "object", "$ref": "#/definitions/BoundSpatialPoint"},
                "cell_type": {"type": "string"},
                "hemisphere": {"type": "string", "enum": ["L", "R", "M", "U"], "default": "U"},
                "group_id": {"type": "number", "format": "integer"},
            },
            "additionalProperties": True,
        },
    },
    "$ref": "#/definitions/FlyCellType",
}


def synapse(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "pre_pt_position": [1, 2, 3],
        "post_pt_position": [4, 5, 6],
        "ctr_pt_position": [7, 8, 9],
        "size": 10.5,
    }
    values.update(changes)
    return values


def test_fields_follow_the_schema() -> None:
    stage = StagedAnnotations(SYNAPSE_SCHEMA, name="syn")
    assert stage.fields == ["ctr_pt_position", "post_pt_position", "pre_pt_position", "size", "valid"]
    assert stage.fields_required == ["ctr_pt_position", "post_pt_position", "pre_pt_position"]
    update = StagedAnnotations(SYNAPSE_SCHEMA, update=True)
    assert update.fields[0] == "id"
    assert update.fields_required[0] == "id"
    assert update.is_update
    assert update.name == "SynapseSchema"


def test_add_checks_and_stages_plain_json() -> None:
    stage = StagedAnnotations(SYNAPSE_SCHEMA, table_name="synapses")
    stage.add(**synapse(size=np.float32(2.5), pre_pt_position=np.array([1, 2, 3], dtype=np.int64)))
    stage.add(**synapse(size=float("nan")))  # a missing optional value is left out
    assert len(stage) == 2
    first, second = stage.annotation_list
    assert first == {
        "pre_pt": {"position": [1, 2, 3]},
        "post_pt": {"position": [4, 5, 6]},
        "ctr_pt": {"position": [7, 8, 9]},
        "size": 2.5,
    }
    assert type(first["pre_pt"]["position"][0]) is int
    assert "size" not in second
    json.dumps(stage.annotation_list)
    assert repr(stage) == "Staged annotations for table 'synapses' (2 new annotations, 0 uploaded)"
    assert "size" in str(__import__("inspect").signature(stage.add))


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"pre_pt_position": None}, "pre_pt_position", "is required"),
        ({"size": "big"}, "size", "must be number or null"),
        ({"valid": 1}, "valid", "must be boolean or null"),
        ({"pre_pt_position": [1, 2]}, "pre_pt_position", r"position \[x, y, z\]"),
        ({"pre_pt_position": [1, 2, float("inf")]}, "pre_pt_position", "finite numbers"),
        ({"colour": "red"}, "colour", "is not a field"),
    ],
)
def test_add_refuses_rows_that_do_not_match(changes: dict[str, Any], field: str, message: str) -> None:
    stage = StagedAnnotations(SYNAPSE_SCHEMA)
    with pytest.raises(InvalidInputError, match=message) as raised:
        stage.add(**synapse(**changes))
    assert raised.value.parameter == field
    assert len(stage) == 0


def test_enums_integer_formats_and_ids() -> None:
    stage = StagedAnnotations(ENUM_SCHEMA)
    stage.add(pt_position=[1, 2, 3], cell_type="KC", hemisphere="L", group_id=3.0)
    with pytest.raises(InvalidInputError, match="must be one of"):
        stage.add(pt_position=[1, 2, 3], cell_type="KC", hemisphere="left")
    with pytest.raises(InvalidInputError, match="whole number"):
        stage.add(pt_position=[1, 2, 3], cell_type="KC", hemisphere="L", group_id=2.5)
    update = StagedAnnotations(ENUM_SCHEMA, update=True)
    with pytest.raises(InvalidInputError, match="integer id") as raised:
        update.add(id="7", pt_position=[1, 2, 3], cell_type="KC", hemisphere="L")
    assert raised.value.parameter == "id"
    update.add(id=np.int64(7), pt_position=[1, 2, 3], cell_type="KC", hemisphere="L")
    assert update.annotation_list[0]["id"] == 7


def test_positions_are_rescaled_to_the_table_resolution() -> None:
    stage = StagedAnnotations(
        SYNAPSE_SCHEMA, table_resolution=[4, 4, 40], annotation_resolution=[1, 1, 1]
    )
    stage.add(**synapse(pre_pt_position=[40, 80, 400]))
    assert stage.annotation_list[0]["pre_pt"] == {"position": [10.0, 20.0, 10.0]}
    assert stage.annotation_dataframe()["pre_pt_position"].iloc[0] == [10.0, 20.0, 10.0]
    with pytest.warns(UserWarning, match="without table_resolution"):
        StagedAnnotations(SYNAPSE_SCHEMA, annotation_resolution=[1, 1, 1])
    with pytest.raises(InvalidInputError, match="table_resolution"):
        StagedAnnotations(SYNAPSE_SCHEMA, table_resolution=[4, 4])


def test_add_dataframe_is_all_or_nothing() -> None:
    stage = StagedAnnotations(SYNAPSE_SCHEMA)
    good = pd.DataFrame([synapse(), synapse(size=3.0)])
    stage.add_dataframe(good)
    assert len(stage) == 2
    bad = pd.DataFrame([synapse(), synapse(size="x")], index=[10, 11])
    with pytest.raises(InvalidInputError, match="size") as raised:
        stage.add_dataframe(bad)
    assert raised.value.parameter == "df row 11: size"
    assert len(stage) == 2
    with pytest.raises(InvalidInputError, match=r"needs columns \['pre_pt_position'\]"):
        stage.add_dataframe(good.drop(columns=["pre_pt_position"]))
    with pytest.raises(InvalidInputError, match=r"\['extra'\] are not fields"):
        stage.add_dataframe(good.assign(extra=1))


def test_tracking_purge_and_clear() -> None:
    stage = StagedAnnotations(SYNAPSE_SCHEMA, table_name="synapses")
    stage.add_dataframe(pd.DataFrame([synapse(size=1.0), synapse(size=2.0), synapse(size=3.0)]))
    stage._mark_uploaded([0, 2], [101, 103])
    tracked = stage.annotation_dataframe(include_tracking=True)
    assert tracked["is_uploaded"].tolist() == [True, False, True]
    assert str(tracked["new_id"].dtype) == "Int64"
    assert tracked["new_id"].tolist()[0] == 101
    assert pd.isna(tracked["new_id"].iloc[1])
    assert stage.annotation_dataframe(only_nonuploaded=True)["size"].tolist() == [2.0]
    assert [a["size"] for a in stage.annotation_list_nonuploaded] == [2.0]
    assert stage._pending_rows() == [1]
    stage.purge_uploaded_annotations()
    assert len(stage) == 1
    stage.clear_annotations()
    assert len(stage) == 0


def test_validator_rejects_unknown_point_keys_and_checks_nested_types() -> None:
    validator = SchemaValidator(SYNAPSE_SCHEMA)
    instance = {
        "pre_pt": {"position": [1, 2, 3], "root": 5},
        "post_pt": {"position": [1, 2, 3], "root_id": "5"},
        "ctr_pt": {"position": [1, 2, 3]},
    }
    assert validator.errors(instance) == [
        ("pre_pt.root", "is not a field of this schema"),
        ("post_pt.root_id", "must be integer, not str '5'"),
    ]
    assert validator.errors({"ctr_pt": 5}) == [
        ("post_pt", "is required"),
        ("pre_pt", "is required"),
        ("ctr_pt", "must be object, not int 5"),
    ]


def _minimal_instance(schema: dict[str, Any]) -> dict[str, Any]:
    row = main_definition(schema)
    instance: dict[str, Any] = {}
    for name in row.get("required", []):
        prop = row["properties"][name]
        _, definition = referenced_definition(schema, prop)
        if definition is not None:
            instance[name] = {
                "position": [1, 2, 3],
                **{k: 1 for k in definition.get("required", []) if k != "position"},
            }
            continue
        kinds = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        if "enum" in prop:
            instance[name] = prop["enum"][0]
        elif "string" in kinds:
            instance[name] = "text"
        elif "boolean" in kinds:
            instance[name] = True
        elif "array" in kinds:
            instance[name] = [1, 2, 3]
        else:
            instance[name] = 1
    return instance


@needs_samples
def test_every_real_schema_accepts_a_minimal_row_and_refuses_an_empty_one() -> None:
    documents = json.loads(SCHEMA_SAMPLES.read_text())["responses"]["types_all"]["body"]
    assert len(documents) == 57
    for name, schema in documents.items():
        validator = SchemaValidator(schema)
        assert validator.errors(_minimal_instance(schema)) == [], name
        required = main_definition(schema).get("required", [])
        assert len(validator.errors({})) == len(required), name
        stage = StagedAnnotations(schema)
        assert set(stage.fields_required) <= set(stage.fields), name
