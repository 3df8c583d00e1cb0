"""Filters of materialization queries: checked before sending, turned into the server's body, and
re-applied client-side where the server cannot be trusted with them (exclusions: `exclusions.py`).

A query takes nine filter dictionaries (caveclient's names). Single-table queries take
`{column: value}`; joins and server-side live queries take `{table: {column: value}}`. Values are
checked by kind (a list for in/out filters, one value for comparisons, a 2x3 box for spatial filters, a
string for regular expressions), converted to plain JSON values (numpy integers exactly, aware datetimes
as ISO strings) and refused with an InvalidInputError naming the parameter when they cannot be sent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from .._convert.values import as_utc, holds_bool
from ..errors import InvalidInputError
from .schema_columns import TableColumns

if TYPE_CHECKING:
    import pandas as pd

ListKind = "list"
ScalarKind = "scalar"
BoxKind = "box"
PatternKind = "pattern"


@dataclass(frozen=True)
class FilterKind:
    parameter: str
    """caveclient's parameter name."""
    body_key: str
    """The key of the server's request body."""
    attrs_key: str
    """The key under `df.attrs["filters"]` (caveclient's)."""
    value: str
    """ListKind, ScalarKind, BoxKind or PatternKind."""


FILTER_KINDS: tuple[FilterKind, ...] = (
    FilterKind("filter_in_dict", "filter_in_dict", "inclusive", ListKind),
    # The server's schema names the exclusion filter filter_notin_dict (caveclient's filter_out_dict).
    FilterKind("filter_out_dict", "filter_notin_dict", "exclusive", ListKind),
    FilterKind("filter_equal_dict", "filter_equal_dict", "equal", ScalarKind),
    FilterKind("filter_greater_dict", "filter_greater_dict", "greater", ScalarKind),
    FilterKind("filter_less_dict", "filter_less_dict", "less", ScalarKind),
    FilterKind("filter_greater_equal_dict", "filter_greater_equal_dict", "greater_equal", ScalarKind),
    FilterKind("filter_less_equal_dict", "filter_less_equal_dict", "less_equal", ScalarKind),
    FilterKind("filter_spatial_dict", "filter_spatial_dict", "spatial", BoxKind),
    FilterKind("filter_regex_dict", "filter_regex_dict", "regex", PatternKind),
)
KIND_BY_PARAMETER = {kind.parameter: kind for kind in FILTER_KINDS}


def filter_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """The filter dictionaries among a method's arguments (pass it `locals()`), by parameter name."""
    return {kind.parameter: arguments[kind.parameter] for kind in FILTER_KINDS}


INEQUALITY_OPERATORS = {
    "<": "filter_less_dict",
    ">": "filter_greater_dict",
    "<=": "filter_less_equal_dict",
    ">=": "filter_greater_equal_dict",
}

TableFilters = dict[str, dict[str, Any]]
"""table -> column -> value"""


class SharedList(list[Any]):
    """A list that deep copies as itself.

    pandas deep-copies `df.attrs` on every operation; a filter of a million ids recorded there would
    make each `df[mask]` take a second. Filter lists are only ever read, so copies share them.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedList:
        return self


@dataclass
class QueryFilters:
    """The checked filters of one query, always keyed by table, then column."""

    by_parameter: dict[str, TableFilters]
    single_table: str | None
    """The table the user's flat dicts were given for (single-table queries), else None."""

    def body(self) -> dict[str, TableFilters]:
        """The filter part of the server's request body."""
        return {
            KIND_BY_PARAMETER[parameter].body_key: tables
            for parameter, tables in self.by_parameter.items()
            if tables
        }

    def get(self, parameter: str, table: str) -> dict[str, Any]:
        return self.by_parameter.get(parameter, {}).get(table, {})

    def tables(self) -> set[str]:
        return {table for tables in self.by_parameter.values() for table in tables}

    def attrs(self) -> dict[str, Any]:
        """The filters as caveclient records them in `df.attrs["filters"]` (JSON-compatible)."""
        recorded: dict[str, Any] = {}
        for kind in FILTER_KINDS:
            tables = {
                table: {column: _shared(value) for column, value in columns.items()}
                for table, columns in (self.by_parameter.get(kind.parameter) or {}).items()
            }
            if not tables:
                recorded[kind.attrs_key] = None
            elif self.single_table is not None:
                recorded[kind.attrs_key] = tables.get(self.single_table)
            else:
                recorded[kind.attrs_key] = tables
        return recorded

    def flat(self, parameter: str) -> dict[str, Any] | None:
        """A single-table query's filter of one kind, as the flat dict the user gave."""
        if self.single_table is None:
            return None
        return self.by_parameter.get(parameter, {}).get(self.single_table) or None


