"""Exact answers for queries with exclusion filters (`filter_out_dict`).

MaterializationEngine 5.26.4 accepts `filter_notin_dict` but reads its exclusions under another key,
so it returns the excluded rows; a server that honours them returns fewer. Either way the client makes
the answer exact:

- rows: excluded rows are removed from what the server returns. Exclusion columns left out by
  `select_columns` are asked for anyway and dropped again afterwards. A column that still does not
  come back is an UnexpectedResponseError, never a silently unfiltered answer.
- `limit`: when removing rows leaves fewer than asked for and the server's answer was full, the
  query is sent again with a larger limit (each answer is used whole; the server orders nothing,
  so pages of one query would not be disjoint) until the limit is met or the answer holds every
  matching row. When the server's row cap (`QUERY_LIMIT_SIZE`) stops that, the rows are collected
  by windows of an integer key small enough to come back whole: `id` of the table or view, of a
  join's first table (a window holds every joined row of its ids), then of the next joined table
  within one value of the previous key that holds more rows than the cap (the server's joins are
  inner: every joined row has each table's `id`). A limit above the cap gives as
  many rows as the cap, as without exclusions. The rows of a view's `id` windows must add up to
  the server's count of the view when they run out short of the limit (a null `id` is in no
  window). Queries without such a key (a view without an integer `id`) or with `random_sample`
  (each window would be a sample of its own) raise ServerIncompatibilityError instead.
- `get_counts`: count(every other filter) minus count(rows matching an exclusion), the second by
  inclusion-exclusion over the excluded columns (each a count with the excluded values as an
  inclusion filter), all sent without the exclusion so the server's handling of it cannot matter.
- `offset` with exclusions is refused before any request: skipping N rows then excluding others
  needs an order the server does not give (its offset pages are not ordered).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import TYPE_CHECKING, Any

from .._http.plan import Plan
from ..errors import InvalidInputError, ServerIncompatibilityError, UnexpectedResponseError
from .frames import QueryHeaders
from .partitions import KEY_END, KEY_LOWEST
from .query_filters import QueryFilters, result_column

if TYPE_CHECKING:
    import pandas as pd

Records = list[dict[str, Any]]

EXCLUSION_PARAMETER = "filter_out_dict"
EXCLUSION_BODY_KEY = "filter_notin_dict"
MAX_EXCLUDED_COLUMNS_COUNTED = 6
"""Counting by inclusion-exclusion sends 2**k - 1 extra counts for k excluded columns."""
MAX_ROUNDS = 40
"""Bound on the re-sends of one limited query (the limit at least doubles each round)."""

_LIMIT_WARNINGS = (
    re.compile(r"Limited query to (\d+) rows"),
    re.compile(r"than limit of (\d+)"),
)


def exclusions(filters: QueryFilters) -> list[tuple[str, str, list[Any]]]:
    """(table, column, excluded values) of every exclusion filter."""
    by_table = filters.by_parameter.get(EXCLUSION_PARAMETER) or {}
    return [
        (table, column, list(values))
        for table, columns in by_table.items()
        for column, values in columns.items()
    ]


def check_exclusion_options(
    filters: QueryFilters,
    *,
    offset: int | None,
    get_counts: bool = False,
    random_sample: int | None = None,
) -> None:
    """Refuse, before any request, the combinations with exclusions that cannot be answered exactly."""
    excluded = exclusions(filters)
    if not excluded:
        return
    if offset:
        raise InvalidInputError(
            "offset",
            "cannot be combined with filter_out_dict: the server does not apply exclusion filters "
            "and does not order its rows, so which rows an offset skips after excluding others is "
            "undefined (page by ranges of 'id' with filter_greater_equal_dict/filter_less_dict)",
        )
    if get_counts and random_sample is not None:
        raise InvalidInputError(
            "random_sample",
            "cannot be combined with get_counts and filter_out_dict: the count is computed from "
            "several counts, each of its own random sample",
        )
    if get_counts and len(excluded) > MAX_EXCLUDED_COLUMNS_COUNTED:
        raise InvalidInputError(
            EXCLUSION_PARAMETER,
            f"counting with exclusions on {len(excluded)} columns would take "
            f"{2 ** len(excluded)} counts; at most {MAX_EXCLUDED_COLUMNS_COUNTED} columns",
        )


# ---------------------------------------------------------------- columns the exclusions need


def widen_select(select: Any, filters: QueryFilters) -> tuple[Any, dict[str, list[str]]]:
    """`select_columns` with the exclusion columns it lacks, and the columns to drop afterwards.

    A list names the columns of the query's single table; a dict names them by table. Servers
    return a `<pt>_supervoxel_id` column with a selected `<pt>_root_id`: it is dropped too.
    """
    added: dict[str, list[str]] = {}
    if isinstance(select, list):
        chosen: dict[str, list[str]] = {
            table: select for table, _, _ in exclusions(filters) if filters.single_table in (None, table)
        }
    elif isinstance(select, Mapping):
        chosen = {table: list(columns) for table, columns in select.items()}
    else:
        return select, added
    for table, column, _ in exclusions(filters):
        if table not in chosen or column in chosen[table] or column in added.get(table, []):
            continue
        added.setdefault(table, []).append(column)
        if column.endswith("_root_id"):
            companion = column[: -len("root_id")] + "supervoxel_id"
            if companion not in chosen[table]:
                added[table].append(companion)
    if isinstance(select, list):
        extra = [c for columns in added.values() for c in columns if not c.endswith("supervoxel_id")]
        return list(select) + list(dict.fromkeys(c for c in extra if c not in select)), added
    widened = {table: list(columns) for table, columns in select.items()}
    for table, columns in added.items():
        widened[table] += [c for c in columns if c in _excluded_columns(filters, table)]
    return widened, added


def _excluded_columns(filters: QueryFilters, table: str) -> list[str]:
    return [column for name, column, _ in exclusions(filters) if name == table]


def _tests(
    filters: QueryFilters, column_names: Mapping[str, Mapping[str, str]]
) -> list[tuple[str, list[Any]]]:
    return [
        (result_column(table, column, column_names), values)
        for table, column, values in exclusions(filters)
    ]


def apply_exclusions(
    rows: pd.DataFrame | Records,
    filters: QueryFilters,
    column_names: Mapping[str, Mapping[str, str]],
    added: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame | Records:
    """Rows matching an exclusion removed, then the columns added for it dropped.

    Raises UnexpectedResponseError when a row set lacks an exclusion column (it cannot be applied).
    """
    tests = _tests(filters, column_names)
    if not tests:
        return rows
    dropped = [
        result_column(table, column, column_names)
        for table, columns in (added or {}).items()
        for column in columns
    ]
    if isinstance(rows, list):
        if not rows:
            return rows
        for name, _ in tests:
            if name not in rows[0]:
                raise _missing(name)
        sets = [(name, set(values)) for name, values in tests]
        kept = [row for row in rows if not any(row.get(name) in values for name, values in sets)]
        if dropped:
            kept = [{k: v for k, v in row.items() if k not in dropped} for row in kept]
        return kept
    import numpy as np

    frame = rows
    keep = np.ones(len(frame), dtype=bool)
    for name, values in tests:
        if name not in frame.columns:
            raise _missing(name)
        keep &= ~frame[name].isin(values).to_numpy(dtype=bool, na_value=False)
    if not keep.all():
        attrs = dict(frame.attrs)
        frame = frame.loc[keep].reset_index(drop=True)
        frame.attrs.update(attrs)
    if dropped:
        frame = frame.drop(columns=[name for name in dropped if name in frame.columns])
    return frame


def _missing(name: str) -> UnexpectedResponseError:
    return UnexpectedResponseError(
        f"the query answer has no column {name!r}, so the exclusion filter on it cannot be "
        "applied (the server does not apply exclusions itself)"
    )


# ---------------------------------------------------------------- limits


@dataclass(frozen=True)
class Batch:
    """One answer, exclusions applied: the rows kept, how many the server sent, its headers."""

    rows: Any
    """A DataFrame or a list of records."""
    received: int
    headers: QueryHeaders


def limit_warning_value(message: str) -> int | None:
    """The row limit a server warning about a cut answer names (None for other warnings)."""
    for pattern in _LIMIT_WARNINGS:
        found = pattern.search(message)
        if found:
            return int(found.group(1))
    return None


def is_complete(received: int, requested: int, warnings: Sequence[str]) -> bool:
    """Whether an answer to a query limited to `requested` rows holds every matching row."""
    if received >= requested:
        return False
    return not any(
        (value := limit_warning_value(message)) is not None and value <= received for message in warnings
    )


WindowFetch = Callable[[Sequence[tuple[int, int]], int], Plan[Batch]]
"""fetch(ranges, n): the query restricted to low <= key < high for the first len(ranges) keys,
limited to n rows."""
MAX_WINDOWS = 10_000
RANDOM_SAMPLE_NO_WINDOWS = (
    "each request draws its own random sample, so samples of ranges of the key would not add up "
    "to one sample"
)


@dataclass(frozen=True)
class KeyWindows:
    """How to collect a query's rows by ranges of integer keys, each range small enough for the
    server to answer whole: a table's or a view's `id`; for joins, each table's `id` in turn (the
    next key splits the rows that share one value of the previous, as one row of a join's first
    table may match many of the second)."""

    fetch: WindowFetch
    keys: Sequence[str]
    """Each key as `table.column`, for messages."""
    bounds: Sequence[tuple[int, int]]
    """The values of each key the query's own filters allow (low <= key < high)."""
    total: Callable[[], Plan[int]] | None = None
    """The server's count of the rows the windows must receive between them (the query without
    limit). Given where some rows may lack an integer key (a view's `id` may be null): when the
    windows run out with fewer rows than the limit, their rows must add up to it."""


