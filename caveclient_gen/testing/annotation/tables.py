"""The live annotation tables of each aligned volume, shared by the annotation and materialization
services.

One :class:`AnnotationTableStore` per deployment (``deployment.component(annotation_tables)``, seeded
with the synthetic tables by :mod:`.synthetic_tables`)
holds, per aligned volume, every table's metadata row (``annotation_table_metadata``), its
segmentation metadata row once supervoxels were looked up, and its rows. Rows keep the CRUD
columns of the real tables (``created``, ``deleted``, ``superceded_id``, ``valid``): nothing is
ever removed, so the table can be seen as it was at any moment. Supervoxel ids of bound points are
stored; root ids are not, they depend on the moment asked about and come from the segmentation.

Times are naive UTC, as the databases keep them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .columns import Column, ColumnKind, SchemaModel, schema_model

if TYPE_CHECKING:
    from ..world.deployment import Deployment

INSERT_LIMIT = 10_000
PERMISSIONS = ("PRIVATE", "GROUP", "PUBLIC")
AXES = ("x", "y", "z")

RowBuilder = Callable[[], pd.DataFrame]


def naive_utc(moment: datetime) -> datetime:
    """A datetime as the databases store it: UTC without zone."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def iso(moment: datetime | None) -> str | None:
    """A naive ISO string as the services' JSON encoders write datetimes."""
    return None if moment is None else naive_utc(moment).isoformat()


class TableError(Exception):
    """A request the table store refuses; ``status`` is what the route aborts with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class TableMetadata:
    """A row of ``annotation_table_metadata`` (column order as in the database)."""

    id: int
    schema_type: str
    table_name: str
    valid: bool
    created: datetime
    deleted: datetime | None
    user_id: str
    description: str
    notice_text: str | None
    reference_table: str | None
    flat_segmentation_source: str | None
    voxel_resolution_x: float
    voxel_resolution_y: float
    voxel_resolution_z: float
    write_permission: str
    read_permission: str
    last_modified: datetime

    @property
    def voxel_resolution(self) -> np.ndarray:
        return np.array([self.voxel_resolution_x, self.voxel_resolution_y, self.voxel_resolution_z])


@dataclass
class SegmentationMetadata:
    """A row of ``segmentation_table_metadata``: the table's supervoxel/root-id companion."""

    id: int
    schema_type: str
    table_name: str
    valid: bool
    created: datetime
    deleted: datetime | None
    segmentation_source: str | None
    pcg_table_name: str
    last_updated: datetime | None
    annotation_table: str


def _as_dict(row: object) -> dict[str, Any]:
    return {item.name: getattr(row, item.name) for item in fields(row)}  # type: ignore[arg-type]


def storage_columns(model: SchemaModel) -> list[tuple[str, str]]:
    """(column, pandas dtype) of the stored frame: CRUD columns, then the schema's columns.

    Positions are stored as three float columns ``<name>_x/_y/_z`` (PostGIS keeps floats);
    root ids are not stored.
    """
    columns = [
        ("id", "int64"),
        ("created", "datetime64[ns]"),
        ("deleted", "datetime64[ns]"),
        ("superceded_id", "Int64"),
        ("valid", "bool"),
    ]
    for column in model.flat_columns:
        if column.name == "valid" or (column.name.endswith("root_id") and column.segmentation):
            continue
        if column.kind is ColumnKind.POSITION:
            columns.extend((f"{column.name}_{axis}", "float64") for axis in AXES)
        else:
            columns.append((column.name, _STORAGE_DTYPES[column.kind]))
    return columns


_STORAGE_DTYPES = {
    ColumnKind.BIGINT: "Int64",
    ColumnKind.INTEGER: "Int64",
    ColumnKind.FLOAT: "Float64",
    ColumnKind.STRING: "string",
    ColumnKind.BOOLEAN: "boolean",
    ColumnKind.DATETIME: "datetime64[ns]",
}


def empty_rows(model: SchemaModel) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in storage_columns(model)})


