"""Filtered, joined, paged reads of annotation tables, answered like the server's query manager.

A :class:`QueryTable` is one table (or view) as a query sees it: the rows in scope (those valid
at the moment queried) with root ids resolved for that moment. Filters narrow row selections
table by table, joins pair rows of two tables, and :func:`result_frame` builds the DataFrame the
server would have read from SQL: positions split into ``_x/_y/_z`` integer columns (converted to
a desired resolution if asked), clashing column names suffixed per table, and column types as
pandas reads them (nullable types on the typed path, CSV-mangled ones on the legacy path).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..annotation.columns import Column, ColumnKind

DEFAULT_SUFFIXES = ("x", "y", "z", "xx", "yy", "zz", "xxx", "yyy", "zzz")
AXES = ("x", "y", "z")
FILTER_KEYS = (
    "filter_in_dict",
    "filter_notin_dict",
    "filter_equal_dict",
    "filter_greater_dict",
    "filter_less_dict",
    "filter_greater_equal_dict",
    "filter_less_equal_dict",
    "filter_spatial_dict",
    "filter_regex_dict",
)
_COMPARISONS: Mapping[str, Callable[[Any, Any], Any]] = {
    "filter_equal_dict": operator.eq,
    "filter_greater_dict": operator.gt,
    "filter_less_dict": operator.lt,
    "filter_greater_equal_dict": operator.ge,
    "filter_less_equal_dict": operator.le,
}
_TYPED_DTYPES = {
    ColumnKind.BIGINT: "Int64",
    ColumnKind.INTEGER: "Int32",
    ColumnKind.FLOAT: "Float32",
    ColumnKind.DOUBLE: "Float64",
    ColumnKind.BOOLEAN: "boolean",
}

Index = npt.NDArray[np.int64]


@dataclass
class QueryTable:
    """One table's rows in scope, with computed columns (root ids) aligned to them."""

    name: str
    columns: tuple[Column, ...]
    voxel_resolution: npt.NDArray[np.float64]
    rows: pd.DataFrame
    scope: Index
    """Positions in ``rows`` of the rows the query sees."""
    computed: dict[str, Any] = field(default_factory=dict)
    """Column name → array aligned with ``scope`` (e.g. root ids at the moment queried)."""

    def __len__(self) -> int:
        return len(self.scope)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def has_column(self, name: str) -> bool:
        return any(column.name == name for column in self.columns)

    def take(self, name: str, selection: Index) -> Any:
        """Values of a non-position column for the selected rows (an array)."""
        if name in self.computed:
            return self.computed[name][selection]
        return self.rows[name].array.take(self.scope[selection])

    def take_positions(self, name: str, selection: Index) -> npt.NDArray[np.float64]:
        picked = self.scope[selection]
        return (
            np.column_stack(
                [self.rows[f"{name}_{axis}"].to_numpy(dtype=np.float64)[picked] for axis in AXES]
            )
            if len(picked)
            else np.empty((0, 3))
        )


@dataclass
class Selection:
    """Aligned rows of one or more joined tables (indices into each table's scope)."""

    tables: list[QueryTable]
    rows: list[Index]

    def __len__(self) -> int:
        return len(self.rows[0]) if self.rows else 0

    def table(self, name: str) -> tuple[int, QueryTable]:
        for index, table in enumerate(self.tables):
            if table.name == name:
                return index, table
        # The server looks an unknown table's metadata up and indexes the missing result.
        raise TypeError("'NoneType' object is not subscriptable")

    def page(self, offset: int, limit: int | None) -> Selection:
        end = None if limit is None else offset + limit
        return Selection(self.tables, [rows[offset:end] for rows in self.rows])


# -- choosing rows -----------------------------------------------------------------------------


def sample_rows(table: QueryTable, fraction: float, rng: np.random.Generator) -> Index:
    """Rows kept by a ``TABLESAMPLE`` of ``fraction`` (0-1) of the table."""
    keep = rng.random(len(table)) < fraction
    return np.flatnonzero(keep).astype(np.int64)