def fetch_until_limit(
    fetch: Callable[[int], Plan[Batch]],
    limit: int,
    *,
    parameter: str = EXCLUSION_PARAMETER,
    windows: KeyWindows | None = None,
    no_windows: str = "",
) -> Plan[Batch]:
    """`limit` rows that pass the client-side filters (or all of them, if there are fewer).

    `fetch(n)` sends the query limited to n rows and returns what passed. The limit grows (at least
    doubling, guided by the share of rows kept) until enough rows pass or the answer is complete.
    When the server's row cap stops that, `windows` collects the rows by ranges of a key instead;
    without them the query is refused (`no_windows` says why they are missing). Limit warnings of
    the enlarged requests are replaced by one about `limit` when rows were cut.
    """
    requested = limit
    for _ in range(MAX_ROUNDS):
        batch = yield from fetch(requested)
        kept = len(batch.rows)
        complete = is_complete(batch.received, requested, batch.headers.warnings)
        if kept >= limit or complete:
            more = kept > limit or (kept == limit and not complete)
            return _trimmed(batch, limit, cut=more)
        cap = _cap(batch, requested)
        if cap is not None and kept >= cap:
            # Nothing was removed from a capped answer: it is the answer without exclusions.
            return _trimmed(batch, cap, cut=True)
        if cap is not None and windows is not None:
            # Asked for more than the server ever returns: as many as it would, exactly.
            return (yield from fetch_by_key_windows(windows, min(limit, cap), cap, parameter))
        if cap is not None:
            raise ServerIncompatibilityError(
                f"{parameter}: after removing the rows it excludes from the {batch.received} rows "
                f"the server returns at most (its row limit), {kept} of the "
                f"{min(limit, cap)} rows asked for remain, and the rest cannot be collected exactly"
                f"{' (' + no_windows + ')' if no_windows else ''}; narrow the query with other "
                "filters (e.g. ranges of 'id') to get an exact answer"
            )
        share = kept / batch.received if batch.received else 0.0
        estimate = int(limit / share * 1.25) + 1 if share > 0 else 0
        requested = max(2 * requested, estimate)
    raise ServerIncompatibilityError(
        f"{parameter}: {limit} rows could not be collected in {MAX_ROUNDS} requests"
    )