@dataclass
class AnnotationTable:
    """One live annotation table: metadata, schema and rows."""

    metadata: TableMetadata
    model: SchemaModel
    segmentation: SegmentationMetadata | None = None
    _rows: pd.DataFrame | None = None
    _builder: RowBuilder | None = None
    generation: int = 0
    """Bumped on every change of the rows, for caches of derived data."""
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def name(self) -> str:
        return self.metadata.table_name

    @property
    def rows(self) -> pd.DataFrame:
        """Every row ever stored (the caller must not modify it)."""
        with self._lock:
            if self._rows is None:
                self._rows = self._builder() if self._builder is not None else empty_rows(self.model)
                self._builder = None
            return self._rows

    def merged_metadata(self) -> dict[str, Any]:
        """The annotation metadata row joined with the segmentation row (the latter wins)."""
        merged = _as_dict(self.metadata)
        if self.segmentation is not None:
            merged.update(_as_dict(self.segmentation))
        return merged

    def rows_at(self, moment: datetime) -> pd.DataFrame:
        """Rows that existed and were not deleted or superseded at ``moment``."""
        rows = self.rows
        stamp = np.datetime64(naive_utc(moment), "ns")
        created = rows["created"].to_numpy()
        deleted = rows["deleted"].to_numpy()
        alive = (created <= stamp) & (np.isnat(deleted) | (deleted > stamp))
        visible: pd.DataFrame = rows[alive]
        return visible

    def replace_rows(self, rows: pd.DataFrame) -> None:
        with self._lock:
            self._rows = rows
            self._builder = None
            self.generation += 1


