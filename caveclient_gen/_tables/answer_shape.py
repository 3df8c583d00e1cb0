"""Query answers checked against the columns their tables are known to have.

A well-formed answer of the wrong shape (another table's rows, a column of another type, a column
missing) must never become a result. When the client knows a table's columns (from its annotation
schema or view schema, fetched anyway to check filters), every column of a single-table answer must
be one of them, of a compatible type, and the columns asked for (or `id`) must be there. Position
columns may come split (`<pt>_position_x/_y/_z`) or whole. Types are checked loosely (an integer
column may come as floats when it holds nulls, a timestamp as text): only incompatible kinds are
refused. A join's columns are traced to their tables through the server's `column_names` header
(which names each table's result columns, suffixes included): every column must be one it names,
of a table of the query, and of a compatible type when that table's columns are known. Answers
whose shape the client cannot know (counts, views whose schema was not fetched, joins without the
header) are not checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import UnexpectedResponseError
from .schema_columns import ColumnKind, TableColumns

if TYPE_CHECKING:
    import pandas as pd

SPLIT_SUFFIXES = ("_x", "_y", "_z")


@dataclass(frozen=True)
class ExpectedColumns:
    """What an answer may hold: the columns of each table of the query (None: unknown)."""

    tables: Mapping[str, TableColumns | None]
    select: Sequence[str] | None = None
    """The columns asked for, of a single-table query (None: all of them)."""
    column_names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """The server's `column_names` header: table -> {column: result column}."""


def check_answer_columns(frame: pd.DataFrame, expected: ExpectedColumns, route: str) -> None:
    """Raise UnexpectedResponseError when an answer's columns cannot be its tables'."""
    if len(expected.tables) == 1:
        ((table, columns),) = expected.tables.items()
        if columns is not None:
            _check_single(frame, table, columns, expected.select, route)
        return
    if expected.column_names:
        _check_joined(frame, expected, route)


def _check_single(
    frame: pd.DataFrame, table: str, columns: TableColumns, select: Sequence[str] | None, route: str
) -> None:
    kinds = columns.kinds
    present: set[str] = set()
    for name in frame.columns:
        column = str(name)
        kind, base = _kind_of(column, kinds)
        if kind is None:
            raise UnexpectedResponseError(
                f"{route}: the answer has a column {column!r} that table {table!r} does "
                f"not have (its columns: {sorted(kinds)})"
            )
        present.add(base)
        _check_type(frame[name], kind, column, table, split=base != column, route=route)
    # Without a selection only `id` is required: a table made with an older version of its schema
    # lacks the fields added since.
    wanted = list(select) if select is not None else ["id"]
    missing = [column for column in wanted if column in kinds and column not in present]
    if missing:
        raise UnexpectedResponseError(
            f"{route}: the answer lacks the columns {missing} of table {table!r}"
        )


def _check_joined(frame: pd.DataFrame, expected: ExpectedColumns, route: str) -> None:
    strange = sorted(set(expected.column_names) - set(expected.tables))
    if strange:
        raise UnexpectedResponseError(
            f"{route}: the answer describes tables {strange}, which are not part of the query "
            f"{sorted(expected.tables)}"
        )
    by_result: dict[str, tuple[str, ColumnKind]] = {}
    for table, names in expected.column_names.items():
        known = expected.tables.get(table)
        for column, result in names.items():
            if known is not None and column not in known.kinds:
                raise UnexpectedResponseError(
                    f"{route}: the answer names a column {column!r} that table {table!r} does not "
                    f"have (its columns: {sorted(known.kinds)})"
                )
            kind: ColumnKind = known.kinds[column] if known is not None else "other"
            by_result[result] = (table, kind)
    for name in frame.columns:
        column = str(name)
        found = by_result.get(column)
        split = False
        if found is None and column.endswith(SPLIT_SUFFIXES) and column[:-2] in by_result:
            found, split = by_result[column[:-2]], True
        if found is None:
            raise UnexpectedResponseError(
                f"{route}: the answer has a column {column!r} that no table of the query has "
                "(by the server's own column_names header)"
            )
        table, kind = found
        if split and kind not in ("position", "other"):
            raise UnexpectedResponseError(
                f"{route}: the answer splits column {column[:-2]!r} of table {table!r}, which is "
                "not a position"
            )
        _check_type(frame[name], kind, column, table, split=split, route=route)


def _check_type(
    series: pd.Series[Any], kind: ColumnKind, column: str, table: str, *, split: bool, route: str
) -> None:
    if not _compatible(series, kind, split=split):
        raise UnexpectedResponseError(
            f"{route}: column {column!r} of table {table!r} should hold {kind} values, "
            f"not {series.dtype}"
        )


def _kind_of(column: str, kinds: dict[str, ColumnKind]) -> tuple[ColumnKind | None, str]:
    if column in kinds:
        return kinds[column], column
    if column.endswith(SPLIT_SUFFIXES) and kinds.get(column[:-2]) == "position":
        return "position", column[:-2]
    return None, column


def _compatible(series: pd.Series[Any], kind: ColumnKind, *, split: bool) -> bool:
    import pandas as pd

    if kind == "other" or bool(series.isna().all()):
        return True  # a column of nulls only (or no rows) has no type to check
    dtype = series.dtype
    letter = getattr(dtype, "kind", "O")
    if isinstance(dtype, pd.StringDtype | pd.CategoricalDtype):
        return kind in ("string", "datetime")
    if letter == "O":
        return _values_compatible(series.dropna(), kind, split=split)
    if kind in ("integer", "float", "position"):
        return letter in "iuf"
    if kind == "boolean":
        return letter in "biu"
    if kind == "datetime":
        return letter == "M"
    return kind != "string"


def _values_compatible(values: pd.Series[Any], kind: ColumnKind, *, split: bool) -> bool:
    """Whether the values of an object column (JSON answers, nulls mixed in) suit `kind`."""
    from datetime import date
    from numbers import Integral, Real

    import numpy as np

    sample = values.tolist()[:1000]
    if kind in ("string", "datetime"):
        return all(isinstance(value, str | date) for value in sample)
    if kind == "position" and not split:
        return True
    if kind == "boolean":
        return all(isinstance(value, bool | np.bool_ | Integral) for value in sample)
    return all(isinstance(value, Real) and not isinstance(value, bool | np.bool_) for value in sample)