def filter_table(
    table: QueryTable,
    rows: Index,
    filters: Mapping[str, Any],
    *,
    apply_exclusions: bool = True,
) -> Index:
    """The rows of ``table`` passing every filter keyed by its name (in the server's order)."""
    for key in FILTER_KEYS:
        if key == "filter_notin_dict" and not apply_exclusions:
            continue
        by_table = filters.get(key) or {}
        for column_name, value in (by_table.get(table.name) or {}).items():
            rows = rows[_passes(table, rows, key, column_name, value)]
    return rows


def check_filter_tables(filters: Mapping[str, Any], known: Sequence[str]) -> None:
    """Filters may only name tables of the query (the server fails on others)."""
    for key in FILTER_KEYS:
        for table_name in filters.get(key) or {}:
            if table_name not in known:
                raise TypeError("'NoneType' object is not subscriptable")


def _passes(
    table: QueryTable, rows: Index, key: str, column_name: str, value: Any
) -> npt.NDArray[np.bool_]:
    column = table.column(column_name)
    if key == "filter_spatial_dict":
        return _inside_box(table, rows, column, value)
    if column.kind is ColumnKind.POSITION:
        raise ValueError(f"cannot compare the geometry column {column_name} with {value!r}")
    values = pd.array(table.take(column_name, rows))
    if key == "filter_regex_dict":
        if column.kind is not ColumnKind.STRING:
            raise ValueError("Regex filter is only supported on string columns")
        matches = pd.Series(values, dtype="string").str.contains(str(value), regex=True)
        return matches.fillna(False).to_numpy(dtype=bool)
    if key in ("filter_in_dict", "filter_notin_dict"):
        listed = [_comparable(column, item) for item in _as_list(value)]
        inside = pd.Series(values).isin(listed).to_numpy(dtype=bool)
        present = ~np.asarray(pd.isna(values), dtype=bool)
        chosen = inside if key == "filter_in_dict" else ~inside
        return np.asarray(chosen & present, dtype=bool)
    compare = _COMPARISONS[key]
    outcome = compare(pd.Series(values), _comparable(column, value))
    return pd.Series(outcome).fillna(False).to_numpy(dtype=bool)


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple, np.ndarray)):
        return list(value)
    return [value]


def _comparable(column: Column, value: Any) -> Any:
    if column.kind is ColumnKind.DATETIME and value is not None:
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert(UTC).tz_localize(None)
        return stamp
    return value


def _inside_box(table: QueryTable, rows: Index, column: Column, box: Any) -> npt.NDArray[np.bool_]:
    corners = np.array(box)
    if corners.shape != (2, 3):
        raise ValueError(f"bounding box {box!r} is not [[min_x, min_y, min_z], [max_x, max_y, max_z]]")
    if not (corners[0] < corners[1]).all():
        raise ValueError(f"min bounds: {corners[0]} must be less than max bounds: {corners[1]}")
    if column.kind is not ColumnKind.POSITION:
        raise ValueError(f"function st_3dintersects does not exist for column {column.name}")
    points = table.take_positions(column.name, rows)
    return np.asarray(np.all((points >= corners[0]) & (points <= corners[1]), axis=1), dtype=bool)


def join(
    selection: Selection,
    left_table: str,
    left_column: str,
    right: QueryTable,
    right_rows: Index,
    right_column: str,
) -> Selection:
    """Inner join of the selection with ``right`` on ``left_table.left_column == right_column``."""
    index, table = selection.table(left_table)
    left_values = pd.array(table.take(left_column, selection.rows[index]))
    right_values = pd.array(right.take(right_column, right_rows))
    left = pd.DataFrame({"key": left_values, "left": np.arange(len(left_values))})
    right_frame = pd.DataFrame({"key": right_values, "right": right_rows})
    paired = left.dropna().merge(right_frame.dropna(), on="key", how="inner", sort=False)
    keep = paired["left"].to_numpy(dtype=np.int64)
    return Selection(
        [*selection.tables, right],
        [*(rows[keep] for rows in selection.rows), paired["right"].to_numpy(dtype=np.int64)],
    )


# -- building the answer -----------------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    """What to return: model columns per table (in table order) and suffixes for clashes."""

    columns: dict[str, list[str]]
    suffixes: Mapping[str, str | None] = field(default_factory=dict)