class AnnotationTableStore:
    """Every aligned volume's annotation tables; one per deployment, safe across threads."""

    def __init__(self, deployment: Deployment) -> None:
        self._deployment = deployment
        self._lock = threading.RLock()
        self._tables: dict[str, dict[str, AnnotationTable]] = {
            volume: {} for volume in deployment.aligned_volumes
        }
        self._next_metadata_id = 1
        self._next_segmentation_id = 1

    # -- tables ----------------------------------------------------------------------------

    def table_names(self, aligned_volume: str, *, only_valid: bool = False) -> list[str]:
        with self._lock:
            tables = self._tables.get(aligned_volume, {}).values()
            return [t.name for t in tables if t.metadata.valid or not only_valid]

    def find(self, aligned_volume: str, table_name: str) -> AnnotationTable | None:
        """The table named ``table_name`` or whose segmentation table has that name."""
        with self._lock:
            tables = self._tables.get(aligned_volume, {})
            if table_name in tables:
                return tables[table_name]
            for table in tables.values():
                if table.segmentation is not None and table.segmentation.table_name == table_name:
                    return table
            return None

    def get(self, aligned_volume: str, table_name: str) -> AnnotationTable:
        table = self.find(aligned_volume, table_name)
        if table is None:
            raise TableError(404, f"No table named '{table_name}' exists.")
        return table

    def create_table(
        self,
        aligned_volume: str,
        table_name: str,
        schema_type: str,
        *,
        description: str,
        user_id: str,
        voxel_resolution: Sequence[float],
        created: datetime,
        reference_table: str | None = None,
        flat_segmentation_source: str | None = None,
        read_permission: str = "PUBLIC",
        write_permission: str = "PRIVATE",
        notice_text: str | None = None,
        rows: RowBuilder | None = None,
    ) -> AnnotationTable:
        model = schema_model(schema_type)
        if model is None:
            raise TableError(400, f"Schema type: {schema_type} is not a known annotation type")
        with self._lock:
            tables = self._tables.setdefault(aligned_volume, {})
            if table_name in tables:
                raise TableError(400, f"Table {table_name} already exists")
            if reference_table is not None:
                if not model.is_reference:
                    raise TableError(400, "Reference table must be a ReferenceAnnotation schema type")
                if reference_table == table_name:
                    raise TableError(400, f"None must target a different table not {table_name}")
                if reference_table not in tables:
                    raise TableError(400, f"No table named '{reference_table}' exists.")
            moment = naive_utc(created)
            metadata = TableMetadata(
                id=self._next_metadata_id,
                schema_type=schema_type,
                table_name=table_name,
                valid=True,
                created=moment,
                deleted=None,
                user_id=user_id,
                description=description,
                notice_text=notice_text,
                reference_table=reference_table,
                flat_segmentation_source=flat_segmentation_source,
                voxel_resolution_x=float(voxel_resolution[0]),
                voxel_resolution_y=float(voxel_resolution[1]),
                voxel_resolution_z=float(voxel_resolution[2]),
                write_permission=write_permission,
                read_permission=read_permission,
                last_modified=moment,
            )
            self._next_metadata_id += 1
            table = AnnotationTable(metadata=metadata, model=model, _builder=rows)
            tables[table_name] = table
            return table

    def add_segmentation(
        self,
        table: AnnotationTable,
        *,
        pcg_table_name: str,
        segmentation_source: str | None,
        created: datetime,
    ) -> SegmentationMetadata:
        """Record the segmentation table the lookups of ``table`` live in (made on first lookup)."""
        with self._lock:
            if table.segmentation is None:
                table.segmentation = SegmentationMetadata(
                    id=self._next_segmentation_id,
                    schema_type=table.metadata.schema_type,
                    table_name=f"{table.name}__{pcg_table_name}",
                    valid=True,
                    created=naive_utc(created),
                    deleted=None,
                    segmentation_source=segmentation_source,
                    pcg_table_name=pcg_table_name,
                    last_updated=naive_utc(created),
                    annotation_table=table.name,
                )
                self._next_segmentation_id += 1
            return table.segmentation

    def update_metadata(self, table: AnnotationTable, changes: Mapping[str, Any]) -> None:
        """Apply the given metadata changes; an empty or "none" notice removes the notice."""
        with self._lock:
            metadata = table.metadata
            for name in ("description", "user_id", "flat_segmentation_source"):
                if changes.get(name) is not None:
                    setattr(metadata, name, changes[name])
            for name in ("read_permission", "write_permission"):
                if changes.get(name) is not None:
                    setattr(metadata, name, changes[name])
            notice = changes.get("notice_text")
            if notice is not None:
                metadata.notice_text = None if notice.lower() in ("", "none") else notice

    def mark_deleted(self, table: AnnotationTable, moment: datetime) -> None:
        with self._lock:
            table.metadata.deleted = naive_utc(moment)

    # -- rows ------------------------------------------------------------------------------

    def insert(
        self,
        table: AnnotationTable,
        parsed_rows: Sequence[Mapping[str, Any]],
        *,
        requested_ids: Sequence[int | None],
        lookups: Mapping[str, np.ndarray],
        moment: datetime,
    ) -> list[int]:
        """Append new valid rows; ``lookups`` holds supervoxel ids per bound-point column."""
        with table._lock:
            rows = table.rows
            ids = _new_ids(rows, requested_ids)
            new_rows = _frame_of(table.model, parsed_rows, ids, lookups, naive_utc(moment))
            table.replace_rows(pd.concat([rows, new_rows], ignore_index=True))
            table.metadata.last_modified = naive_utc(moment)
            return ids

    def supersede(
        self,
        table: AnnotationTable,
        old_id: int,
        parsed_row: Mapping[str, Any],
        *,
        lookups: Mapping[str, np.ndarray],
        moment: datetime,
    ) -> int:
        """Replace a row: a new row with a new id, the old one invalid and pointing at it.

        Rows of reference tables (with ``target_id``) are changed in place and keep their id.
        """
        stamp = naive_utc(moment)
        with table._lock:
            rows = table.rows
            positions = np.flatnonzero(rows["id"].to_numpy() == old_id)
            if len(positions) == 0:
                raise TableError(400, "No row was found when one was required")
            position = int(positions[0])
            if table.model.is_reference:
                replacement = _frame_of(table.model, [parsed_row], [old_id], lookups, stamp)
                for kept in ("created", "deleted", "superceded_id"):
                    replacement[kept] = rows[kept].iloc[position : position + 1].to_numpy()
                before, after = rows.iloc[:position], rows.iloc[position + 1 :]
                table.replace_rows(pd.concat([before, replacement, after], ignore_index=True))
                table.metadata.last_modified = stamp
                return old_id
            superseded = rows["superceded_id"].iloc[position]
            if not pd.isna(superseded):
                raise TableError(
                    409,
                    f"Error update ID {old_id} -> Annotation with ID {old_id} has already been "
                    f"superseded by annotation ID {superseded}, update annotation ID {superseded} "
                    "instead",
                )
            (new_id,) = _new_ids(rows, [None])
            new_row = _frame_of(table.model, [parsed_row], [new_id], lookups, stamp)
            chosen = np.zeros(len(rows), dtype=bool)
            chosen[position] = True
            updated = _invalidated(rows, chosen, stamp, superseded_by=new_id)
            table.replace_rows(pd.concat([updated, new_row], ignore_index=True))
            table.metadata.last_modified = stamp
            return new_id

    def delete_rows(self, table: AnnotationTable, ids: Iterable[int], moment: datetime) -> list[int]:
        """Mark rows deleted and invalid; the ids found, in table order (empty if none)."""
        stamp = naive_utc(moment)
        wanted = np.asarray(list(ids), dtype=np.int64)
        with table._lock:
            rows = table.rows
            found = np.isin(rows["id"].to_numpy(), wanted)
            if not found.any():
                return []
            table.replace_rows(_invalidated(rows, found, stamp))
            table.metadata.last_modified = stamp
            return [int(value) for value in rows["id"].to_numpy()[found]]


