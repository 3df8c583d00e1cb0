"""Query answers checked against the columns their table is known to have.

A well-formed answer of the wrong shape (another table's rows, a column of another type, a column
missing) must never become a result. When the client knows the table's columns (from its annotation
schema or view schema, fetched anyway to check filters), every column of a single-table answer must
be one of them, of a compatible type, and the columns asked for (or `id`) must be there. Position columns
may come split (`<pt>_position_x/_y/_z`) or whole. Types are checked loosely (an integer column
may come as floats when it holds nulls, a timestamp as text): only incompatible kinds are refused.
Answers the client cannot know the shape of (joins, counts, views whose schema was not fetched)
are not checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import UnexpectedResponseError
from .schema_columns import ColumnKind, TableColumns

if TYPE_CHECKING:
    import pandas as pd

SPLIT_SUFFIXES = ("_x", "_y", "_z")


@dataclass(frozen=True)
class ExpectedColumns:
    """What a single-table answer may hold: the table's columns, and the selection if any."""

    table: str
    columns: TableColumns
    select: Sequence[str] | None = None
    """The columns asked for (None: all of them)."""


def check_answer_columns(frame: pd.DataFrame, expected: ExpectedColumns, route: str) -> None:
    """Raise UnexpectedResponseError when an answer's columns cannot be the table's."""
    kinds = expected.columns.kinds
    present: set[str] = set()
    for name in frame.columns:
        column = str(name)
        kind, base = _kind_of(column, kinds)
        if kind is None:
            raise UnexpectedResponseError(
                f"{route}: the answer has a column {column!r} that table {expected.table!r} does "
                f"not have (its columns: {sorted(kinds)})"
            )
        present.add(base)
        if not _compatible(frame[name], kind, split=base != column):
            raise UnexpectedResponseError(
                f"{route}: column {column!r} of table {expected.table!r} should hold {kind} "
                f"values, not {frame[name].dtype}"
            )
    # Without a selection only `id` is required: a table made with an older version of its schema
    # lacks the fields added since.
    wanted = list(expected.select) if expected.select is not None else ["id"]
    missing = [column for column in wanted if column in kinds and column not in present]
    if missing:
        raise UnexpectedResponseError(
            f"{route}: the answer lacks the columns {missing} of table {expected.table!r}"
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