def _shared(value: Any) -> Any:
    return SharedList(value) if isinstance(value, list) else value


def single_table_filters(table: str, filters: Mapping[str, Any]) -> QueryFilters:
    """Checked filters of a single-table query: `filters` maps each parameter to {column: value}."""
    checked: dict[str, TableFilters] = {}
    for parameter, columns in filters.items():
        if columns is None:
            continue
        kind = KIND_BY_PARAMETER[parameter]
        checked[parameter] = {table: check_columns(kind, columns, parameter)}
    return QueryFilters(checked, table)


def table_keyed_filters(tables: Iterable[str], filters: Mapping[str, Any]) -> QueryFilters:
    """Checked filters of a join or live query: each parameter maps table -> {column: value}."""
    allowed = list(dict.fromkeys(tables))
    checked: dict[str, TableFilters] = {}
    for parameter, by_table in filters.items():
        if by_table is None:
            continue
        kind = KIND_BY_PARAMETER[parameter]
        if not isinstance(by_table, Mapping):
            raise InvalidInputError(
                parameter,
                f"must map table names to {{column: value}} dicts, not {type(by_table).__name__}",
            )
        checked_tables: TableFilters = {}
        for table, columns in by_table.items():
            if table not in allowed:
                raise InvalidInputError(
                    parameter, f"names table {table!r}, which is not part of this query {allowed}"
                )
            checked_tables[str(table)] = check_columns(kind, columns, f"{parameter}[{table!r}]")
        checked[parameter] = checked_tables
    return QueryFilters(checked, None)


def check_columns(kind: FilterKind, columns: Any, parameter: str) -> dict[str, Any]:
    if not isinstance(columns, Mapping):
        raise InvalidInputError(
            parameter, f"must be a dict of column name -> value, not {type(columns).__name__}"
        )
    checked: dict[str, Any] = {}
    for column, value in columns.items():
        if not isinstance(column, str) or not column:
            raise InvalidInputError(parameter, f"column names must be strings, not {column!r}")
        checked[column] = check_value(kind, value, f"{parameter}[{column!r}]")
    return checked


def check_value(kind: FilterKind, value: Any, where: str) -> Any:
    if kind.value == ListKind:
        return value_list(value, where)
    if kind.value == ScalarKind:
        return scalar(value, where)
    if kind.value == BoxKind:
        return bounding_box(value, where)
    if not isinstance(value, str):
        raise InvalidInputError(
            where, f"must be a regular expression string, not {type(value).__name__}"
        )
    return value


def scalar(value: Any, where: str) -> Any:
    """One filter value as plain JSON: bool, int (exact), finite float, str, or aware ISO timestamp."""
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(where, f"{value} cannot be compared with (not a finite number)")
        return value
    if isinstance(value, datetime) or type(value).__name__ == "Timestamp":
        moment = as_utc(where, value)
        assert moment is not None
        return moment.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 0) == 0 and type(value).__module__ == "numpy":
        return scalar(item(), where)
    if isinstance(value, Mapping):
        operators = ", ".join(repr(key) for key in value)
        raise InvalidInputError(
            where,
            f"is a dict ({operators}); comparisons take one value per column "
            "(use filter_greater_dict, filter_less_dict, ... for inequalities)",
        )
    if _is_list_like(value):
        raise InvalidInputError(where, "takes one value; use filter_in_dict for a list of values")
    raise InvalidInputError(where, f"cannot filter on a {type(value).__name__}")


