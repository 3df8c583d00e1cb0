"""What the materialization service reads: tables and views as they were at a version or any moment.

Frozen versions are not copies: a table "at version v" is the live table's rows that existed and
were valid at the version's timestamp, with root ids resolved by the segmentation at that
timestamp (which is exactly what a materialization stores). Live queries use the same rule at the
moment asked for. Root ids of large tables are cached per table state and moment.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..annotation.columns import Column, ColumnKind
from ..annotation.synthetic_tables import (
    ANNOTATION_RESOLUTION,
    CELL_TYPE_TABLE,
    NUCLEUS_TABLE,
    annotation_tables,
)
from ..annotation.tables import AnnotationTable, naive_utc
from .settings import MaterializationSettings
from .table_queries import QueryTable
from .versions import AnalysisVersion, MaterializationTimeline

if TYPE_CHECKING:
    from ..world.deployment import Deployment

CRUD_MODEL_COLUMNS = (
    Column("id", ColumnKind.BIGINT),
    Column("created", ColumnKind.DATETIME),
    Column("deleted", ColumnKind.DATETIME),
    Column("superceded_id", ColumnKind.BIGINT),
)
SINGLE_NEURONS_VIEW = "single_neurons"
_VIEW_COLUMNS = (
    Column("id", ColumnKind.BIGINT),
    Column("volume", ColumnKind.DOUBLE),
    Column("pt_supervoxel_id", ColumnKind.BIGINT, segmentation=True),
    Column("pt_root_id", ColumnKind.BIGINT, segmentation=True),
    Column("pt_position", ColumnKind.POSITION),
    Column("cell_type", ColumnKind.STRING),
    Column("classification_system", ColumnKind.STRING),
)
_ROOT_CACHE_SIZE = 8
_TABLE_CACHE_SIZE = 4


@dataclass(frozen=True)
class ViewRecord:
    """A row of ``analysisviews``."""

    id: int
    table_name: str
    description: str
    datastack_name: str
    voxel_resolution_x: float
    voxel_resolution_y: float
    voxel_resolution_z: float
    notice_text: str | None
    live_compatible: bool

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "table_name": self.table_name,
            "description": self.description,
            "datastack_name": self.datastack_name,
            "voxel_resolution_x": self.voxel_resolution_x,
            "voxel_resolution_y": self.voxel_resolution_y,
            "voxel_resolution_z": self.voxel_resolution_z,
            "notice_text": self.notice_text,
            "live_compatible": self.live_compatible,
        }


class MaterializedData:
    """Tables and views of each datastack at versions and moments; one per deployment."""

    def __init__(self, deployment: Deployment) -> None:
        self._deployment = deployment
        self.deployment = deployment
        self.store = deployment.component(annotation_tables)
        self.timeline = deployment.component(MaterializationTimeline)
        self.settings = MaterializationSettings.of(deployment)
        self._roots: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._tables: OrderedDict[tuple[Any, ...], tuple[AnnotationTable, QueryTable]] = OrderedDict()
        self._lock = threading.Lock()
        self._views = {
            name: ViewRecord(
                id=number,
                table_name=SINGLE_NEURONS_VIEW,
                description=(
                    "Nuclei that are the only nucleus of their segment, with their coarse cell "
                    "class where one is known."
                ),
                datastack_name=name,
                voxel_resolution_x=ANNOTATION_RESOLUTION[0],
                voxel_resolution_y=ANNOTATION_RESOLUTION[1],
                voxel_resolution_z=ANNOTATION_RESOLUTION[2],
                notice_text=None,
                live_compatible=True,
            )
            for number, name in enumerate(deployment.datastacks, start=1)
        }

    def aligned_volume(self, datastack: str) -> str:
        return self._deployment.datastacks[datastack].aligned_volume

    def pcg_table(self, datastack: str) -> str:
        return self._deployment.datastacks[datastack].pcg_table

    # -- versions and their tables ---------------------------------------------------------

    def version_tables(self, datastack: str, version: AnalysisVersion) -> list[AnnotationTable]:
        """The tables materialized in a version: valid tables that existed at its timestamp."""
        volume = self.aligned_volume(datastack)
        found = []
        for name in self.store.table_names(volume):
            table = self.store.find(volume, name)
            if table is None:
                continue
            metadata = table.metadata
            deleted_before = metadata.deleted is not None and metadata.deleted <= version.time_stamp
            if metadata.valid and metadata.created <= version.time_stamp and not deleted_before:
                found.append(table)
        return found

    def version_table(
        self, datastack: str, version: AnalysisVersion, table_name: str
    ) -> AnnotationTable | None:
        return next((t for t in self.version_tables(datastack, version) if t.name == table_name), None)

    def row_count(self, table: AnnotationTable, moment: datetime) -> int:
        return len(table.rows_at(moment))

    # -- tables as queries see them --------------------------------------------------------

    def query_table(
        self, table: AnnotationTable, moment: datetime, *, merged: bool = True
    ) -> QueryTable:
        """The table's rows valid at ``moment`` with root ids of that moment.

        Kept for the few latest (table state, moment) pairs: partitioned reads of a big table
        query the same version many times, as a database keeps its tables and indexes."""
        key = (id(table), table.generation, naive_utc(moment), merged)
        with self._lock:
            cached = self._tables.get(key)
            if cached is not None and cached[0] is table:
                self._tables.move_to_end(key)
                return cached[1]
        built = self._query_table(table, moment, merged=merged)
        with self._lock:
            self._tables[key] = (table, built)
            while len(self._tables) > _TABLE_CACHE_SIZE:
                self._tables.popitem(last=False)
        return built

    def _query_table(self, table: AnnotationTable, moment: datetime, *, merged: bool) -> QueryTable:
        model = table.model
        if merged:
            columns = (*CRUD_MODEL_COLUMNS, *model.flat_columns)
        else:
            columns = (*CRUD_MODEL_COLUMNS, *model.annotation_columns, *model.segmentation_columns)
        rows = table.rows
        scope = np.flatnonzero(_alive(rows, moment)).astype(np.int64)
        # At ``moment`` every row in scope was valid, not yet deleted and not yet superseded.
        computed: dict[str, Any] = {
            "valid": np.ones(len(scope), dtype=bool),
            "deleted": np.full(len(scope), np.datetime64("NaT", "ns")),
            "superceded_id": pd.arrays.IntegerArray(
                np.zeros(len(scope), dtype=np.int64), np.ones(len(scope), dtype=bool)
            ),
        }
        for point in model.bound_points:
            computed[point.root_column] = self._roots_of(table, point.supervoxel_column, scope, moment)
        return QueryTable(
            name=table.name,
            columns=columns,
            voxel_resolution=table.metadata.voxel_resolution,
            rows=rows,
            scope=scope,
            computed=computed,
        )

    def _roots_of(
        self, table: AnnotationTable, supervoxel_column: str, scope: np.ndarray, moment: datetime
    ) -> Any:
        key = (id(table), table.generation, supervoxel_column, naive_utc(moment))
        with self._lock:
            if key in self._roots:
                self._roots.move_to_end(key)
                return self._roots[key]
        supervoxels = table.rows[supervoxel_column].array.take(scope)
        pending = np.asarray(pd.isna(supervoxels), dtype=bool)
        ids = supervoxels.to_numpy(dtype=np.int64, na_value=0).astype(np.uint64)
        roots = self.roots_at(ids, moment).astype(np.int64)
        result = pd.arrays.IntegerArray(roots, pending)
        with self._lock:
            self._roots[key] = result
            while len(self._roots) > _ROOT_CACHE_SIZE:
                self._roots.popitem(last=False)
        return result

    def roots_at(self, supervoxels: np.ndarray, moment: datetime) -> np.ndarray:
        from ..chunkedgraph.segmentation.graph import SegmentationGraph

        graph = self._deployment.component(SegmentationGraph)
        roots: np.ndarray = graph.roots_at(np.asarray(supervoxels, dtype=np.uint64), _aware(moment))
        return roots

    def roots_alive_at(self, moment: datetime) -> np.ndarray:
        from ..chunkedgraph.segmentation.graph import SegmentationGraph

        graph = self._deployment.component(SegmentationGraph)
        alive: np.ndarray = graph.roots_alive_at(_aware(moment))
        return alive

    # -- views -----------------------------------------------------------------------------

    def views(self, datastack: str) -> list[ViewRecord]:
        view = self._views.get(datastack)
        return [] if view is None else [view]

    def view(self, datastack: str, name: str) -> ViewRecord | None:
        return next((view for view in self.views(datastack) if view.table_name == name), None)

    def view_table(self, datastack: str, name: str, moment: datetime) -> QueryTable:
        """The view's rows at ``moment``: single-nucleus segments with their cell class."""
        volume = self.aligned_volume(datastack)
        nuclei = self.query_table(self.store.get(volume, NUCLEUS_TABLE), moment)
        everything = np.arange(len(nuclei), dtype=np.int64)
        roots = pd.array(nuclei.take("pt_root_id", everything), dtype="Int64")
        frame = pd.DataFrame(
            {
                "id": pd.array(nuclei.take("id", everything), dtype="Int64"),
                "volume": pd.array(nuclei.take("volume", everything), dtype="Float64"),
                "pt_supervoxel_id": pd.array(nuclei.take("pt_supervoxel_id", everything), dtype="Int64"),
                "pt_root_id": roots,
            }
        )
        points = nuclei.take_positions("pt_position", everything)
        for index, axis in enumerate("xyz"):
            frame[f"pt_position_{axis}"] = points[:, index]
        counts = frame["pt_root_id"].map(frame["pt_root_id"].value_counts())
        single = (frame["pt_root_id"] != 0) & (counts == 1)
        frame = frame[single.fillna(False).to_numpy(dtype=bool)]
        cell_types = self.store.get(volume, CELL_TYPE_TABLE).rows_at(moment)
        classes = cell_types[["target_id", "cell_type", "classification_system"]].drop_duplicates(
            "target_id"
        )
        frame = frame.merge(classes, how="left", left_on="id", right_on="target_id", sort=False)
        frame = frame.drop(columns=["target_id"]).reset_index(drop=True)
        return QueryTable(
            name=name,
            columns=_VIEW_COLUMNS,
            voxel_resolution=np.asarray(ANNOTATION_RESOLUTION),
            rows=frame,
            scope=np.arange(len(frame), dtype=np.int64),
        )


def view_columns() -> Sequence[Column]:
    return _VIEW_COLUMNS


def _alive(rows: pd.DataFrame, moment: datetime) -> np.ndarray:
    stamp = np.datetime64(naive_utc(moment), "ns")
    created = rows["created"].to_numpy()
    deleted = rows["deleted"].to_numpy()
    alive: np.ndarray = (created <= stamp) & (np.isnat(deleted) | (deleted > stamp))
    return alive


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
