"""The Neuroglancer routes of the materialization service: segment properties and precomputed info.

Both start from an ordinary query of the table (joined to its target for reference tables, with
positions in nanometres), retype the frame as the server does for Neuroglancer (nulls-only
columns dropped, floats to float32, integers to int64, strings to str) and describe it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from ..annotation.columns import ColumnKind
from ..annotation.tables import AnnotationTable
from ..auth.guard import Caller
from ..server.restx_errors import AbortError
from ..world.deployment import utc_now
from .queries import MaterializeQueries, QueryAnswer
from .requests import QueryArguments
from .segment_properties import (
    annotation_property_specs,
    check_label_format,
    geometry_prefixes,
    segment_properties,
    spatial_levels,
)

NANOMETRES = [1.0, 1.0, 1.0]
_TYPED = QueryArguments(direct_sql_pandas=True)


class TooLargeError(Exception):
    """The table has more rows than a segment-properties document may describe."""


def neuroglancer_types(frame: pd.DataFrame) -> pd.DataFrame:
    """The server's retyping of a frame before handing it to Neuroglancer tools."""
    frame = frame.copy()
    for name in list(frame.columns):
        column = frame[name]
        if column.isna().all():
            frame = frame.drop(columns=[name])
            continue
        if pd.api.types.is_float_dtype(column):
            frame[name] = column.astype(np.float32)
        elif pd.api.types.is_integer_dtype(column):
            frame[name] = column.astype(np.int64)
        elif pd.api.types.is_string_dtype(column):
            frame[name] = column.astype(object).where(column.notna(), "None").astype(str).astype(object)
    return frame