def value_list(value: Any, where: str) -> list[Any]:
    """A list of filter values as plain JSON values (numpy arrays converted at C speed)."""
    if isinstance(value, str | bytes | Mapping) or not _is_list_like(value):
        raise InvalidInputError(
            where, f"needs a list of values, not {type(value).__name__} (use filter_equal_dict for one)"
        )
    to_numpy = getattr(value, "to_numpy", None)
    array = to_numpy() if callable(to_numpy) else value
    kind = getattr(getattr(array, "dtype", None), "kind", "O")
    if kind in "iub":
        return list(array.tolist())
    if kind == "f":
        values = array.tolist()
        if not all(math.isfinite(v) for v in values):
            raise InvalidInputError(where, "holds NaN or infinite values, which match nothing")
        return list(values)
    return [scalar(item, where) for item in array]


def bounding_box(value: Any, where: str) -> list[list[float | int]]:
    """[[min_x, min_y, min_z], [max_x, max_y, max_z]] of finite numbers."""
    import numpy as np

    if holds_bool(value):
        raise InvalidInputError(where, "holds a bool (True/False), not a coordinate")
    try:
        box = np.asarray(value)
    except (ValueError, TypeError):
        box = np.asarray([])
    if box.shape != (2, 3) or box.dtype.kind not in "iuf":
        raise InvalidInputError(
            where, "must be a bounding box [[min_x, min_y, min_z], [max_x, max_y, max_z]]"
        )
    if box.dtype.kind == "f" and not np.isfinite(box).all():
        raise InvalidInputError(where, "holds NaN or infinite coordinates")
    if (box[0] > box[1]).any():
        raise InvalidInputError(where, "the first corner must be the minimum and the second the maximum")
    return [list(row) for row in box.tolist()]


def _is_list_like(value: Any) -> bool:
    return not isinstance(value, str | bytes) and hasattr(value, "__len__")


# ---------------------------------------------------------------- checks against the table


def check_known_columns(filters: QueryFilters, known: Mapping[str, TableColumns]) -> None:
    """Refuse filters on columns a table does not have, or spatial filters on non-position columns.

    Tables absent from `known` are not checked (their columns are not known without a request).
    """
    for parameter, tables in filters.by_parameter.items():
        for table, columns in tables.items():
            info = known.get(table)
            if info is None:
                continue
            where = parameter if filters.single_table else f"{parameter}[{table!r}]"
            for column in columns:
                if column not in info.kinds:
                    raise InvalidInputError(
                        where,
                        f"table {table!r} has no column {column!r}; "
                        f"its columns are {sorted(info.names)}",
                    )
                if parameter == "filter_spatial_dict" and info.kinds[column] != "position":
                    raise InvalidInputError(
                        where,
                        f"{column!r} is not a position column of {table!r}; "
                        f"spatial filters take one of {sorted(info.position_columns)}",
                    )


# ---------------------------------------------------------------- applying filters to results


def result_column(table: str, column: str, column_names: Mapping[str, Mapping[str, str]]) -> str:
    """The result column of a table's column (joins may add suffixes; the server's header says)."""
    return column_names.get(table, {}).get(column, column)


def keep_matching(frame: pd.DataFrame, filters: Mapping[str, Mapping[str, Any] | None]) -> pd.DataFrame:
    """Rows of a single-table result that satisfy the user's (flat) filters, applied client-side."""
    import numpy as np

    keep = np.ones(len(frame), dtype=bool)
    for parameter, columns in filters.items():
        for column, value in (columns or {}).items():
            if column not in frame.columns:
                continue
            series = frame[column]
            if parameter == "filter_in_dict":
                matches = series.isin(value)
            elif parameter == "filter_out_dict":
                matches = ~series.isin(value)
            elif parameter == "filter_equal_dict":
                matches = series == value
            elif parameter == "filter_greater_dict":
                matches = series > value
            elif parameter == "filter_less_dict":
                matches = series < value
            elif parameter == "filter_greater_equal_dict":
                matches = series >= value
            elif parameter == "filter_less_equal_dict":
                matches = series <= value
            else:
                continue
            keep &= matches.to_numpy(dtype=bool, na_value=False)
    if keep.all():
        return frame
    return frame.loc[keep]
