"""Typed shapes of the records the materialize and annotation sub-clients return.

Like `caveclient_gen.records`, they are plain dicts at run time (code written for caveclient indexes
them the same way) and TypedDicts for type checkers and IDEs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NotRequired, TypedDict

__all__ = [
    "AnnotationRecord",
    "AnnotationTableMetadata",
    "TableMetadata",
    "VersionMetadata",
    "ViewColumnType",
    "ViewMetadata",
]


class VersionMetadata(TypedDict):
    """One materialization version (a frozen snapshot of a datastack's tables)."""

    id: int
    datastack: str
    version: int
    time_stamp: datetime
    """When the snapshot was taken (UTC, timezone-aware)."""
    valid: bool | None
    expires_on: datetime | None
    """When the version may be deleted (UTC, timezone-aware), or None."""
    status: NotRequired[str]
    """Absent from servers older than the field (as are `is_merged`'s)."""
    is_merged: NotRequired[bool | None]


class TableMetadata(TypedDict, total=False):
    """Metadata of a table in a materialization version (times are naive-UTC ISO strings)."""

    id: int
    aligned_volume: str
    schema: str
    schema_type: str
    table_name: str
    valid: bool | None
    created: str
    user_id: str
    description: str
    notice_text: str | None
    reference_table: str | None
    flat_segmentation_source: str | None
    voxel_resolution: list[float]
    """[x, y, z] nm per unit of the table's positions (the server's voxel_resolution_x/y/z)."""
    write_permission: str
    read_permission: str
    last_modified: str
    segmentation_source: str | None
    pcg_table_name: str
    last_updated: str | None
    annotation_table: str


class ViewMetadata(TypedDict, total=False):
    """Metadata of a materialization view."""

    id: int
    table_name: str
    description: str
    datastack_name: str
    voxel_resolution_x: float
    voxel_resolution_y: float
    voxel_resolution_z: float
    notice_text: str | None
    live_compatible: bool


class ViewColumnType(TypedDict, total=False):
    """Type of one view column: `type` is string, integer, float, number, boolean or SpatialPoint."""

    type: str
    format: str


class AnnotationTableMetadata(TypedDict, total=False):
    """Metadata of a live annotation table (times are naive-UTC ISO strings).

    `get_table_metadata` folds the server's voxel_resolution_x/y/z into `voxel_resolution`;
    `update_metadata` returns the server's record as sent.
    """

    id: int
    schema_type: str
    table_name: str
    valid: bool | None
    created: str
    deleted: str | None
    user_id: str
    description: str
    notice_text: str | None
    reference_table: str | None
    flat_segmentation_source: str | None
    voxel_resolution: list[float]
    voxel_resolution_x: float
    voxel_resolution_y: float
    voxel_resolution_z: float
    read_permission: str
    write_permission: str
    last_modified: str | None
    segmentation_source: str | None
    pcg_table_name: str
    last_updated: str | None
    annotation_table: str | None


AnnotationRecord = dict[str, Any]
"""One stored annotation row as the annotation engine returns it: `id`, `created`, `deleted`, `valid`,
`superceded_id`, then the schema's fields, points flattened to `<field>_position` [x, y, z]."""