class NeuroglancerDocuments:
    """Segment properties and precomputed-annotation info of tables."""

    def __init__(self, queries: MaterializeQueries) -> None:
        self._queries = queries
        self._data = queries.data

    # -- query frames ----------------------------------------------------------------------

    def _frozen_frame(
        self, datastack: str, version: int, table: AnnotationTable, caller: Caller
    ) -> QueryAnswer:
        reference = table.metadata.reference_table
        if reference:
            body: dict[str, Any] = {
                "tables": [[table.name, "target_id"], [reference, "id"]],
                "suffix_map": {table.name: "", reference: "_ref"},
                "desired_resolution": NANOMETRES,
            }
            return self._queries.join_query(
                datastack, version, _TYPED, body, caller, convert_positions=True
            )
        return self._queries.simple_query(
            datastack,
            version,
            table.name,
            _TYPED,
            {"desired_resolution": NANOMETRES},
            caller,
            convert_positions=True,
        )

    def _live_frame(
        self, datastack: str, table: AnnotationTable, moment: datetime, caller: Caller, limit: int | None
    ) -> QueryAnswer:
        body: dict[str, Any] = {
            "table": table.name,
            "timestamp": moment,
            "suffixes": {table.name: ""},
            "desired_resolution": NANOMETRES,
        }
        if limit is not None:
            body["limit"] = limit
        reference = table.metadata.reference_table
        if reference:
            body["suffixes"][reference] = "_ref"
            body["join_tables"] = [[table.name, "target_id", reference, "id"]]
        return self._queries.live_query(datastack, _TYPED, body, caller)

    # -- segment properties ----------------------------------------------------------------

    def versioned_segment_properties(
        self,
        datastack: str,
        version: int,
        table_name: str,
        caller: Caller,
        label_format: str | None,
        label_columns: Sequence[str] | None,
    ) -> dict[str, Any]:
        self._queries.validate_datastack(datastack, version)
        found = self._queries.validate_tables(datastack, version, [table_name])
        table = self._data.store.get(self._data.aligned_volume(datastack), table_name)
        self._queries.version_database(datastack, found)
        if self._data.row_count(table, found.time_stamp) > self._data.settings.query_limit_size:
            raise TooLargeError
        answer = self._frozen_frame(datastack, version, table, caller)
        volume = self._data.aligned_volume(datastack)
        return self._properties(table, answer, volume, label_format, label_columns)

    def live_segment_properties(
        self,
        datastack: str,
        table_name: str,
        caller: Caller,
        label_format: str | None,
        label_columns: Sequence[str] | None,
    ) -> dict[str, Any]:
        self._queries.validate_live_datastack(datastack)
        table = self._data.store.find(self._data.aligned_volume(datastack), table_name)
        if table is None:
            raise TypeError("'NoneType' object is not subscriptable")
        answer = self._live_frame(datastack, table, utc_now(), caller, None)
        volume = self._data.aligned_volume(datastack)
        return self._properties(table, answer, volume, label_format, label_columns)

    def _properties(
        self,
        table: AnnotationTable,
        answer: QueryAnswer,
        volume: str,
        label_format: str | None,
        label_columns: Sequence[str] | None,
    ) -> dict[str, Any]:
        frame = neuroglancer_types(answer.frame)
        root_column = next((c for c in frame.columns if c.endswith("_root_id")), None)
        if root_column is None:
            raise KeyError(None)
        frame = frame[frame[root_column] != 0].reset_index(drop=True)
        tags: list[str] = []
        bool_tags: list[str] = []
        numbers: list[str] = []
        owners = [(table, answer.column_names.get(table.name, {}))]
        reference = table.metadata.reference_table
        if reference:
            target = self._data.store.find(volume, reference)
            if target is not None:
                owners.append((target, answer.column_names.get(reference, {})))
        for owner, names in owners:
            for column in owner.model.flat_columns:
                name = column.name
                if name.endswith(("_supervoxel_id", "_root_id")) or name in ("id", "valid", "target_id"):
                    continue
                label = names.get(name, name)
                if label not in frame.columns:
                    continue
                if column.kind is ColumnKind.STRING:
                    tags.append(label)
                elif column.kind is ColumnKind.BOOLEAN:
                    frame[label] = frame[label].astype(bool)
                    bool_tags.append(label)
                elif column.kind in (ColumnKind.FLOAT, ColumnKind.INTEGER, ColumnKind.BIGINT):
                    numbers.append(label)
        if label_format is None and label_columns is None:
            label_columns = ["id"]
        if label_format:
            check_label_format(label_format, list(frame.columns))
        elif label_columns:
            for name in label_columns:
                if name not in frame.columns:
                    raise KeyError(f"None of [Index(['{name}'], dtype='object')] are in the [columns]")
        return segment_properties(
            frame,
            id_column=root_column,
            tag_columns=tags,
            bool_columns=bool_tags,
            number_columns=numbers,
            label_columns=label_columns,
            label_format=label_format,
        )

    # -- precomputed annotation info -------------------------------------------------------

    def precomputed_info(self, datastack: str, table_name: str, caller: Caller) -> dict[str, Any]:
        self._queries.validate_live_datastack(datastack)
        timeline = self._data.timeline
        past = timeline.closest_valid(datastack, utc_now())
        if past is None:
            raise TypeError("'NoneType' object is not subscriptable")
        volume = self._data.aligned_volume(datastack)
        table = self._data.store.find(volume, table_name)
        if table is None:
            raise TypeError("'NoneType' object is not subscriptable")
        in_version = self._data.version_table(datastack, past, table_name)
        row_count = None if in_version is None else self._data.row_count(table, past.time_stamp)
        answer = self._live_frame(datastack, table, past.time_stamp, caller, 1)
        frame = neuroglancer_types(answer.frame)
        relationships = [c for c in frame.columns if c.endswith("pt_root_id")]
        prefixes, geometry_columns = geometry_prefixes(list(frame.columns))
        enumerations = unique_string_values(table)
        properties = annotation_property_specs(
            frame.drop(columns=relationships), geometry_columns, enumerations
        )
        if not prefixes:
            raise AbortError(400, f"No geometry columns found for table {table_name}")
        if len(prefixes) > 2:
            raise AbortError(400, f"More than 2 geometry columns found for table {table_name}")
        if row_count is None:
            raise TypeError("'<=' not supported between instances of 'NoneType' and 'int'")
        lower, upper = self.bounds()
        return {
            "@type": "neuroglancer_annotations_v1",
            "dimensions": {axis: [1e-09, "m"] for axis in "xyz"},
            "lower_bound": lower,
            "upper_bound": upper,
            "annotation_type": "point" if len(prefixes) == 1 else "line",
            "properties": properties,
            "relationships": [{"id": name, "key": name} for name in relationships],
            "by_id": {"key": "by_id"},
            "spatial": spatial_levels(np.asarray(upper) - np.asarray(lower), row_count),
        }

    def bounds(self) -> tuple[list[float], list[float]]:
        """The segmentation volume's bounds in nanometres."""
        from ..chunkedgraph.segmentation.graph import SegmentationGraph

        graph = self._data.deployment.component(SegmentationGraph)
        voxels = np.asarray(graph.bounds_voxels, dtype=np.float64)
        resolution = np.asarray(graph.base_resolution, dtype=np.float64)
        lower: list[float] = (voxels[:, 0] * resolution).tolist()
        upper: list[float] = (voxels[:, 1] * resolution).tolist()
        return lower, upper


def unique_string_values(table: AnnotationTable) -> dict[str, list[str | None]]:
    """Distinct values of each string column of the live table (first-seen order)."""
    values: dict[str, list[str | None]] = {}
    rows = table.rows
    for column in table.model.annotation_columns:
        if column.kind is ColumnKind.STRING:
            distinct = pd.unique(rows[column.name].astype(object).to_numpy())
            values[column.name] = [None if pd.isna(v) else str(v) for v in distinct]
    return values


def properties_json(document: Mapping[str, Any]) -> str:
    """The service dumps these documents with ``json.dumps`` and its own encoder."""
    return json.dumps(document)