@dataclass
class _Collected:
    parts: list[Any] = field(default_factory=list)
    kept: int = 0
    received: int = 0
    last: Batch | None = None
    exhausted: bool = False

    def add(self, other: _Collected) -> None:
        self.parts += other.parts
        self.kept += other.kept
        self.received += other.received
        self.last = other.last or self.last


def fetch_by_key_windows(windows: KeyWindows, limit: int, cap: int, parameter: str) -> Plan[Batch]:
    """`limit` passing rows collected from ranges of the keys small enough to come back whole."""
    budget = [MAX_WINDOWS]
    collected = yield from _collect(windows, (), limit, cap, parameter, budget)
    if collected.exhausted and collected.kept < limit and windows.total is not None:
        expected = yield from windows.total()
        if expected != collected.received:
            key = windows.keys[0]
            raise ServerIncompatibilityError(
                f"{parameter}: the server counts {expected} rows for the query but its ranges of "
                f"{key} hold {collected.received} (rows whose {key} is null or not an integer are "
                "in none of them); the exclusions cannot be applied exactly past the server's row "
                "limit"
            )
    if collected.last is None:
        raise ServerIncompatibilityError(f"{parameter}: the query allows no value of {windows.keys[0]}")
    rows = _joined(collected.parts)
    cut = len(rows) > limit or (len(rows) == limit and not collected.exhausted)
    return _trimmed(replace(collected.last, rows=rows, received=len(rows)), limit, cut=cut)


