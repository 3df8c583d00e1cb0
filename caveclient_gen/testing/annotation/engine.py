"""What the annotation engine does with a request, once the route has authenticated it.

Writes go to the deployment's shared table store, so the materialization service sees them at
once; the supervoxel lookup the real engine triggers on the materialization service after each
write happens here synchronously, with the segmentation's ``supervoxels_at``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..auth.guard import Caller
from ..materialize.queries import check_read_permission, shares_group_with
from ..server.restx_errors import AbortError
from .body_schemas import Bool, Dict, Float, Int, List, Schema, Str
from .columns import AnnotationValidationError, ColumnKind, InvalidPositionError, SchemaModel
from .synthetic_tables import annotation_tables
from .tables import INSERT_LIMIT, PERMISSIONS, AnnotationTable, TableError, iso

if TYPE_CHECKING:
    from ..world.deployment import Deployment

_TABLE_NAME = re.compile(r"^[a-z_]+[a-z0-9_]*$")
_TABLE_NAME_ERROR = (
    "Invalid table name. Table name must include at least one letter, and can only contain "
    "lowercase letters, numbers, and underscores (_)."
)

CREATE_TABLE_SCHEMA = Schema(
    {
        "table_name": Str(),
        "schema_type": Str(),
        "metadata": Schema(
            {
                "user_id": Str(),
                "description": Str(),
                "table_metadata": Schema({"reference_table": Str(), "track_target_id_updates": Bool()}),
                "flat_segmentation_source": Str(),
                "voxel_resolution_x": Float(),
                "voxel_resolution_y": Float(),
                "voxel_resolution_z": Float(),
                "read_permission": Str(),
                "write_permission": Str(),
                "notice_text": Str(),
            },
            required=frozenset(
                {"description", "voxel_resolution_x", "voxel_resolution_y", "voxel_resolution_z"}
            ),
        ),
    },
    required=frozenset({"table_name", "schema_type", "metadata"}),
)
UPDATE_TABLE_SCHEMA = Schema(
    {
        "table_name": Str(),
        "metadata": Schema(
            {
                name: Str()
                for name in (
                    "user_id",
                    "description",
                    "flat_segmentation_source",
                    "read_permission",
                    "write_permission",
                    "notice_text",
                )
            }
        ),
    },
    required=frozenset({"table_name", "metadata"}),
)
DELETE_ANNOTATIONS_SCHEMA = Schema(
    {"annotation_ids": List(Int())},
    required=frozenset({"annotation_ids"}),
)
ANNOTATIONS_SCHEMA = Schema({"annotations": List(Dict())}, required=frozenset({"annotations"}))


def _moment() -> datetime:
    """Write times keep microseconds, as ``datetime.utcnow()`` in the real engine does."""
    return datetime.now(UTC)


def _enum_error(column: str, value: str) -> str:
    return (
        f'(psycopg2.errors.InvalidTextRepresentation) invalid input value for enum {column}: "{value}"'
    )


class AnnotationEngine:
    """The annotation engine of one deployment."""

    def __init__(self, deployment: Deployment) -> None:
        self._deployment = deployment
        self.store = deployment.component(annotation_tables)

    # -- tables ----------------------------------------------------------------------------

    def metadata_of(self, volume: str, table_name: str) -> dict[str, Any]:
        table = self.store.find(volume, table_name)
        if table is None:
            raise AttributeError("'NoneType' object has no attribute 'get'")
        return _jsonable(table.merged_metadata())

    def create_table(self, volume: str, body: Mapping[str, Any], caller: Caller) -> str:
        metadata = dict(body["metadata"])
        metadata.setdefault("user_id", str(caller.user_id))
        table_name = body["table_name"]
        if not table_name:
            raise AbortError(400, "Table name error: Table name cannot be empty.")
        if not _TABLE_NAME.match(table_name):
            raise AbortError(400, f"Table name error: {_TABLE_NAME_ERROR}")
        for column in ("read_permission", "write_permission"):
            if column in metadata and metadata[column] not in PERMISSIONS:
                raise AbortError(400, _enum_error("read_permission", metadata[column]))
        reference = (metadata.get("table_metadata") or {}).get("reference_table")
        try:
            self.store.create_table(
                volume,
                table_name,
                body["schema_type"],
                description=metadata["description"],
                user_id=metadata["user_id"],
                voxel_resolution=[metadata[f"voxel_resolution_{axis}"] for axis in "xyz"],
                created=_moment(),
                reference_table=reference,
                flat_segmentation_source=metadata.get("flat_segmentation_source"),
                read_permission=metadata.get("read_permission", "PUBLIC"),
                write_permission=metadata.get("write_permission", "PRIVATE"),
                notice_text=metadata.get("notice_text"),
            )
        except TableError as error:
            raise AbortError(400, str(error)) from None
        return str(table_name)

    def update_table(self, volume: str, body: Mapping[str, Any], caller: Caller) -> dict[str, Any]:
        changes = dict(body["metadata"])
        changes.setdefault("user_id", str(caller.user_id))
        table = self._owned(volume, body["table_name"], caller)
        for column in ("read_permission", "write_permission"):
            if column in changes and changes[column] not in PERMISSIONS:
                raise ValueError(_enum_error("read_permission", changes[column]))
        self.store.update_metadata(table, changes)
        return self.metadata_of(volume, table.name)

    def delete_table(self, volume: str, table_name: str, caller: Caller) -> bool:
        table = self._owned(volume, table_name, caller)
        self.store.mark_deleted(table, _moment())
        return True

    def count(self, volume: str, table_name: str, caller: Caller) -> int:
        table = self._readable(volume, table_name, caller)
        return len(table.rows)

    # -- annotations -----------------------------------------------------------------------

    def annotations(
        self, volume: str, table_name: str, ids: Sequence[int] | None, caller: Caller
    ) -> list[dict[str, Any]]:
        table = self._readable(volume, table_name, caller)
        if ids is None:
            raise TypeError("'NoneType' object is not iterable")
        rows = table.rows
        found = rows[np.isin(rows["id"].to_numpy(), np.asarray(list(ids), dtype=np.int64))]
        return [_record(table.model, row) for row in found.to_dict(orient="records")]

    def notice_header(self, volume: str, table_name: str) -> dict[str, str]:
        table = self.store.find(volume, table_name)
        if table is None or table.metadata.notice_text is None:
            return {}
        return {"Warning": f"Table Owner Notice: {table.metadata.notice_text}"}

    def insert(self, volume: str, table_name: str, annotations: list[Any], caller: Caller) -> list[int]:
        table = self._writable(volume, table_name, caller)
        if len(annotations) > INSERT_LIMIT:
            raise AbortError(
                413,
                f"{INSERT_LIMIT} -> The insertion limit is {INSERT_LIMIT}, {len(annotations)} "
                "were attempted to be inserted",
            )
        parsed, requested = [], []
        for annotation in annotations:
            parsed.append(self._parse(table.model, annotation, missing_status=404))
            requested.append(annotation.get("id") if isinstance(annotation, Mapping) else None)
        moment = _moment()
        lookups = self._lookups(table, volume, parsed, moment)
        try:
            return self.store.insert(
                table, parsed, requested_ids=requested, lookups=lookups, moment=moment
            )
        except TableError as error:
            raise AbortError(404, str(error)) from None

    def update(
        self, volume: str, table_name: str, annotations: list[Any], caller: Caller
    ) -> dict[str, int]:
        table = self._writable(volume, table_name, caller)
        mapping: dict[str, int] = {}
        for annotation in annotations:
            if not isinstance(annotation, Mapping) or not annotation.get("id"):
                raise AbortError(400, "'str' object has no attribute 'items'")
            parsed = self._parse(table.model, annotation, missing_status=400)
            moment = _moment()
            try:
                new_id = self.store.supersede(
                    table,
                    int(annotation["id"]),
                    parsed,
                    lookups=self._lookups(table, volume, [parsed], moment),
                    moment=moment,
                )
            except TableError as error:
                raise AbortError(error.status, str(error)) from None
            mapping[str(int(annotation["id"]))] = new_id
        return mapping

    def delete(self, volume: str, table_name: str, ids: Sequence[int], caller: Caller) -> list[int]:
        table = self._writable(volume, table_name, caller)
        return self.store.delete_rows(table, ids, _moment())

    # -- checks and helpers ----------------------------------------------------------------

    def _table(self, volume: str, table_name: str) -> AnnotationTable:
        table = self.store.find(volume, table_name)
        if table is None:
            raise TypeError("'NoneType' object is not subscriptable")
        return table

    def _owned(self, volume: str, table_name: str, caller: Caller) -> AnnotationTable:
        table = self._table(volume, table_name)
        if table.metadata.user_id != str(caller.user_id):
            raise AbortError(401, "You cannot do this because you are not the owner of this table")
        return table

    def _readable(self, volume: str, table_name: str, caller: Caller) -> AnnotationTable:
        table = self._table(volume, table_name)
        check_read_permission(self._deployment, table, caller)
        return table

    def _writable(self, volume: str, table_name: str, caller: Caller) -> AnnotationTable:
        table = self._table(volume, table_name)
        metadata = table.metadata
        if metadata.user_id == str(caller.user_id) or metadata.write_permission == "PUBLIC":
            return table
        if metadata.write_permission == "GROUP":
            if not shares_group_with(self._deployment, caller, metadata.user_id):
                raise AbortError(
                    401,
                    "Unauthorized: You cannot write because you do not share a common group "
                    "with the creator of this table.",
                )
            return table
        raise AbortError(401, "Unauthorized: The table can only be written to by owner")

    @staticmethod
    def _parse(model: SchemaModel, annotation: Any, *, missing_status: int) -> dict[str, Any]:
        try:
            return model.parse(annotation)
        except AnnotationValidationError as invalid:
            raise AbortError(422, invalid.messages) from None
        except InvalidPositionError as error:
            raise AbortError(missing_status, error) from None

    def _lookups(
        self,
        table: AnnotationTable,
        volume: str,
        parsed: Sequence[Mapping[str, Any]],
        moment: datetime,
    ) -> dict[str, np.ndarray]:
        """Supervoxels under each bound point, as the materialization's lookup finds them."""
        if not table.model.bound_points:
            return {}
        from ..chunkedgraph.segmentation.graph import SegmentationGraph

        graph = self._deployment.component(SegmentationGraph)
        resolution = table.metadata.voxel_resolution
        lookups: dict[str, np.ndarray] = {}
        for point in table.model.bound_points:
            positions = np.array(
                [row.get(point.position_column, (math.nan,) * 3) for row in parsed], dtype=np.float64
            ).reshape(-1, 3)
            present = ~np.isnan(positions).any(axis=1)
            found = np.zeros(len(parsed), dtype=np.int64)
            if present.any():
                found[present] = graph.supervoxels_at(positions[present], resolution).astype(np.int64)
            lookups[point.supervoxel_column] = found
        self._record_segmentation_table(table, volume, moment)
        return lookups

    def _record_segmentation_table(self, table: AnnotationTable, volume: str, moment: datetime) -> None:
        """The first lookup creates the table's segmentation table (and its metadata row)."""
        stack = next(
            (d for d in self._deployment.datastacks.values() if d.aligned_volume == volume), None
        )
        if stack is not None:
            self.store.add_segmentation(
                table,
                pcg_table_name=stack.pcg_table,
                segmentation_source=stack.segmentation_source,
                created=moment,
            )


