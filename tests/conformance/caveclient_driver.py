"""Runs the official caveclient against a CAVE server and prints what each call returned, as JSON.

It runs in an environment of its own (caveclient pins pandas below 3), started by the tests as:

    uv run --isolated --no-project --with caveclient==8.2.1 python caveclient_driver.py \
        SECTION SERVER DATASTACK TOKEN [INPUTS_JSON]

and imports nothing of caveclient_gen (the tests import `frame_json` from here to serialise our
DataFrames exactly as caveclient's are). Each result is recorded under the name of the call; a
call that raises is recorded as {"error": "<exception class>: <message>"}. INPUTS_JSON (ids,
timestamps, table names picked by the test) reaches the section as its third argument.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import sys
import traceback
import warnings
from collections.abc import Callable
from functools import partial
from typing import Any


def jsonable(value: Any) -> Any:
    from datetime import datetime

    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


TYPES = "__types__"
"""The key under which a section's results carry the type of each result (see type_of)."""
KEYS = "__keys__"
"""The key under which the skeleton section's results carry their key order (see key_order)."""


def type_of(value: Any) -> Any:
    """The type of a result, as JSON: numpy arrays and scalars with their dtype, containers with
    the types of their items (records key by key, other mappings and lists as the set of their
    item types), DataFrames as "DataFrame" (their dtypes are in frame_json)."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return f"ndarray[{value.dtype}]"
    if isinstance(value, np.generic):
        return f"numpy.{value.dtype}"
    if isinstance(value, dict):
        keys = sorted({type_of(key) for key in value})
        if all(isinstance(key, str) and not key.isdigit() for key in value) and len(value) <= 64:
            return {"dict": keys, "items": {key: type_of(item) for key, item in value.items()}}
        return {
            "dict": keys,
            "values": sorted({json.dumps(type_of(v), sort_keys=True) for v in value.values()}),
        }
    if isinstance(value, list | tuple):
        name = type(value).__name__
        return {name: sorted({json.dumps(type_of(item), sort_keys=True) for item in value})}
    return type(value).__name__


def record(results: dict[str, Any], name: str, call: Callable[[], Any]) -> Any:
    try:
        value = call()
    except Exception as error:  # recorded, compared by the test
        results[name] = {"error": f"{type(error).__name__}: {error}"}
        traceback.print_exc(file=sys.stderr)
        return None
    results[name] = jsonable(value)
    results.setdefault(TYPES, {})[name] = type_of(value)
    return value


def raised(results: dict[str, Any], name: str, call: Callable[[], Any]) -> None:
    """Records whether a call raised, whether `except requests.HTTPError` catches it, and the
    status of its response (for calls the server is expected to fail)."""
    results[name] = without_value_error(refusal(call))


def without_value_error(record: dict[str, Any]) -> dict[str, Any]:
    """A refusal record without whether `except ValueError` catches it."""
    return {key: value for key, value in record.items() if key != "ValueError"}


def global_services(client: Any, results: dict[str, Any]) -> None:
    info = client.info
    record(results, "info.get_datastacks", info.get_datastacks)
    record(results, "info.get_datastack_info", info.get_datastack_info)
    record(results, "info.get_aligned_volumes", info.get_aligned_volumes)
    record(results, "info.get_aligned_volume_info", info.get_aligned_volume_info)
    record(results, "info.get_datastacks_by_aligned_volume", info.get_datastacks_by_aligned_volume)
    record(results, "info.get_aligned_volume_info_by_id", info.get_aligned_volume_info_by_id)
    record(results, "info.local_server", info.local_server)
    record(results, "info.annotation_endpoint", info.annotation_endpoint)
    record(results, "info.image_source", info.image_source)
    record(results, "info.get_image_mirrors", info.get_image_mirrors)
    record(results, "info.get_image_mirror_names", info.get_image_mirror_names)
    record(results, "info.segmentation_source", info.segmentation_source)
    record(results, "info.viewer_site", info.viewer_site)
    record(results, "info.viewer_resolution", info.viewer_resolution)

    schema = client.schema
    record(results, "schema.get_schemas", schema.get_schemas)
    record(results, "schema.schema_definition", lambda: schema.schema_definition("synapse"))
    record(
        results,
        "schema.schema_definition_multi",
        lambda: schema.schema_definition_multi(["synapse", "cell_type_local"]),
    )
    record(results, "schema.schema_definition_all", lambda: sorted(schema.schema_definition_all()))

    state = client.state
    document = {
        "layers": [{"type": "segmentation", "name": "seg", "segments": ["42"]}],
        "position": [1, 2, 3],
    }
    state_id = record(results, "state.upload_state_json", lambda: state.upload_state_json(document))
    record(results, "state.get_state_json", lambda: state.get_state_json(state_id))
    properties = {
        "@type": "neuroglancer_segment_properties",
        "inline": {
            "ids": ["1", "2"],
            "properties": [{"id": "label", "type": "label", "values": ["a", "b"]}],
        },
    }
    property_id = record(
        results, "state.upload_property_json", lambda: state.upload_property_json(properties)
    )
    record(results, "state.get_property_json", lambda: state.get_property_json(property_id))
    record(
        results,
        "state.build_neuroglancer_url",
        lambda: state.build_neuroglancer_url(
            state_id, ngl_url="https://ngl.example.org", target_site="seunglab"
        ),
    )

    state_cases(state, results)

    auth = client.auth
    record(results, "auth.get_tokens", lambda: sorted(t["id"] for t in auth.get_tokens()))
    record(results, "auth.get_user_information", lambda: auth.get_user_information([1]))
    record(results, "auth.get_group_users", lambda: auth.get_group_users(1))


def state_document() -> dict[str, Any]:
    """A state as analysis code builds one: numpy ids, NaN and infinite numbers, a lone surrogate."""
    import numpy as np

    return {
        "layers": [
            {
                "type": "segmentation",
                "segments": np.array([864691135088120211, 5], dtype=np.uint64),
                "selected": np.uint64(864691135088120211),
                "opacity": np.float32(0.5),
                "hidden": {np.int64(7)},
            }
        ],
        "position": [float("nan"), float("inf"), -float("inf")],
        "title": "lone \ud800 surrogate",
    }


def state_cases(state: Any, results: dict[str, Any]) -> None:
    """Encoding of states and properties, and links, as our tests compare them."""
    import os
    import tempfile

    import numpy as np

    state_id = record(
        results, "state.upload_state_json:numpy", lambda: state.upload_state_json(state_document())
    )
    record(results, "state.get_state_json:numpy", lambda: repr(state.get_state_json(state_id)))
    properties = {
        "@type": "neuroglancer_segment_properties",
        "inline": {
            "ids": np.array([864691135088120211, 2], dtype=np.uint64),
            "properties": [{"id": "size", "type": "number", "values": [1.5, float("nan")]}],
        },
    }
    property_id = record(
        results, "state.upload_property_json:numpy", lambda: state.upload_property_json(properties)
    )
    record(results, "state.get_property_json:numpy", lambda: repr(state.get_property_json(property_id)))

    def saved() -> str:
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "state.json")
            state.save_state_json_local(state_document(), path)
            with open(path, encoding="ascii") as file:
                return file.read()

    record(results, "state.save_state_json_local", saved)
    for site in ("seunglab", "spelunker", "mainline"):
        record(
            results,
            f"state.build_neuroglancer_url:static:{site}",
            lambda site=site: state.build_neuroglancer_url(
                "https://files.example.org/s.json",
                ngl_url="https://ngl.example.org",
                target_site=site,
                static_url=True,
            ),
        )
        record(
            results,
            f"state.build_neuroglancer_url:{site}",
            lambda site=site: state.build_neuroglancer_url(
                7, ngl_url="https://ngl.example.org/", target_site=site
            ),
        )


# -- data services -------------------------------------------------------------------------------


def cell_json(value: Any) -> Any:
    """One DataFrame cell as JSON: arrays as lists, timestamps as UTC ISO strings, nulls as None."""
    kind = type(value)
    if kind is int or kind is str or kind is bool:  # most cells: quickly, as below
        return value
    if kind is float:
        return None if math.isnan(value) else value
    from datetime import UTC, datetime

    import numpy as np
    import pandas as pd

    if kind is np.ndarray and value.ndim == 1 and value.dtype.kind in "biu":  # positions
        return value.tolist()
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return [cell_json(item) for item in value.tolist()]
    if isinstance(value, np.ndarray | list | tuple):
        return [cell_json(item) for item in value]
    if isinstance(value, datetime | np.datetime64):
        if pd.isna(value):
            return None
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
        return stamp.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value


def frame_json(frame: Any) -> dict[str, Any]:
    """A DataFrame as {"columns", "dtypes", "index_name", "index", "records"} (see cell_json)."""
    return {
        "columns": [str(column) for column in frame.columns],
        "dtypes": [str(dtype) for dtype in frame.dtypes],
        "index_name": frame.index.name,
        "index": [cell_json(value) for value in frame.index],
        "records": [list(row) for row in zip(*map(column_json, frame_columns(frame)), strict=True)]
        if len(frame.columns)
        else [[] for _ in range(len(frame))],
        "cells": cell_types(frame),
    }


def frame_columns(frame: Any) -> list[Any]:
    """The columns of a frame as Series, by position (names may repeat)."""
    return [frame.iloc[:, position] for position in range(len(frame.columns))]


def column_json(column: Any) -> list[Any]:
    """The cells of one column as cell_json gives them (numbers read as Python numbers at once)."""
    if column.dtype.kind in "biuf" and not hasattr(column.dtype, "na_value"):
        return [cell_json(cell) for cell in column.tolist()]
    return [cell_json(cell) for cell in column]


def cell_types(frame: Any) -> dict[str, str]:
    """The type of the cells of each object column (arrays with their dtype), e.g. positions."""
    import numpy as np

    kinds: dict[str, str] = {}
    for column in frame.columns:
        if frame[column].dtype != object:
            continue
        array_dtypes, others = set(), set()
        for cell in frame[column]:
            if isinstance(cell, np.ndarray):
                array_dtypes.add(cell.dtype)
            elif cell is not None:
                others.add(type(cell).__name__)
        found = others | {f"ndarray[{dtype}]" for dtype in array_dtypes}
        if found != {"str"}:  # text: pandas 3 gives it its own dtype, pandas 2 object
            kinds[str(column)] = "|".join(sorted(found))
    return kinds


def when(text: str | None) -> Any:
    from datetime import datetime

    return None if text is None else datetime.fromisoformat(text)


def materialize_services(client: Any, results: dict[str, Any], inputs: dict[str, Any]) -> None:
    mat = client.materialize
    synapses, nuclei = inputs["synapse_table"], inputs["nucleus_table"]
    reference = inputs["reference_table"]
    roots = inputs["roots"]
    past = when(inputs["timestamp_past"])
    record(results, "get_versions", mat.get_versions)
    record(results, "version", lambda: mat.version)
    record(results, "most_recent_version", mat.most_recent_version)
    record(results, "get_timestamp", mat.get_timestamp)
    record(results, "get_timestamp:version", lambda: mat.get_timestamp(mat.get_versions()[0]))
    record(results, "get_versions_expired", lambda: mat.get_versions(expired=True))
    record(results, "get_tables", mat.get_tables)
    for table in (synapses, nuclei, reference):
        record(results, f"get_table_metadata:{table}", lambda table=table: mat.get_table_metadata(table))
        record(
            results,
            f"get_annotation_count:{table}",
            lambda table=table: mat.get_annotation_count(table),
        )
    record(results, "query_table:nuclei", lambda: frame_json(mat.query_table(nuclei)))
    record(results, "query_table:reference", lambda: frame_json(mat.query_table(reference)))
    for split in (False, True):
        record(
            results,
            f"query_table:synapses:split={split}",
            lambda split=split: frame_json(
                mat.query_table(
                    synapses, filter_in_dict={"pre_pt_root_id": roots}, split_positions=split
                )
            ),
        )
        record(
            results,
            f"query_table:synapses:nm:split={split}",
            lambda split=split: frame_json(
                mat.query_table(
                    synapses,
                    filter_in_dict={"pre_pt_root_id": roots},
                    split_positions=split,
                    desired_resolution=[1, 1, 1],
                )
            ),
        )
    record(results, "query_table:nuclei:records", lambda: mat.query_table(nuclei, return_df=False))
    record(
        results,
        "query_table:synapses:records",
        lambda: mat.query_table(synapses, filter_in_dict={"pre_pt_root_id": roots}, return_df=False),
    )
    record(
        results,
        "query_table:reference:records",
        lambda: mat.query_table(reference, return_df=False, log_warning=False),
    )
    record(results, "live_query:nuclei", lambda: frame_json(mat.live_query(nuclei, past)))
    record(
        results,
        "live_query:synapses",
        lambda: frame_json(
            mat.live_query(synapses, past, filter_in_dict={"post_pt_root_id": inputs["past_roots"]})
        ),
    )
    record(
        results,
        "synapse_query",
        lambda: frame_json(mat.synapse_query(pre_ids=roots[0])),
    )
    record(
        results,
        "synapse_query:post",
        lambda: frame_json(mat.synapse_query(post_ids=roots, remove_autapses=True)),
    )
    view = inputs["view"]
    record(results, "get_views", lambda: sorted(mat.get_views()))
    record(results, "get_view_metadata", lambda: mat.get_view_metadata(view))
    record(results, "get_view_schema", lambda: mat.get_view_schema(view))
    record(results, "query_view", lambda: frame_json(mat.query_view(view)))
    record(results, "query_view:records", lambda: mat.query_view(view, return_df=False))
    record(
        results,
        "query_view:split",
        lambda: frame_json(mat.query_view(view, split_positions=True, desired_resolution=[1, 1, 1])),
    )
    record(
        results,
        "get_unique_string_values",
        lambda: mat.get_unique_string_values(reference),
    )
    # Beyond the brief's list.
    record(results, "get_version_metadata", mat.get_version_metadata)
    record(results, "get_versions_metadata", mat.get_versions_metadata)
    record(results, "get_view_schemas", mat.get_view_schemas)
    record(
        results,
        "live_live_query",
        lambda: frame_json(mat.live_live_query(nuclei, when(inputs["timestamp_now"]))),
    )
    record(results, "get_tables_metadata", mat.get_tables_metadata)
    record(
        results,
        "join_query",
        lambda: frame_json(
            mat.join_query(
                [[reference, "target_id"], [nuclei, "id"]],
                filter_equal_dict={reference: {"cell_type": "23P"}},
                suffixes={reference: "", nuclei: "_nuc"},
            )
        ),
    )
    record(
        results,
        "query_table:spatial",
        lambda: frame_json(
            mat.query_table(
                synapses,
                filter_spatial_dict={"post_pt_position": inputs["box"]},
                filter_greater_dict={"size": 100},
                select_columns=["id", "post_pt_position", "post_pt_root_id", "size"],
            )
        ),
    )


def annotation_services(client: Any, results: dict[str, Any], inputs: dict[str, Any]) -> None:
    annotation = client.annotation
    synapses, table = inputs["synapse_table"], inputs["own_table"]
    # Both clients write tables of their own meanwhile: those are left out of the listing.
    others = {table, *inputs["round_trip_tables"]}
    record(results, "get_tables", lambda: sorted(set(annotation.get_tables()) - others))
    record(results, "get_table_metadata", lambda: annotation.get_table_metadata(synapses))
    record(results, "get_annotation_count", lambda: annotation.get_annotation_count(synapses))
    record(
        results, "get_annotation", lambda: annotation.get_annotation(synapses, inputs["annotation_ids"])
    )
    record(
        results,
        "create_table",
        # A requests.Response: the server answers the new table's name as text.
        lambda: annotation.create_table(table, "bound_tag", "conformance round trip", [4, 4, 40]).text,
    )
    record(results, "get_table_metadata:own", lambda: annotation.get_table_metadata(table))
    ids = record(
        results, "post_annotation", lambda: annotation.post_annotation(table, inputs["annotations"])
    )
    record(results, "get_annotation:posted", lambda: annotation.get_annotation(table, ids))
    update = [{**inputs["update"], "id": ids[0]}]
    mapping = record(results, "update_annotation", lambda: annotation.update_annotation(table, update))
    every = [*ids, *(int(new) for new in mapping.values())]
    record(results, "get_annotation:updated", lambda: annotation.get_annotation(table, every))
    record(results, "delete_annotation", lambda: annotation.delete_annotation(table, [ids[1]]))
    record(results, "get_annotation:deleted", lambda: annotation.get_annotation(table, every))
    record(results, "get_annotation_count:own", lambda: annotation.get_annotation_count(table))
    annotation_edits(annotation, results, inputs)


def annotation_edits(annotation: Any, results: dict[str, Any], inputs: dict[str, Any]) -> None:
    """Staged uploads (inserts, then updates), a metadata change and a table deletion, on tables
    of this client's own (the test makes the same calls on others)."""
    table, throwaway = inputs["own_table"], inputs["throwaway_table"]
    stage = annotation.stage_annotations(table)
    for row in inputs["staged"]:
        stage.add(**row)
    ids = record(
        results,
        "upload_staged_annotations",
        lambda: annotation.upload_staged_annotations(stage, progress=False),
    )
    update = annotation.stage_annotations(table, update=True)
    update.add(**inputs["staged_update"], id=ids[0])
    record(
        results,
        "upload_staged_annotations:update",
        lambda: annotation.upload_staged_annotations(update, progress=False),
    )
    record(results, "get_annotation_count:staged", lambda: annotation.get_annotation_count(table))
    record(
        results,
        "update_metadata",
        lambda: annotation.update_metadata(table, **inputs["metadata_change"]),
    )
    record(results, "get_table_metadata:changed", lambda: annotation.get_table_metadata(table))
    annotation.create_table(throwaway, "bound_tag", "to be deleted", [4, 4, 40])
    record(results, "delete_table", lambda: annotation.delete_table(throwaway))
    record(results, "get_tables:deleted", lambda: throwaway in annotation.get_tables())