def result_frame(
    selection: Selection,
    projection: Projection,
    desired_resolution: Sequence[float] | None,
    *,
    typed: bool,
) -> tuple[pd.DataFrame, dict[str, dict[str, str]]]:
    """The result frame and the ``column_names`` map (table → model column → frame column)."""
    counts: dict[str, int] = {}
    for names in projection.columns.values():
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    data: dict[str, Any] = {}
    column_names: dict[str, dict[str, str]] = {}
    for number, (table_name, names) in enumerate(projection.columns.items()):
        index, table = selection.table(table_name)
        rows = selection.rows[index]
        suffix = projection.suffixes.get(table_name)
        if suffix is None:
            suffix = DEFAULT_SUFFIXES[number]
        ratio = _voxel_ratio(table.voxel_resolution, desired_resolution)
        column_names[table_name] = {}
        for name in names:
            column = table.column(name)
            label = name + suffix if counts[name] > 1 else name
            column_names[table_name][name] = label
            if column.kind is ColumnKind.POSITION:
                points = table.take_positions(name, rows)
                for axis, values in zip(AXES, _position_columns(points, ratio, typed), strict=True):
                    data[f"{label}_{axis}"] = values
            else:
                data[label] = _typed_values(column, table.take(name, rows), typed)
    return pd.DataFrame(data), column_names


def count_frame(count: int) -> pd.DataFrame:
    return pd.DataFrame({"count": np.array([count], dtype=np.int64)})


def _voxel_ratio(
    voxel_resolution: npt.NDArray[np.float64], desired: Sequence[float] | None
) -> npt.NDArray[np.float64] | None:
    if desired is None:
        return None
    ratio: npt.NDArray[np.float64] = voxel_resolution / np.asarray(desired, dtype=np.float64)
    return None if np.all(ratio == 1) else ratio


def _position_columns(
    points: npt.NDArray[np.float64], ratio: npt.NDArray[np.float64] | None, typed: bool
) -> list[Any]:
    # The server casts each coordinate to INTEGER, then scales it by the resolution ratio.
    missing = np.isnan(points)
    whole = np.rint(np.where(missing, 0.0, points))
    columns: list[Any] = []
    for axis in range(3):
        if ratio is None:
            values = whole[:, axis].astype(np.int64)
            if typed:
                columns.append(pd.arrays.IntegerArray(values.astype(np.int32), missing[:, axis]))
            elif missing[:, axis].any():
                columns.append(np.where(missing[:, axis], np.nan, values.astype(np.float64)))
            else:
                columns.append(values)
        else:
            scaled = whole[:, axis] * ratio[axis]
            if typed:
                columns.append(pd.arrays.FloatingArray(scaled, missing[:, axis]))
            else:
                columns.append(np.where(missing[:, axis], np.nan, scaled))
    return columns


def _typed_values(column: Column, values: Any, typed: bool) -> Any:
    kind = column.kind
    if kind is ColumnKind.DATETIME:
        stamps = pd.DatetimeIndex(pd.array(values, dtype="datetime64[ns]"))
        return pd.Series(stamps.tz_localize(UTC)).astype("datetime64[ns, UTC]").array
    if typed:
        if kind is ColumnKind.STRING:
            return pd.array(values, dtype=pd.StringDtype("python"))
        return pd.array(values, dtype=_TYPED_DTYPES[kind])
    return _csv_values(kind, pd.array(values))


def _csv_values(kind: ColumnKind, values: Any) -> Any:
    """Values as the legacy CSV path reads them: NaN for nulls, booleans as 't'/'f'."""
    missing = np.asarray(pd.isna(values), dtype=bool)
    if kind in (ColumnKind.BIGINT, ColumnKind.INTEGER):
        if missing.any():
            return np.asarray(values.to_numpy(dtype=np.float64, na_value=np.nan))
        return np.asarray(values.to_numpy(dtype=np.int64))
    if kind in (ColumnKind.FLOAT, ColumnKind.DOUBLE):
        return np.asarray(values.to_numpy(dtype=np.float64, na_value=np.nan))
    if kind is ColumnKind.BOOLEAN:
        flags = np.where(values.to_numpy(dtype=bool, na_value=False), "t", "f").astype(object)
        flags[missing] = np.nan
        return flags
    strings = values.to_numpy(dtype=object, na_value=np.nan)
    return np.asarray(strings, dtype=object)