def _record(model: SchemaModel, row: Mapping[Any, Any]) -> dict[str, Any]:
    """A stored row as the engine returns it: schema fields, then id and CRUD columns."""
    record: dict[str, Any] = {}
    for column in model.annotation_columns:
        if column.name == "valid":
            record["valid"] = bool(row["valid"])
        elif column.kind is ColumnKind.POSITION:
            values = [row[f"{column.name}_{axis}"] for axis in "xyz"]
            record[column.name] = (
                None if any(pd.isna(v) for v in values) else [_unsigned(v) for v in values]
            )
        else:
            value = row[column.name]
            record[column.name] = None if pd.isna(value) else _plain(value)
    record["id"] = int(row["id"])
    record["created"] = str(pd.Timestamp(row["created"]).to_pydatetime())
    deleted = row["deleted"]
    record["deleted"] = "None" if pd.isna(deleted) else str(pd.Timestamp(deleted).to_pydatetime())
    superseded = row["superceded_id"]
    record["superceded_id"] = None if pd.isna(superseded) else int(superseded)
    return record


def _unsigned(value: float) -> int:
    # Positions come back through numpy uint64: truncated, negative values wrapped around.
    return math.trunc(value) % (1 << 64)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _jsonable(record: Mapping[str, Any]) -> dict[str, Any]:
    return {key: iso(value) if isinstance(value, datetime) else value for key, value in record.items()}