def chunkedgraph_services(client: Any, results: dict[str, Any], inputs: dict[str, Any]) -> None:
    cg, l2 = client.chunkedgraph, client.l2cache
    supervoxels, past = inputs["supervoxels"], when(inputs["timestamp_past"])
    l2_ids = inputs["l2_ids"]
    record(results, "get_roots", lambda: cg.get_roots(supervoxels))
    record(results, "get_roots:past", lambda: cg.get_roots(supervoxels, timestamp=past))
    record(results, "get_roots:layer3", lambda: cg.get_roots(supervoxels[:50], stop_layer=3))
    record(results, "get_root_id", lambda: cg.get_root_id(supervoxels[0]))
    record(results, "get_root_id:past", lambda: cg.get_root_id(supervoxels[0], timestamp=past))
    record(results, "get_root_id:level2", lambda: cg.get_root_id(supervoxels[0], level2=True))
    root, heavy, old = inputs["root"], inputs["heavy_root"], inputs["old_root"]
    record(results, "get_leaves", lambda: cg.get_leaves(root))
    record(results, "get_leaves:l2", lambda: cg.get_leaves(root, stop_layer=2))
    record(results, "get_children", lambda: cg.get_children(heavy))
    record(results, "get_lineage_graph", lambda: cg.get_lineage_graph(heavy))
    record(
        results,
        "get_lineage_graph:past",
        lambda: cg.get_lineage_graph(heavy, timestamp_past=past),
    )
    record(results, "get_latest_roots", lambda: cg.get_latest_roots(old))
    record(results, "get_latest_roots:past", lambda: cg.get_latest_roots(old, timestamp=past))
    roots = inputs["roots"]
    record(
        results,
        "get_root_timestamps",
        lambda: cg.get_root_timestamps(roots),
    )
    record(results, "is_latest_roots", lambda: cg.is_latest_roots(roots))
    record(results, "is_latest_roots:past", lambda: cg.is_latest_roots(roots, timestamp=past))
    record(
        results,
        "get_past_ids",
        lambda: cg.get_past_ids(inputs["current_roots"], timestamp_past=past),
    )
    record(
        results,
        "get_delta_roots",
        lambda: cg.get_delta_roots(past, when(inputs["timestamp_later"])),
    )
    # Beyond the brief's list: more of the chunkedgraph, compared the same way.
    record(results, "get_leaves_many", lambda: cg.get_leaves_many([root, heavy], stop_layer=3))
    record(results, "get_original_roots", lambda: cg.get_original_roots(heavy))
    record(results, "get_original_roots:past", lambda: cg.get_original_roots(heavy, past))
    record(
        results,
        "get_root_timestamps:latest",
        lambda: cg.get_root_timestamps([old], latest=True),
    )
    record(results, "is_valid_nodes", lambda: cg.is_valid_nodes([*roots, 5]))
    record(results, "get_change_log", lambda: cg.get_change_log(heavy))
    record(results, "get_change_log:unfiltered", lambda: cg.get_change_log(heavy, filtered=False))
    record(
        results,
        "get_tabular_change_log",
        lambda: {
            str(key): frame_json(frame)
            for key, frame in cg.get_tabular_change_log([heavy, root]).items()
        },
    )
    record(
        results,
        "get_operation_details",
        lambda: cg.get_operation_details(inputs["operation_ids"]),
    )
    record(results, "level2_chunk_graph", lambda: cg.level2_chunk_graph(root))
    record(results, "get_oldest_timestamp", cg.get_oldest_timestamp)
    record(
        results,
        "suggest_latest_roots",
        lambda: cg.suggest_latest_roots(old, return_all=True, return_fraction_overlap=True),
    )
    record(results, "get_l2data", lambda: l2.get_l2data(l2_ids))
    record(
        results,
        "get_l2data:attributes",
        lambda: l2.get_l2data(l2_ids, attributes=["area_nm2", "rep_coord_nm"]),
    )
    record(results, "get_l2data_table", lambda: frame_json(l2.get_l2data_table(l2_ids)))
    record(
        results,
        "get_l2data_table:unsplit",
        lambda: frame_json(l2.get_l2data_table(l2_ids, split_columns=False)),
    )
    record(results, "cache_metadata", l2.cache_metadata)
    record(results, "table_mapping", l2.table_mapping)
    record(results, "has_cache", l2.has_cache)
    record(results, "get_minimal_covering_nodes", lambda: cg.get_minimal_covering_nodes(l2_ids[:8]))
    record(
        results,
        "get_subgraph",
        lambda: cg.get_subgraph(root, __import__("numpy").array(inputs["subgraph_bounds"])),
    )
    record(
        results,
        "find_path",
        lambda: cg.find_path(root, *(__import__("numpy").array(p) for p in inputs["path_points"])),
    )
    record(results, "segmentation_info", lambda: cg.segmentation_info)
    record(results, "base_resolution", lambda: cg.base_resolution)
    record(results, "cloudvolume_path", lambda: cg.cloudvolume_path)
    record(results, "table_name", lambda: cg.table_name)
    record(
        results,
        "get_user_operations",
        lambda: frame_json(
            cg.get_user_operations(
                inputs["operation_user"],
                when(inputs["timestamp_origin"]),
                include_undo=False,
                timestamp_end=when(inputs["timestamp_now"]),
            )
        ),
    )
    numpy = __import__("numpy")
    record(results, "get_merge_log", lambda: cg.get_merge_log(root))
    raised(results, "get_merge_log:merged", lambda: cg.get_merge_log(heavy))
    raised(
        results,
        "get_contact_sites:many",
        lambda: cg.get_contact_sites(root, numpy.array(inputs["subgraph_bounds"])),
    )
    contact_root, contact_box = inputs["contact"]
    raised(
        results,
        "get_contact_sites",
        lambda: cg.get_contact_sites(contact_root, numpy.array(contact_box)),
    )
    record(
        results,
        "state.get_neuroglancer_info",
        lambda: client.state.get_neuroglancer_info(inputs["missing_viewer"]),
    )
    # No ids in, as analysis code sometimes passes them.
    record(results, "empty:get_lineage_graph", lambda: cg.get_lineage_graph([]))
    record(results, "empty:get_past_ids", lambda: cg.get_past_ids([]))
    record(results, "empty:get_tabular_change_log", lambda: cg.get_tabular_change_log([]))
    record(results, "empty:get_root_timestamps", lambda: cg.get_root_timestamps([]))
    record(results, "empty:get_roots", lambda: cg.get_roots([]))
    record(results, "empty:is_latest_roots", lambda: cg.is_latest_roots([]))
    record(results, "empty:is_valid_nodes", lambda: cg.is_valid_nodes([]))
    record(results, "empty:get_leaves_many", lambda: cg.get_leaves_many([]))
    record(results, "empty:get_operation_details", lambda: cg.get_operation_details([]))
    record(results, "empty:get_l2data", lambda: l2.get_l2data([]))


