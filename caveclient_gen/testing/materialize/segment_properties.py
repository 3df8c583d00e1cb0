"""Neuroglancer documents the materialization service builds from query results.

* Segment properties (``neuroglancer_segment_properties``), as nglui's ``SegmentProperties``
  makes them from a frame: one entry per row keyed by its root id, a label, string columns and
  boolean columns as tags, numeric columns as ``number`` properties.
* The ``info`` of a precomputed annotation source (``neuroglancer_annotations_v1``): bounds,
  annotation type (one position column: ``point``, two: ``line``), properties, relationships
  (root-id columns) and the levels of the spatial index.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

NUMBER_TYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "float32")
# Position columns the precomputed source treats as plain numbers, not as geometry.
_NON_GEOMETRY_POSITIONS = ("ctr_pt_position", "bb_start_position", "bb_end_position")
SPATIAL_INDEX_LIMIT = 10_000
_MAX_SPATIAL_LEVELS = 10


def _number_type(values: pd.Series) -> str:
    name = str(values.dtype)
    if name in NUMBER_TYPES:
        return name
    if name == "int64":
        return "int32"
    return "float32"


def _label_values(frame: pd.DataFrame, columns: Sequence[str] | None, template: str | None) -> list[str]:
    if template:
        records = frame.to_dict(orient="records")
        return [template.format(**{str(key): value for key, value in row.items()}) for row in records]
    assert columns is not None
    labels = frame[list(columns)].astype(object).where(frame[list(columns)].notna(), "")
    return ["_".join(str(value) for value in row if str(value)) for row in labels.to_numpy()]


def _tag_property(
    frame: pd.DataFrame, value_columns: Sequence[str], bool_columns: Sequence[str]
) -> dict[str, Any]:
    tags_by_column: dict[str, list[str]] = {}
    texts = {
        column: frame[column].astype(object).where(frame[column].notna(), None)
        for column in value_columns
    }
    for column in value_columns:
        present = [value for value in texts[column].unique() if value is not None and value != ""]
        tags_by_column[column] = sorted(str(value) for value in present)
    for column in bool_columns:
        tags_by_column[column] = [column]
    every_tag = [tag for tags in tags_by_column.values() for tag in tags]
    clashing = {tag for tag in every_tag if every_tag.count(tag) > 1}
    renamed = {
        column: [f"{column}:{tag}" if tag in clashing and column in texts else tag for tag in tags]
        for column, tags in tags_by_column.items()
    }
    tags = [tag for column_tags in renamed.values() for tag in column_tags]
    index_of = {tag: number for number, tag in enumerate(tags)}
    values: list[list[int]] = [[] for _ in range(len(frame))]
    for column in value_columns:
        for row, value in enumerate(texts[column]):
            if value is None or value == "":
                continue
            tag = f"{column}:{value}" if str(value) in clashing else str(value)
            values[row].append(index_of[tag])
    for column in bool_columns:
        for tagged in np.flatnonzero(frame[column].fillna(False).to_numpy(dtype=bool)):
            values[int(tagged)].append(index_of[column])
    return {
        "id": "tags",
        "type": "tags",
        "tags": [tag.replace(" ", "_") for tag in tags],
        "values": [sorted(row) for row in values],
    }


def segment_properties(
    frame: pd.DataFrame,
    *,
    id_column: str,
    tag_columns: Sequence[str],
    bool_columns: Sequence[str],
    number_columns: Sequence[str],
    label_columns: Sequence[str] | None,
    label_format: str | None,
) -> dict[str, Any]:
    """The segment-properties document of ``frame`` (one segment per row)."""
    properties: list[dict[str, Any]] = []
    if label_columns or label_format:
        properties.append(
            {"id": "label", "type": "label", "values": _label_values(frame, label_columns, label_format)}
        )
    if tag_columns or bool_columns:
        properties.append(_tag_property(frame, tag_columns, bool_columns))
    for column in number_columns:
        data_type = _number_type(frame[column])
        values = frame[column].to_numpy(dtype=np.dtype(data_type), na_value=0)
        properties.append(
            {"id": column, "type": "number", "values": values.tolist(), "data_type": data_type}
        )
    return {
        "@type": "neuroglancer_segment_properties",
        "inline": {"ids": [str(value) for value in frame[id_column].tolist()], "properties": properties},
    }


def check_label_format(label_format: str, columns: Sequence[str]) -> None:
    """Fail as ``str.format`` would on a row that lacks a named field."""
    for _, field_name, _, _ in string.Formatter().parse(label_format):
        if field_name and field_name.split(".")[0].split("[")[0] not in columns:
            raise KeyError(field_name)


# -- precomputed annotation sources ------------------------------------------------------------


def geometry_prefixes(columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """Position prefixes with x, y and z columns (minus the centre/box points), and those columns."""
    axes: dict[str, set[str]] = {}
    for column in columns:
        if column[-2:] in ("_x", "_y", "_z"):
            prefix = column.rsplit("_", 1)[0]
            if prefix not in _NON_GEOMETRY_POSITIONS:
                axes.setdefault(prefix, set()).add(column[-1])
    prefixes = [prefix for prefix, found in axes.items() if found >= {"x", "y", "z"}]
    covered = [f"{prefix}_{axis}" for prefix in prefixes for axis in "xyz"]
    return prefixes, covered


def spatial_levels(
    total_size: npt.NDArray[np.float64], annotation_count: int, limit: int = SPATIAL_INDEX_LIMIT
) -> list[dict[str, Any]]:
    """Levels of the spatial index: the grid is refined, largest axes first, until cells are small."""
    if annotation_count <= limit:
        return [
            {
                "key": "spatial_overview",
                "grid_shape": [1, 1, 1],
                "chunk_size": total_size.tolist(),
                "limit": limit,
            }
        ]
    levels: list[dict[str, Any]] = []
    grid = np.array([1, 1, 1], dtype=np.int64)
    for level in range(_MAX_SPATIAL_LEVELS + 1):
        chunk = total_size / grid
        per_cell = annotation_count / float(np.prod(grid))
        levels.append(
            {
                "key": "spatial_overview" if level == 0 else f"spatial_level_{level}",
                "grid_shape": grid.tolist(),
                "chunk_size": chunk.astype(int).tolist(),
                "limit": limit,
            }
        )
        if per_cell <= limit:
            break
        refined = _refine(grid, chunk, total_size, per_cell, limit)
        if refined is None:
            break
        grid = refined
    return levels


def _refine(
    grid: npt.NDArray[np.int64],
    chunk: npt.NDArray[np.float64],
    total_size: npt.NDArray[np.float64],
    per_cell: float,
    limit: int,
) -> npt.NDArray[np.int64] | None:
    """Halve the chunks along each axis where that keeps them about as isotropic as before."""
    anisotropy = float(chunk.max() / chunk.min())
    refined = grid.copy()
    for axis in np.argsort(chunk)[::-1]:
        trial = refined.copy()
        trial[axis] *= 2
        trial_chunk = total_size / trial
        trial_anisotropy = float(trial_chunk.max() / trial_chunk.min())
        large_axis = chunk[axis] >= chunk.max() * 0.8 and trial_anisotropy <= anisotropy * 1.5
        still_crowded = (
            per_cell > limit * 1.1 and anisotropy < 2.0 and trial_anisotropy <= anisotropy * 1.2
        )
        if large_axis or still_crowded:
            refined[axis] *= 2
    return None if np.array_equal(refined, grid) else refined


def annotation_property_specs(
    frame: pd.DataFrame,
    geometry_columns: Sequence[str],
    enumerations: Mapping[str, Sequence[str | None]],
) -> list[dict[str, Any]]:
    """Properties of a precomputed annotation source: numbers, and enumerated string columns."""
    specs: list[dict[str, Any]] = []
    for column in frame.columns:
        if column.endswith("id") or column.endswith("valid") or column in geometry_columns:
            continue
        if column in enumerations:
            labels = sorted(value for value in enumerations[column] if value is not None)
            specs.append(
                {
                    "id": column,
                    "type": "uint32",
                    "enum_values": list(range(len(labels))),
                    "enum_labels": labels,
                }
            )
            continue
        dtype = str(frame[column].dtype)
        kind = {
            "float64": "float32",
            "float32": "float32",
            "bool": "int32",
            "int64": "int32",
            "int32": "int32",
        }
        if dtype in kind:
            specs.append({"id": column, "type": kind[dtype], "description": column})
    return specs