def _invalidated(
    rows: pd.DataFrame, chosen: np.ndarray, moment: datetime, superseded_by: int | None = None
) -> pd.DataFrame:
    """A copy of ``rows`` with the chosen rows deleted at ``moment`` (and superseded if given)."""
    updated = rows.copy()
    deleted = updated["deleted"].to_numpy(copy=True)
    deleted[chosen] = np.datetime64(moment, "ns")
    updated["deleted"] = deleted
    valid = updated["valid"].to_numpy(copy=True)
    valid[chosen] = False
    updated["valid"] = valid
    if superseded_by is not None:
        superseded = updated["superceded_id"].to_numpy(dtype=np.float64, na_value=np.nan)
        superseded[chosen] = superseded_by
        updated["superceded_id"] = pd.array(
            [None if np.isnan(v) else int(v) for v in superseded], dtype="Int64"
        )
    return updated


def _new_ids(rows: pd.DataFrame, requested: Sequence[int | None]) -> list[int]:
    existing = set(rows["id"].to_numpy().tolist()) if len(rows) else set()
    next_id = int(rows["id"].max()) + 1 if len(rows) else 1
    ids: list[int] = []
    for wanted in requested:
        if wanted:
            if wanted in existing or wanted in ids:
                raise TableError(
                    404,
                    "(psycopg2.errors.UniqueViolation) duplicate key value violates unique "
                    f'constraint "pk"\nDETAIL:  Key (id)=({wanted}) already exists.',
                )
            ids.append(int(wanted))
        else:
            while next_id in existing or next_id in ids:
                next_id += 1
            ids.append(next_id)
            next_id += 1
    return ids


def _frame_of(
    model: SchemaModel,
    parsed_rows: Sequence[Mapping[str, Any]],
    ids: Sequence[int],
    lookups: Mapping[str, np.ndarray],
    moment: datetime,
) -> pd.DataFrame:
    count = len(parsed_rows)
    data: dict[str, Any] = {
        "id": np.asarray(ids, dtype=np.int64),
        "created": np.full(count, np.datetime64(moment, "ns")),
        "deleted": np.full(count, np.datetime64("NaT", "ns")),
        "superceded_id": pd.array([None] * count, dtype="Int64"),
        "valid": np.ones(count, dtype=bool),
    }
    for column in model.flat_columns:
        _add_column_values(data, column, parsed_rows, lookups)
    frame: pd.DataFrame = pd.DataFrame(data).astype(dict(storage_columns(model)))
    return frame


def _add_column_values(
    data: dict[str, Any],
    column: Column,
    parsed_rows: Sequence[Mapping[str, Any]],
    lookups: Mapping[str, np.ndarray],
) -> None:
    if column.name == "valid" or (column.segmentation and column.name.endswith("root_id")):
        return
    if column.segmentation:
        found = lookups.get(column.name)
        values = [None] * len(parsed_rows) if found is None else [int(v) for v in found]
        data[column.name] = pd.array(values, dtype="Int64")
        return
    if column.kind is ColumnKind.POSITION:
        points = [row.get(column.name) for row in parsed_rows]
        for index, axis in enumerate(AXES):
            data[f"{column.name}_{axis}"] = np.array(
                [np.nan if point is None else point[index] for point in points], dtype=np.float64
            )
        return
    values = [row.get(column.name) for row in parsed_rows]
    data[column.name] = pd.Series(values, dtype=_STORAGE_DTYPES[column.kind]).array