def edits(client: Any, results: dict[str, Any], inputs: dict[str, Any]) -> None:
    """A merge, a split preview, the split and its undo on one pair of neighbouring neurons."""
    cg = client.chunkedgraph
    (first, second), (source, sink) = inputs["pair"]["supervoxels"], inputs["pair"]["points"]
    record(
        results,
        "do_merge",
        lambda: cg.do_merge([first, second], [source, sink], resolution=(1, 1, 1)),
    )
    merged = int(cg.get_root_id(first))
    results["merged"] = merged == int(cg.get_root_id(second))
    record(
        results,
        "preview_split",
        lambda: cg.preview_split([source], [sink], merged, [first], [second]),
    )
    split = record(
        results,
        "execute_split",
        lambda: cg.execute_split([source], [sink], merged, [first], [second]),
    )
    results["split"] = int(cg.get_root_id(first)) != int(cg.get_root_id(second))
    record(results, "undo_operation", lambda: cg.undo_operation(int(split[0])))
    results["undone"] = int(cg.get_root_id(first)) == int(cg.get_root_id(second))


def refusal(call: Callable[[], Any]) -> dict[str, Any]:
    """How a call that should fail failed: whether it raised, whether `except ValueError` or
    `except requests.HTTPError` catches it, and the status of its response."""
    import requests

    try:
        call()
    except Exception as error:  # what it was is the record
        response = getattr(error, "response", None)
        return {
            "raised": True,
            "ValueError": isinstance(error, ValueError),
            "requests.HTTPError": isinstance(error, requests.HTTPError),
            "status": getattr(response, "status_code", None),
        }
    return {"raised": False}