def _collect(
    windows: KeyWindows,
    fixed: tuple[tuple[int, int], ...],
    limit: int,
    cap: int,
    parameter: str,
    budget: list[int],
) -> Plan[_Collected]:
    """The passing rows of one key's ranges (the coarser keys held at `fixed`), until `limit` of
    them or the key's values run out.

    A window answered with fewer rows than the cap holds every row of its range; a full one is
    halved and asked again, down to one value, whose rows the next key splits; sparse windows
    double and empty ones grow sixteenfold. Negative values (none in annotation tables) get
    windows of their own, so the windows of the usual positive ids start at 0 with the cap's width.
    """
    level = len(fixed)
    low, end = windows.bounds[level]
    width = cap if low >= 0 else -low
    collected = _Collected()
    while True:
        if low >= end:
            collected.exhausted = True
            return collected
        if collected.kept >= limit:
            return collected
        if budget[0] <= 0:
            raise ServerIncompatibilityError(
                f"{parameter}: {limit} rows could not be collected in {MAX_WINDOWS} requests"
            )
        budget[0] -= 1
        high = min(low + width, end)
        if low < 0 < high:
            high = 0
        batch = yield from windows.fetch((*fixed, (low, high)), cap)
        if not is_complete(batch.received, cap, batch.headers.warnings):
            if high - low > 1:
                width = max(1, (high - low) // 2)
                continue
            if level + 1 == len(windows.keys):
                keys = ", ".join(windows.keys[: level + 1])
                values = ", ".join(str(a) for a, _ in (*fixed, (low, high)))
                raise ServerIncompatibilityError(
                    f"{parameter}: more than {cap - 1} rows of the answer share one value of "
                    f"{keys} ({values}), the key the rows are collected by past the server's row "
                    "limit; the exclusions cannot be applied exactly"
                )
            inner = yield from _collect(
                windows, (*fixed, (low, high)), limit - collected.kept, cap, parameter, budget
            )
            collected.add(inner)
            low, width = high, 1
            continue
        collected.add(_Collected([batch.rows], len(batch.rows), batch.received, batch))
        low = high
        if high == 0:
            width = cap
        elif batch.received == 0:
            width = min(width * 16, KEY_END)  # past the keys (or a gap in them): widen fast
        elif batch.received < cap // 4:
            width = min(width * 2, KEY_END)


def _joined(parts: list[Any]) -> Any:
    if all(isinstance(part, list) for part in parts):
        return [row for part in parts for row in part]
    import pandas as pd

    frames = [part for part in parts if len(part)] or parts[:1]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


def key_window_body(
    body: Mapping[str, Any], table: str, low: int, high: int, column: str = "id"
) -> dict[str, Any]:
    """A query body further restricted to `low <= column < high` on `table` (the user's bounds
    kept; the extreme ends of int64 send no bound)."""
    bounded = dict(body)
    for key, value, unbounded, tighter in (
        ("filter_greater_equal_dict", low, KEY_LOWEST, max),
        ("filter_less_dict", high, KEY_END, min),
    ):
        if value == unbounded:
            continue
        tables = {name: dict(columns) for name, columns in (body.get(key) or {}).items()}
        columns = tables.setdefault(table, {})
        columns[column] = tighter(columns[column], value) if column in columns else value
        bounded[key] = tables
    return bounded


def _cap(batch: Batch, requested: int) -> int | None:
    for message in batch.headers.warnings:
        value = limit_warning_value(message)
        if value is not None and value < requested:
            return value
    return None


def _trimmed(batch: Batch, limit: int, *, cut: bool) -> Batch:
    rows = batch.rows
    if len(rows) > limit:
        if isinstance(rows, list):
            rows = rows[:limit]
        else:
            attrs = dict(rows.attrs)
            rows = rows.iloc[:limit]
            rows.attrs.update(attrs)
    warnings = [m for m in batch.headers.warnings if limit_warning_value(m) is None]
    if cut:
        warnings.append(f'201 - "Limited query to {limit} rows')
    return replace(batch, rows=rows, headers=replace(batch.headers, warnings=tuple(warnings)))


# ---------------------------------------------------------------- counts


def count_bodies(body: Mapping[str, Any], filters: QueryFilters) -> Iterator[tuple[int, dict[str, Any]]]:
    """(sign, body) of the counts whose signed sum is the exact count.

    The first counts every row matching the other filters; each further one the rows matching a
    set of exclusions at once (inclusion-exclusion). Sets whose values cannot meet (an inclusion
    filter on the same column without common values) count zero and are not sent.
    """
    base = {k: v for k, v in body.items() if k not in (EXCLUSION_BODY_KEY, "offset", "limit")}
    yield 1, base
    excluded = exclusions(filters)
    for size in range(1, len(excluded) + 1):
        sign = -1 if size % 2 else 1
        for chosen in combinations(excluded, size):
            combined = _with_inclusions(base, chosen)
            if combined is not None:
                yield sign, combined


def _with_inclusions(
    base: Mapping[str, Any], chosen: Sequence[tuple[str, str, list[Any]]]
) -> dict[str, Any] | None:
    inclusions = {table: dict(columns) for table, columns in (base.get("filter_in_dict") or {}).items()}
    for table, column, values in chosen:
        columns = inclusions.setdefault(table, {})
        wanted = values
        if column in columns:
            excluded = set(values)
            wanted = [value for value in columns[column] if value in excluded]
        if not wanted:
            return None
        columns[column] = wanted
    return {**base, "filter_in_dict": inclusions}


def count_of(rows: pd.DataFrame | Records) -> int:
    """The number a count answer holds (one row, one `count` column)."""
    if isinstance(rows, list):
        values = [row.get("count") for row in rows]
    else:
        values = rows["count"].tolist() if "count" in rows.columns else []
    if len(values) != 1 or isinstance(values[0], bool) or not isinstance(values[0], int):
        raise UnexpectedResponseError(f"a count query answered {values!r}, not one integer count")
    return int(values[0])


def with_count(rows: pd.DataFrame | Records, count: int) -> pd.DataFrame | Records:
    """A count answer holding `count` instead of its own number."""
    if isinstance(rows, list):
        return [{**rows[0], "count": count}]
    frame = rows.copy()
    frame["count"] = [count]
    return frame