def key_order(value: Any) -> Any:
    """The keys of a result, nested, in their order (JSON objects compare without order)."""
    if isinstance(value, dict):
        return [[str(key), key_order(item)] for key, item in value.items()]
    if isinstance(value, list | tuple) and value and isinstance(value[0], dict):
        return [key_order(item) for item in value]
    return None


def skeleton_result(value: Any) -> Any:
    """A skeleton result as JSON: SWC DataFrames through frame_json, bulk dicts value by value."""
    if hasattr(value, "dtypes"):
        return frame_json(value)
    if isinstance(value, dict) and all(str(key).isdigit() for key in value):
        return {key: skeleton_result(item) for key, item in value.items()}
    return value


SKELETON_VERSIONS = (-1, 0, 1, 2, 3, 4)
"""The skeleton versions the service lists (`get_versions`); every one is asked for."""


def skeleton_services(client: Any, results: dict[str, Any], inputs: dict[str, Any]) -> None:
    """The skeleton client, cloud-volume installed (caveclient opens the segmentation with it to
    check root ids). LocalCAVE's graphene info names LocalCAVE itself as the segmentation's
    data_dir, so CloudVolume reads nothing else; to prove it, every other host is made unreachable
    here for clients that honour the proxy variables (requests, which both use)."""
    unreachable = "http://127.0.0.1:9"
    for name, value in (
        ("http_proxy", unreachable),
        ("https_proxy", unreachable),
        ("no_proxy", "127.0.0.1"),
    ):
        os.environ[name] = os.environ[name.upper()] = value
    skeleton = client.skeleton
    cached, root = inputs["cached"], inputs["cached"][0]

    def keep(name: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        value = record(results, name, lambda: skeleton_result(call(*args, **kwargs)))
        results.setdefault(KEYS, {})[name] = key_order(value)

    keep("get_version", lambda: str(skeleton.get_version()))
    keep("get_versions", skeleton.get_versions)
    keep("get_cache_contents", skeleton.get_cache_contents, limit=5)
    keep("skeletons_exist", skeleton.skeletons_exist, root_ids=inputs["exist"])
    keep("skeletons_exist:one", skeleton.skeletons_exist, root_ids=inputs["exist"][0])
    keep("get_refusal_list", skeleton.get_refusal_list)
    for version in SKELETON_VERSIONS:
        for output_format in ("dict", "swc"):
            name = f"get_skeleton:{version}:{output_format}"
            keep(name, skeleton.get_skeleton, root, None, version, output_format)
        name = f"get_precomputed_skeleton_info:{version}"
        if version > 0:
            keep(name, skeleton.get_precomputed_skeleton_info, version)
        else:  # the service has no info document for the aliases
            results[name] = refusal(partial(skeleton.get_precomputed_skeleton_info, version))
    keep("get_skeleton:default", skeleton.get_skeleton, root, verbose_level=1)
    for case in ("supervoxel", "absent", "refused"):
        results[f"get_skeleton:{case}"] = refusal(partial(skeleton.get_skeleton, inputs[case]))
    asked = [*cached, inputs["supervoxel"], inputs["absent"], inputs["refused"]]
    for version, output_format in ((4, "dict"), (1, "dict"), (-1, "swc"), (0, "swc")):
        name = f"get_bulk_skeletons:{version}:{output_format}"
        keep(name, skeleton.get_bulk_skeletons, asked, None, version, output_format, verbose_level=1)
        name = f"fetch_skeletons:{version}:{output_format}"
        keep(name, skeleton.fetch_skeletons, [*cached, inputs["refused"]], None, version, output_format)
    keep("generate_bulk_skeletons_async", skeleton.generate_bulk_skeletons_async, inputs["uncached"])
    keep(
        "generate_bulk_skeletons_async:cached",
        skeleton.generate_bulk_skeletons_async,
        cached,
        skeleton_version=4,
        verbose_level=1,
    )
    # The static helpers: the gzip'd ones are compared unzipped (gzip headers carry the time).
    payloads = inputs["payloads"]
    keep("decompressBytesToDict", skeleton.decompressBytesToDict, bytes.fromhex(payloads["json"]))
    keep("decompressBytesToString", skeleton.decompressBytesToString, bytes.fromhex(payloads["text"]))
    document, text = payloads["document"], payloads["string"]
    keep("compressDictToBytes", lambda: gzip.decompress(skeleton.compressDictToBytes(document)).decode())
    keep(
        "compressDictToBytes:spaces",
        lambda: gzip.decompress(skeleton.compressDictToBytes(document, remove_spaces=False)).decode(),
    )
    keep("compressStringToBytes", lambda: gzip.decompress(skeleton.compressStringToBytes(text)).decode())


# -- differential cases --------------------------------------------------------------------------


def decoded(value: Any) -> Any:
    """A case argument from its JSON form: {"$time": iso} a datetime (naive when the text has no
    offset), {"$array": [...], "dtype": name} a numpy array, {"$numpy": n, "dtype": name} a numpy
    scalar, {"$tuple": [...]} a tuple; lists and mappings item by item."""
    import numpy as np

    if isinstance(value, list):
        return [decoded(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "$time" in value:
        return when(value["$time"])
    if "$array" in value:
        return np.array(decoded(value["$array"]), dtype=value["dtype"])
    if "$numpy" in value:
        return np.dtype(value["dtype"]).type(value["$numpy"])
    if "$tuple" in value:
        return tuple(decoded(item) for item in value["$tuple"])
    return {key: decoded(item) for key, item in value.items()}


def encoded(value: Any) -> Any:
    """A result as JSON that keeps its types: every value tagged with its type (numpy ones with
    their dtype), DataFrames as frame_json with their attrs, mapping keys with their types."""
    from datetime import datetime

    import numpy as np
    import pandas as pd

    if type(value).__name__ in ("DiGraph", "Graph"):  # networkx: nodes and edges, sorted
        return {
            "$graph": type(value).__name__,
            "nodes": sorted(jsonable(list(value.nodes))),
            "edges": sorted(jsonable([list(edge) for edge in value.edges])),
        }
    if isinstance(value, pd.DataFrame):
        return {"$frame": frame_json(value), "attrs": json.loads(json.dumps(value.attrs, default=str))}
    if isinstance(value, np.ndarray):
        return {"$ndarray": str(value.dtype), "values": [encoded(item) for item in value.tolist()]}
    if isinstance(value, np.generic):
        return {"$numpy": str(value.dtype), "value": value.item()}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat(), "tz": str(value.tzinfo)}
    if isinstance(value, dict):
        return {
            "$dict": [[type(key).__name__, encoded(key), encoded(item)] for key, item in value.items()]
        }
    if isinstance(value, list | tuple):
        return {f"${type(value).__name__}": [encoded(item) for item in value]}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return {"$other": type(value).__name__, "repr": repr(value)}


def error_record(error: BaseException) -> dict[str, Any]:
    """An exception as its class, the qualified names of every class it is an instance of, and
    its message."""
    return {
        "class": type(error).__name__,
        "mro": [f"{kind.__module__}.{kind.__qualname__}" for kind in type(error).__mro__],
        "message": str(error)[:500],
    }


def bound_call(
    client: Any, case: dict[str, Any]
) -> tuple[Callable[..., Any], list[Any], dict[str, Any]]:
    """The method `case["call"]` ("service.method") names on `client`, and the case's arguments
    decoded (new objects on every call)."""
    service, method = case["call"].split(".")
    function = getattr(getattr(client, service), method)
    return function, decoded(case.get("args", [])), decoded(case.get("kwargs", {}))


def run_case(client: Any, case: dict[str, Any]) -> dict[str, Any]:
    """One differential case: `case["call"]` ("service.method") with its decoded arguments, its
    result encoded, or the exception it raised."""
    function, args, kwargs = bound_call(client, case)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = function(*args, **kwargs)
    except Exception as error:  # the outcome compared
        return {"error": error_record(error)}
    return {"value": encoded(value)}


def differential(client: Any, results: dict[str, Any], inputs: dict[str, Any]) -> None:
    """Every case of the file `inputs["cases"]` names, in order, by id; those marked
    `"client": "pinned"` on a client made with `version=inputs["pinned_version"]`, those marked
    `"client": "nm"` on one made with `desired_resolution=[1, 1, 1]`."""
    from caveclient import CAVEclient

    with open(inputs["cases"], encoding="utf-8") as file:
        cases = json.load(file)
    where = {
        "datastack_name": client.datastack_name,
        "server_address": client.server_address,
        "auth_token": client.auth.token,
        "write_server_cache": False,
    }
    clients = {
        "plain": client,
        "pinned": CAVEclient(**where, version=inputs["pinned_version"]),
        "nm": CAVEclient(**where, desired_resolution=[1, 1, 1]),
    }
    for case in cases:
        results[case["id"]] = run_case(clients[case.get("client", "plain")], case)


SECTIONS: dict[str, Callable[[Any, dict[str, Any], dict[str, Any]], None]] = {
    "global": lambda client, results, inputs: global_services(client, results),
    "materialize": materialize_services,
    "annotation": annotation_services,
    "chunkedgraph": chunkedgraph_services,
    "edits": edits,
    "skeleton": skeleton_services,
    "differential": differential,
}


def main() -> int:
    section, server, datastack, token = sys.argv[1:5]
    from caveclient import CAVEclient

    client = CAVEclient(datastack, server_address=server, auth_token=token, write_server_cache=False)
    results: dict[str, Any] = {}
    inputs = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
    SECTIONS[section](client, results, inputs)
    print(json.dumps(results, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
